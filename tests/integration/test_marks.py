"""Recording outcomes: what is enqueued is written durably; "sent" marks are group-committed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import event, text

from notifier.delivery.gate import StoreGate
from notifier.delivery.marks import SentMarks
from notifier.poll.detect import Cursor
from notifier.state import Outbox, OutboxEntry

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def outbox_with(url: str, n: int) -> Outbox:
    box = Outbox(url)
    await box.create()
    await box.init_cursor("comments", 0, NOW)
    entries = [
        OutboxEntry(f"comment:{i}", "m@example.org", "new_comment", i, f"<{i}@x>", b"data")
        for i in range(n)
    ]
    moved, _ = await box.commit_batch("comments", Cursor(0), Cursor(n, (), 1), entries, NOW)
    assert moved
    return box


async def test_sent_marks_arriving_together_share_one_commit(sqlite_state: str) -> None:
    box = await outbox_with(sqlite_state, 8)
    commits = []
    event.listen(box._relaxed.sync_engine, "commit", lambda conn: commits.append(1))
    try:
        claimed = await box.claim("me", 8, 300)
        marks = SentMarks(box, "me", StoreGate(), patience=5)
        commits.clear()
        held = await asyncio.gather(*(marks.sent(m.id) for m in claimed))
        stats = await box.stats(NOW)
    finally:
        await box.aclose()
    assert held == [True] * 8
    assert stats.sent == 8
    # All eight were waiting before the first commit began: one transaction.
    assert len(commits) == 1


async def test_a_mark_for_a_row_another_worker_holds_says_so(sqlite_state: str) -> None:
    box = await outbox_with(sqlite_state, 1)
    try:
        [row] = await box.claim("other", 1, 300)
        held = await SentMarks(box, "me", StoreGate(), patience=5).sent(row.id)
        stats = await box.stats(NOW)
    finally:
        await box.aclose()
    assert held is False
    assert (stats.sent, stats.claimed) == (0, 1)


async def test_delivery_bookkeeping_skips_the_fsync_but_keeps_the_wal(sqlite_state: str) -> None:
    box = await outbox_with(sqlite_state, 0)
    try:
        async with box._relaxed.connect() as conn:
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            synchronous = (await conn.execute(text("PRAGMA synchronous"))).scalar()
    finally:
        await box.aclose()
    # NORMAL in WAL mode: a killed process loses nothing; a power cut may lose the
    # last marks, which can only send a message again.
    assert (journal, synchronous) == ("wal", 1)


async def test_a_failing_state_store_stops_every_connection_of_the_pass(
    sqlite_state: str,
) -> None:
    from notifier.delivery.deliver import Deliverer
    from notifier.delivery.smtp import SmtpTransport
    from notifier.demo.sink import SmtpSink
    from notifier.errors import StateError
    from notifier.settings import load_settings
    from tests.fault_helpers import Scripted

    class LockedOnRetry(Outbox):
        """The state store fails when a retry is recorded (as "database is locked")."""

        async def mark_retry(self, *args: object, **kwargs: object) -> bool:
            raise StateError("state store: database is locked")

    box = await outbox_with(sqlite_state, 0)
    await box.aclose()
    box = LockedOnRetry(sqlite_state)
    entries = [
        OutboxEntry(f"comment:{i}", f"m{i}@example.org", "new_comment", i, f"<{i}@x>", b"x\r\n")
        for i in range(30)
    ]
    assert (await box.commit_batch("comments", Cursor(0, (), 1), Cursor(30, (), 2), entries, NOW))[
        0
    ]
    server = Scripted(data=["451 4.3.0 try later"])
    async with SmtpSink(server) as smtp:
        settings = load_settings(
            {
                "NOTIFIER_MAIL_FROM": "n@example.org",
                "NOTIFIER_MODERATORS": "m@example.org",
                "NOTIFIER_STATE_URL": sqlite_state,
                "NOTIFIER_SMTP_HOST": "127.0.0.1",
                "NOTIFIER_SMTP_PORT": str(smtp.port),
                "NOTIFIER_SMTP_TLS": "none",
                # Outcomes are retried for a lease's length before the pass gives up.
                "NOTIFIER_WORKER_TIMEOUT": "1",
                "NOTIFIER_LEASE_SECONDS": "2",
            }
        )
        transports = [SmtpTransport(settings), SmtpTransport(settings)]
        deliverer = Deliverer(settings, box, transports, "me")
        try:
            try:
                await deliverer.deliver_due()
            except StateError:
                pass
            else:
                raise AssertionError("the state store's failure was swallowed")
            sent_when_it_failed = len(smtp.received)
            await asyncio.sleep(0.5)
            # Nothing goes on sending after the pass has ended.
            assert len(smtp.received) == sent_when_it_failed < 30
            stats = await box.stats(NOW)
            assert stats.claimed == 0  # given back at once, not after the lease
        finally:
            for transport in transports:
                await transport.aclose()
            await box.aclose()
