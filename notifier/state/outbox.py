"""The outbox: one row per (event, recipient), enqueued with the cursor, claimed
with a lease, marked sent or dead.

"Never lost, never doubled" lives here:
- one row per (event key, recipient), unique in the database, inserted in the
  same transaction that moves the cursor (``commit_batch``);
- a cursor moves only from the version it was read at (compare-and-set), so
  overlapping polls, in one process or several, cannot both move it;
- delivery claims rows with a lease (owner + expiry); a row is changed only by
  its lease holder, and a lease that expires makes the row due again.

SQLite (WAL, synchronous=FULL) or PostgreSQL (claims use FOR UPDATE SKIP LOCKED).
``Outbox`` is the whole state store: it also reads cursors (``cursors``) and
keeps the service's bookkeeping (``bookkeeping``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.poll.detect import Cursor
from notifier.state.bookkeeping import Bookkeeping
from notifier.state.cursors import CursorStore, gaps_to_json
from notifier.state.schema import DEAD, PENDING, SENT, aware, cursors, naive, outbox

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


# Called inside the enqueueing transaction: which entries go to the outbox now.
Router = Callable[
    [AsyncConnection, Sequence[OutboxEntry], datetime], Awaitable[Sequence[OutboxEntry]]
]


async def insert_entries(
    conn: AsyncConnection, dialect: str, entries: Sequence[OutboxEntry], now: datetime
) -> int:
    """Insert outbox rows (a dead letter for an entry without a message); keys already
    there are skipped.  Returns how many were inserted."""
    if not entries:
        return 0
    stamp = naive(now)
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
            "created_at": stamp,
            "next_attempt_at": stamp,
            "updated_at": stamp,
            "last_error": e.error,
        }
        for e in entries
    ]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(outbox).on_conflict_do_nothing(index_elements=["event_key", "recipient"])
    result = await conn.execute(statement, rows)
    return max(result.rowcount, 0)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    event_key: str
    recipient: str
    template: str
    message_id: str | None
    message: bytes
    attempts: int
    created_at: datetime


class Outbox(CursorStore, Bookkeeping):
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
    ) -> tuple[bool, int]:
        """Enqueue ``entries`` and move the cursor from ``old`` to ``new``, atomically.

        Returns (moved, inserted).  ``moved`` is False when another poll moved the
        cursor first; then nothing is written and this batch is simply dropped,
        because the other poll has read the same rows.  ``route`` (the burst
        guard) decides, in the same transaction, which entries are mailed now.
        """
        stamp = naive(now)

        async def work(conn: AsyncConnection) -> tuple[bool, int]:
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
            inserted = await insert_entries(conn, self._dialect, entries_now, now)
            return True, inserted

        try:
            result: tuple[bool, int] = await self._run(work)
        except _CursorMoved:
            return False, 0
        return result

    # --- delivery ----------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        limit: int,
        now: datetime,
        lease: timedelta,
        *,
        due_by: datetime | None = None,
    ) -> list[Claimed]:
        """Lease up to ``limit`` messages due by ``due_by`` (default now) to ``owner``."""
        stamp = naive(now)
        due = (
            select(outbox.c.id)
            .where(
                outbox.c.state == PENDING,
                outbox.c.next_attempt_at <= naive(due_by or now),
                or_(outbox.c.lease_expires_at.is_(None), outbox.c.lease_expires_at < stamp),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(outbox)
            .where(outbox.c.id.in_(due.scalar_subquery()))
            .values(
                lease_owner=owner,
                lease_expires_at=naive(now + lease),
                attempts=outbox.c.attempts + 1,
                updated_at=stamp,
            )
            .returning(
                outbox.c.id,
                outbox.c.event_key,
                outbox.c.recipient,
                outbox.c.template,
                outbox.c.message_id,
                outbox.c.message,
                outbox.c.attempts,
                outbox.c.created_at,
            )
        )

        async def work(conn: AsyncConnection) -> list[Claimed]:
            rows = (await conn.execute(statement)).all()
            return sorted(
                (
                    Claimed(
                        id=int(r.id),
                        event_key=r.event_key,
                        recipient=r.recipient,
                        template=r.template,
                        message_id=r.message_id,
                        message=bytes(r.message),
                        attempts=int(r.attempts),
                        created_at=aware(r.created_at) or now,
                    )
                    for r in rows
                ),
                key=lambda c: c.id,
            )

        claimed: list[Claimed] = await self._run(work, relaxed=True)
        return claimed

    async def _held_update(self, row_id: int, owner: str, **values: Any) -> bool:
        """Update a row only if ``owner`` still holds its lease."""

        async def work(conn: AsyncConnection) -> bool:
            result = await conn.execute(
                update(outbox)
                .where(
                    outbox.c.id == row_id,
                    outbox.c.lease_owner == owner,
                    outbox.c.state == PENDING,
                )
                .values(lease_owner=None, lease_expires_at=None, **values)
            )
            return bool(result.rowcount == 1)

        held: bool = await self._run(work, relaxed=True)
        return held

    async def mark_sent(self, row_id: int, owner: str, now: datetime) -> bool:
        return row_id in await self.mark_sent_many([row_id], owner, now)

    async def mark_sent_many(self, ids: Sequence[int], owner: str, now: datetime) -> set[int]:
        """Mark rows sent in one transaction; return those ``owner`` still held."""
        stamp = naive(now)

        async def work(conn: AsyncConnection) -> set[int]:
            result = await conn.execute(
                update(outbox)
                .where(
                    outbox.c.id.in_(list(ids)),
                    outbox.c.lease_owner == owner,
                    outbox.c.state == PENDING,
                )
                .values(
                    state=SENT,
                    sent_at=stamp,
                    updated_at=stamp,
                    last_error=None,
                    lease_owner=None,
                    lease_expires_at=None,
                )
                .returning(outbox.c.id)
            )
            return {int(row_id) for (row_id,) in result.all()}

        held: set[int] = await self._run(work, relaxed=True)
        return held

    async def mark_retry(
        self, row_id: int, owner: str, now: datetime, next_at: datetime, error: str
    ) -> bool:
        return await self._held_update(
            row_id,
            owner,
            next_attempt_at=naive(next_at),
            updated_at=naive(now),
            last_error=error[:2000],
        )

    async def mark_dead(self, row_id: int, owner: str, now: datetime, error: str) -> bool:
        return await self._held_update(
            row_id, owner, state=DEAD, updated_at=naive(now), last_error=error[:2000]
        )

    async def release(self, owner: str, ids: Sequence[int], *, refund: bool = True) -> int:
        """Give back leases on rows that were claimed but not attempted.

        ``refund`` takes back the attempt counted at claim time, so a pause or a
        shutdown does not burn a message's retries.
        """
        if not ids:
            return 0
        values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
        if refund:
            values["attempts"] = case((outbox.c.attempts > 0, outbox.c.attempts - 1), else_=0)

        async def work(conn: AsyncConnection) -> int:
            result = await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)), outbox.c.lease_owner == owner)
                .values(**values)
            )
            return int(result.rowcount)

        released: int = await self._run(work, relaxed=True)
        return released

    async def renew(self, owner: str, ids: Sequence[int], until: datetime) -> None:
        """Extend the lease on rows ``owner`` still holds."""
        if not ids:
            return

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)), outbox.c.lease_owner == owner)
                .values(lease_expires_at=naive(until))
            )

        await self._run(work, relaxed=True)

    # --- operators ---------------------------------------------------------------

    async def requeue(self, ids: Sequence[int] | None, now: datetime) -> int:
        """Make dead letters due again (all of them when ``ids`` is None)."""
        stamp = naive(now)
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
