"""The outbox: one row per (event, recipient), enqueued with the cursor, claimed
with a lease, marked sent or dead.

"Never lost, never doubled" lives here:
- one row per (event key, recipient), unique in the database, inserted in the
  same transaction that moves the cursor (``commit_batch``);
- a cursor moves only from the version it was read at (compare-and-set), so
  overlapping polls, in one process or several, cannot both move it;
- delivery claims rows with a short lease renewed by the worker's heartbeat
  (``claims``); a row is changed only by its lease holder, and a lease that
  expires, or a holder whose heartbeat stopped, makes the row due again;
- every due time and lease is the database's time, never a worker's.

SQLite (WAL, synchronous=FULL) or PostgreSQL (claims use FOR UPDATE SKIP LOCKED).
``Outbox`` is the whole state store: it also reads cursors (``cursors``) and
keeps the service's bookkeeping (``bookkeeping``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, delete, literal_column, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.poll.detect import Cursor
from notifier.state.bookkeeping import Bookkeeping
from notifier.state.claims import Claims
from notifier.state.cursors import CursorStore, gaps_to_json
from notifier.state.dbtime import db_now
from notifier.state.schema import DEAD, PENDING, SENT, acks, cursors, naive, outbox
from notifier.state.triage_models import TriageModels

# Acknowledgement counts are kept this long: the caps look back a day at most.
ACK_KEEP = timedelta(days=2)

if TYPE_CHECKING:
    from notifier.state.flow import FlowItem


class _CursorMoved(Exception):
    """Another poll moved the cursor first; roll this batch back."""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A row to enqueue: a rendered message, or a dead letter saying why there is none."""

    event_key: str
    recipient: str
    template: str
    comment_id: int | None
    message_id: str | None
    message: bytes | None
    error: str | None = None
    # A moderator notification the burst guard may hold back for a digest.
    flow: FlowItem | None = None
    # Not to be sent before this time (an InfoLine forward waiting for the hourly cap).
    not_before: datetime | None = None


# Called inside the enqueueing transaction: which entries go to the outbox now.
Router = Callable[
    [AsyncConnection, Sequence[OutboxEntry], datetime], Awaitable[Sequence[OutboxEntry]]
]


async def insert_entries(
    conn: AsyncConnection, dialect: str, entries: Sequence[OutboxEntry]
) -> list[str]:
    """Insert outbox rows (a dead letter for an entry without a message); keys already
    there are skipped.  Returns the template of each row inserted to be sent.  They
    are due at once by the database's clock, whatever the worker's says."""
    if not entries:
        return []
    rows = [
        {
            "event_key": e.event_key,
            "recipient": e.recipient,
            "template": e.template,
            "comment_id": e.comment_id,
            "message_id": e.message_id,
            "message": e.message,
            "state": DEAD if e.message is None else PENDING,
            "attempts": 0,
            "last_error": e.error,
        }
        for e in entries
    ]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The same clock as db_now(), written without bound parameters: SQLAlchemy's
    # batched INSERT ... RETURNING miscounts asyncpg's parameters otherwise.
    now = (
        literal_column("timezone('UTC', now())", DateTime)
        if dialect == "postgresql"
        else db_now(dialect)
    )
    queued: list[str] = []
    # Due at once, except an InfoLine forward waiting for its hourly cap (state.caps).
    for waiting in (False, True):
        group = [
            {**row, "next_attempt_at": naive(e.not_before)} if waiting and e.not_before else row
            for row, e in zip(rows, entries, strict=True)
            if (e.not_before is not None) == waiting
        ]
        if not group:
            continue
        due = {} if waiting else {"next_attempt_at": now}
        statement = (
            insert(outbox)
            .values(created_at=now, updated_at=now, **due)
            .on_conflict_do_nothing(index_elements=["event_key", "recipient"])
        )
        # The rows really inserted come back with RETURNING: asyncpg reports no
        # rowcount (-1) for a batch, and a key already there is skipped.
        result = await conn.execute(statement.returning(outbox.c.template, outbox.c.state), group)
        queued.extend(r.template for r in result.all() if r.state == PENDING)
    return queued


class Outbox(CursorStore, Claims, Bookkeeping, TriageModels):
    """The state store: enqueue with the cursor, claims, outcomes, operators' commands."""

    async def commit_batch(
        self,
        stream: str,
        old: Cursor,
        new: Cursor,
        entries: Sequence[OutboxEntry],
        now: datetime,
        *,
        route: Router | None = None,
    ) -> tuple[bool, list[str]]:
        """Enqueue ``entries`` and move the cursor from ``old`` to ``new``, atomically.

        Returns (moved, queued): ``queued`` names the template of each message
        really added to be sent (not one already there, not a dead letter).
        ``moved`` is False when another poll moved the cursor first; then nothing
        is written and this batch is simply dropped, because the other poll has
        read the same rows.  ``route`` (the burst guard) decides, in the same
        transaction, which entries are mailed now.
        """
        stamp = naive(now)

        async def work(conn: AsyncConnection) -> tuple[bool, list[str]]:
            # The cursor update comes first: it takes the write lock (SQLite) or
            # the row lock (PostgreSQL) that serialises competing polls.
            moved = await conn.execute(
                update(cursors)
                .where(cursors.c.stream == stream, cursors.c.version == old.version)
                .values(
                    position=new.position,
                    gaps=gaps_to_json(new.gaps),
                    version=new.version,
                    updated_at=stamp,
                )
            )
            if moved.rowcount != 1:
                raise _CursorMoved
            if route is not None:
                entries_now = await route(conn, entries, now)
            else:
                entries_now = entries
            queued = await insert_entries(conn, self._dialect, entries_now)
            return True, queued

        try:
            result: tuple[bool, list[str]] = await self._run(work)
        except _CursorMoved:
            return False, []
        return result

    # --- operators ---------------------------------------------------------------

    async def requeue(self, ids: Sequence[int] | None) -> int:
        """Make dead letters due again now (all of them when ``ids`` is None)."""
        stamp = self.now_sql()
        condition = outbox.c.state == DEAD
        if ids is not None:
            condition = condition & outbox.c.id.in_(list(ids))
        # A dead letter that was never rendered has nothing to send: it stays dead.
        condition = condition & outbox.c.message.is_not(None)

        async def work(conn: AsyncConnection) -> int:
            result = await conn.execute(
                update(outbox)
                .where(condition)
                .values(
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=stamp,
                    created_at=stamp,
                    updated_at=stamp,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
            return int(result.rowcount)

        count: int = await self._run(work)
        return count

    async def purge_finished(self, retention: timedelta, now: datetime) -> tuple[int, int]:
        """Delete sent and dead rows last changed more than ``retention`` ago by the
        store's clock (NOTIFIER_RETENTION_DAYS), and the acknowledgement counts the
        caps no longer need.  Returns both counts."""

        async def work(conn: AsyncConnection) -> tuple[int, int]:
            before = db_now(self._dialect, -retention.total_seconds())
            rows = await conn.execute(
                delete(outbox).where(outbox.c.state.in_([SENT, DEAD]), outbox.c.updated_at < before)
            )
            # The caps look back a day at most (their rows carry the worker's time).
            counted = await conn.execute(
                delete(acks).where(acks.c.created_at < naive(now - min(retention, ACK_KEEP)))
            )
            return int(rows.rowcount), int(counted.rowcount)

        counts: tuple[int, int] = await self._run(work)
        return counts

    async def purge_sent(self, before: datetime) -> int:
        """Delete sent rows older than ``before``.  Their keys go too: purge only
        what is older than any look-back, or an old event could be mailed again."""

        async def work(conn: AsyncConnection) -> int:
            result = await conn.execute(
                delete(outbox).where(outbox.c.state == SENT, outbox.c.updated_at < naive(before))
            )
            return int(result.rowcount)

        count: int = await self._run(work)
        return count
