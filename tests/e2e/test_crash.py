"""``notifier run`` as a real process, killed and stopped in the middle of delivering."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.demo.sink import SmtpSink
from notifier.state import Outbox
from tests.fault_helpers import SlowServer, StallsAtData, message_ids, outbox_rows
from tests.helpers import Blog, environment_for
from tests.process_helpers import Worker, every_message, post_many, until

pytestmark = pytest.mark.slow


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Blog]:
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    yield blog
    await blog.aclose()


async def running(
    tmp_path: Path, server: SmtpSink, store: Blog, state: str, **overrides: str
) -> Callable[[], Awaitable[Worker]]:
    env = environment_for(server, store.url, state, poll_interval="0.2", **overrides)

    async def start() -> Worker:
        return await Worker(env, tmp_path / "notifier.log").start()

    return start


async def test_a_worker_killed_mid_delivery_loses_nothing_and_doubles_only_what_was_in_flight(
    tmp_path: Path, store: Blog, sqlite_state: str
) -> None:
    total = 300
    await post_many(store, total)
    handler = SlowServer(delay=0.005)
    async with SmtpSink(handler) as server:
        start = await running(
            tmp_path,
            server,
            store,
            sqlite_state,
            worker_timeout="2",
            lease_seconds="2",
            send_timeout="0.5",
            smtp_timeout="0.4",
            smtp_connections="4",
            mark_window="2",
        )
        first = await start()
        try:
            await until(lambda: len(handler.received) >= 100, 30, "100 messages")
            code, _ = await first.stop(signal.SIGKILL)
            assert code == -signal.SIGKILL
            at_kill = len(handler.received)
        finally:
            await first.aclose()

        second = await start()
        try:
            await until(lambda: every_message(handler, total), 30, "every message")
            # The first worker's last messages may have reached the server without
            # their record: the restarted worker sends them again once the dead
            # one's heartbeat is old, and records them.
            for _ in range(1500):
                if all(r.state == "sent" for r in await outbox_rows(sqlite_state)):
                    break
                await asyncio.sleep(0.02)
            code, _ = await second.stop(signal.SIGTERM)
            assert code == 0
        finally:
            await second.aclose()

    ids = message_ids(handler)
    duplicates = len(ids) - len(set(ids))
    print(f"\nSIGKILL after {at_kill} of {total} messages: {duplicates} duplicate(s) after restart")
    assert len(set(ids)) == total
    # Four connections, each with at most two messages sent but not yet recorded:
    # only those (between the server's 250 and our "sent" mark) can go twice.
    assert duplicates <= 4 * 2
    rows = await outbox_rows(sqlite_state)
    assert [r.state for r in rows] == ["sent"] * total


async def test_sigterm_finishes_the_message_in_flight_and_leaves_nothing_claimed(
    tmp_path: Path, store: Blog, sqlite_state: str
) -> None:
    total = 200
    await post_many(store, total)
    handler = SlowServer(delay=0.02)
    async with SmtpSink(handler) as server:
        start = await running(tmp_path, server, store, sqlite_state, shutdown_timeout="10")
        worker = await start()
        try:
            await until(lambda: len(handler.received) >= 20, 30, "20 messages")
            code, took = await worker.stop(signal.SIGTERM)
        finally:
            await worker.aclose()
        assert code == 0
        assert took < 10

        rows = await outbox_rows(sqlite_state)
        assert [r for r in rows if r.lease_owner or r.lease_expires_at] == []
        box = Outbox(sqlite_state)
        stats = await box.stats(datetime.now(UTC))
        await box.aclose()
        assert stats.claimed == 0
        # Every message the server took is marked sent; nothing unsent was charged.
        assert stats.sent == len(handler.received) < total
        assert all(r.attempts == 0 for r in rows if r.state == "pending")

        worker = await start()
        try:
            await until(lambda: len(handler.received) >= total, 30, "the rest")
            code, _ = await worker.stop(signal.SIGTERM)
            assert code == 0
        finally:
            await worker.aclose()
    ids = message_ids(handler)
    assert len(ids) == len(set(ids)) == total  # a graceful stop sends nothing twice
    log = (tmp_path / "notifier.log").read_text()
    assert "stopped" in log
    assert "Traceback" not in log and "ERROR" not in log


async def test_sigterm_with_a_stalled_server_gives_up_at_the_shutdown_timeout(
    tmp_path: Path, store: Blog, sqlite_state: str
) -> None:
    await store.comment("Stuck on the wire")
    await store.comment("Never started")
    handler = StallsAtData(seconds=60)
    async with SmtpSink(handler) as server:
        start = await running(
            tmp_path,
            server,
            store,
            sqlite_state,
            shutdown_timeout="1",
            smtp_timeout="60",
            send_timeout="90",
            smtp_connections="1",  # the second message must wait behind the stalled one
        )
        worker = await start()
        try:
            await until(lambda: handler.data_tries == 1, 30, "the stall")
            code, took = await worker.stop(signal.SIGTERM)
        finally:
            await worker.aclose()
    assert code == 0
    assert took < 6
    rows = await outbox_rows(sqlite_state)
    # The cancelled message and the one behind it are free for the next start at once;
    # the one never tried is not charged for it.
    assert [(r.state, r.lease_owner) for r in rows] == [("pending", None), ("pending", None)]
    assert sorted(r.attempts for r in rows) == [0, 1]
    log = (tmp_path / "notifier.log").read_text()
    assert "shutdown timeout reached" in log
    # A clean stop, even a cancelled one: no error, no traceback (APScheduler's included).
    assert "Traceback" not in log and "ERROR" not in log
