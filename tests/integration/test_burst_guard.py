"""The burst guard inside the enqueueing transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select

from notifier.flow.schedule import DailyDigest
from notifier.poll.detect import Cursor
from notifier.state import Outbox, OutboxEntry
from notifier.state.flow import FlowItem, digest_items, reminder_watch
from notifier.state.guard import BurstPolicy, GuardReport, route_batch
from notifier.state.schema import outbox

NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
ANN = "ann@example.org"


def entries(first: int, count: int, recipient: str = ANN) -> list[OutboxEntry]:
    item = FlowItem(1, "pending", '{"kind": "comment"}', watch=True)
    return [
        OutboxEntry(f"comment:{n}", recipient, "new_comment", n, f"<{n}@x>", b"x", flow=item)
        for n in range(first, first + count)
    ]


async def enqueue(box: Outbox, batch: list[OutboxEntry], version: int, policy: BurstPolicy) -> None:
    report = GuardReport()

    async def route(conn, items, at):  # type: ignore[no-untyped-def]
        return await route_batch(conn, box.dialect, items, at, policy, report)

    moved, _ = await box.commit_batch(
        "comments", Cursor(0, (), version), Cursor(0, (), version + 1), batch, NOW, route=route
    )
    assert moved


async def counts(box: Outbox) -> tuple[int, int, int]:
    async with box._engine.connect() as conn:
        mailed = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
        decided = (await conn.execute(select(func.count()).select_from(digest_items))).scalar_one()
        watched = (
            await conn.execute(select(func.count()).select_from(reminder_watch))
        ).scalar_one()
    return int(mailed), int(decided), int(watched)


async def test_the_same_events_routed_twice_are_decided_once(state_url: str) -> None:
    box = Outbox(state_url)
    await box.create()
    await box.init_cursor("comments", 0, NOW)
    policy = BurstPolicy(after=5, window=timedelta(minutes=10), daily={})
    try:
        await enqueue(box, entries(0, 8), 0, policy)
        assert await counts(box) == (5, 8, 8)
        # A re-read (a hold seen again after a crash) of the same events, and more.
        await enqueue(box, entries(0, 10), 1, policy)
        assert await counts(box) == (5, 10, 10)
    finally:
        await box.aclose()


async def test_a_daily_digest_moderator_is_never_mailed_one_by_one(state_url: str) -> None:
    box = Outbox(state_url)
    await box.create()
    await box.init_cursor("comments", 0, NOW)
    daily = {ANN: DailyDigest(ANN, time(8, 0), "Europe/London")}
    policy = BurstPolicy(after=5, window=timedelta(minutes=10), daily=daily, remind=False)
    try:
        await enqueue(box, entries(0, 3), 0, policy)
        await enqueue(box, entries(0, 3), 1, policy)
        # Nothing watched for reminders either: this policy has REMIND_AFTER=0.
        assert await counts(box) == (0, 3, 0)
        # Another moderator's mail is not held back by Ann's choice.
        await enqueue(box, entries(0, 3, "bob@example.org"), 2, policy)
        assert await counts(box) == (3, 6, 0)
    finally:
        await box.aclose()
