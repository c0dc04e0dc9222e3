"""Claims, leases and heartbeats, on the database's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from notifier.demo.sink import SmtpSink
from notifier.poll.detect import Cursor
from notifier.service import Service
from notifier.state import Outbox, OutboxEntry
from notifier.state.schema import workers
from tests.fault_helpers import outbox_rows
from tests.helpers import MODERATOR, Blog, settings_for

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


async def outbox_with(url: str, n: int) -> Outbox:
    box = Outbox(url)
    await box.create()
    await box.init_cursor("test", 0, NOW)
    entries = [
        OutboxEntry(f"comment:{i}", MODERATOR, "new_comment", i, f"<{i}@x>", b"data")
        for i in range(n)
    ]
    assert await box.commit_batch("test", Cursor(0, (), 0), Cursor(n, (), 1), entries, NOW)
    return box


async def age_heartbeat(url: str, worker: str, seconds: float) -> None:
    """Make ``worker``'s last heartbeat ``seconds`` old, as if it had died then."""
    box = Outbox(url)
    try:
        async with box._engine.begin() as conn:
            await conn.execute(
                update(workers)
                .where(workers.c.worker_id == worker)
                .values(heartbeat_at=box.now_sql(-seconds))
            )
    finally:
        await box.aclose()


async def test_a_live_lease_keeps_a_row_and_one_run_out_frees_it(state_url: str) -> None:
    box = await outbox_with(state_url, 1)
    try:
        [mine] = await box.claim("crashed", 10, 60)
        assert mine.attempts == 1
        # Another worker, while the lease runs: nothing for it.
        assert await box.claim("other", 10, 60) == []
        # The lease runs out (renewed to the past: no waiting in a test).
        assert await box.renew("crashed", [mine.id], -1) == {mine.id}
        [theirs] = await box.claim("other", 10, 60)
        assert (theirs.id, theirs.attempts, theirs.previous_owner) == (mine.id, 2, "crashed")

        # The old holder wakes up: its writes are refused, the new holder's stand.
        assert await box.mark_sent(mine.id, "crashed") is False
        assert await box.mark_dead(mine.id, "crashed", "x") is False
        assert await box.mark_retry(mine.id, "crashed", 0, "x") is False
        assert await box.release("crashed", [mine.id]) == 0
        [row] = await outbox_rows(state_url)
        assert (row.state, row.lease_owner) == ("pending", "other")
        assert await box.mark_sent(mine.id, "other") is True
        [row] = await outbox_rows(state_url)
        assert (row.state, row.lease_owner, row.lease_expires_at) == ("sent", None, None)
    finally:
        await box.aclose()


async def test_the_claims_of_a_worker_whose_heartbeat_stopped_are_due_at_once(
    state_url: str,
) -> None:
    box = await outbox_with(state_url, 3)
    try:
        await box.beat("dead", 600)
        await box.beat("alive", 600)
        dead_claims = await box.claim("dead", 2, 600)
        [alive_claim] = await box.claim("alive", 1, 600)
        # Both heartbeats are fresh: the long leases hold.
        assert await box.claim("other", 10, 600, take_over_after=15) == []

        await age_heartbeat(state_url, "dead", 16)
        taken = await box.claim("other", 10, 600, take_over_after=15)
        # Without take_over_after (a worker just back from an outage) they wait.
        assert taken and not await box.claim("third", 10, 600)
    finally:
        await box.aclose()
    assert sorted(t.id for t in taken) == sorted(c.id for c in dead_claims)
    assert alive_claim.id not in {t.id for t in taken}
    # Taken over while the dead worker's lease had most of its 600 s to run.
    assert all(t.previous_owner == "dead" for t in taken)
    assert all((t.previous_lease_left or 0) > 500 for t in taken)


async def test_a_claim_by_a_worker_that_never_beat_waits_for_its_lease(state_url: str) -> None:
    """A worker of the previous release writes no heartbeat: only its lease counts."""
    box = await outbox_with(state_url, 1)
    try:
        [old] = await box.claim("release-0.1.0-worker", 1, 300)
        assert await box.claim("other", 10, 300, take_over_after=15) == []
    finally:
        await box.aclose()
    assert old.attempts == 1


async def test_heartbeats_renew_every_lease_their_worker_holds(state_url: str) -> None:
    box = await outbox_with(state_url, 2)
    try:
        await box.beat("me", 60)
        claimed = await box.claim("me", 2, 1)
        before = {r.id: r.lease_expires_at for r in await outbox_rows(state_url)}
        await box.beat("me", 60)
        after = {r.id: r.lease_expires_at for r in await outbox_rows(state_url)}
        retired = await box.retire("me")
        rows = await outbox_rows(state_url)
    finally:
        await box.aclose()
    # Each lease moved from one second to a minute ahead of the database's clock.
    assert all((after[c.id] - before[c.id]).total_seconds() > 50 for c in claimed)
    # A clean stop gives everything back and signs off.
    assert retired == 2
    assert [(r.lease_owner, r.lease_expires_at) for r in rows] == [(None, None)] * 2


async def test_a_replica_whose_clock_is_a_day_ahead_takes_no_live_row(
    state_url: str, tmp_path: object
) -> None:
    """Leases, heartbeats and due times are the database's: a skewed worker clock is harmless."""
    blog = Blog(f"sqlite:///{tmp_path}/store.db")
    await blog.create()
    await blog.aclose()
    box = await outbox_with(state_url, 4)
    try:
        # A live worker holds two messages; a third is set to be retried in an hour.
        await box.beat("live", 60)
        held = await box.claim("live", 2, 60)
        [later] = await box.claim("retrying", 1, 60)
        assert await box.mark_retry(later.id, "retrying", 3600, "451 try later")
    finally:
        await box.aclose()

    async with SmtpSink() as smtp:
        settings = settings_for(smtp, blog.url, state_url, start_from="now")
        ahead = Service(settings, clock=lambda: datetime.now(UTC) + timedelta(days=1))
        await ahead.open()
        try:
            report = await ahead.tick()
        finally:
            await ahead.close()

    # The one free message went; the live claims and the later retry did not.
    assert report.delivery is not None and report.delivery.sent == 1
    assert len(smtp.received) == 1
    rows = {r.id: r for r in await outbox_rows(state_url)}
    assert all(rows[c.id].lease_owner == "live" for c in held)
    assert (rows[later.id].state, rows[later.id].attempts) == ("pending", 1)
