"""The state store: the outbox, the cursors and a little service bookkeeping.

"Never lost, never doubled" lives here:
- one row per (event key, recipient), unique in the database, inserted in the
  same transaction that moves the cursor (``commit_batch``);
- a cursor moves only from the version it was read at (compare-and-set), so
  overlapping polls, in one process or several, cannot both move it;
- delivery claims rows with a lease (owner + expiry); a row is changed only by
  its lease holder, and a lease that expires makes the row due again.

SQLite (WAL, synchronous=FULL) or PostgreSQL (claims use FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notifier.db import create_engine, safe_url
from notifier.detect import Cursor, Gap
from notifier.errors import StateError

PENDING = "pending"
SENT = "sent"
DEAD = "dead"

metadata = MetaData()
_Id = BigInteger().with_variant(Integer, "sqlite")

outbox = Table(
    "notifier_outbox",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("event_key", String(200), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("template", String(40), nullable=False),
    Column("comment_id", BigInteger),
    Column("message_id", String(250)),
    Column("message", LargeBinary),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_expires_at", DateTime),
    Column("sent_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
    Column("last_error", Text),
    UniqueConstraint("event_key", "recipient", name="uq_notifier_outbox_event_recipient"),
    # Claims look for due pending rows; status and purge look by state and age.
    # With id in the index a claim (ORDER BY next_attempt_at, id LIMIT n) reads n
    # entries and stops, instead of sorting every due row (O(backlog) per claim).
    Index("ix_notifier_outbox_due", "state", "next_attempt_at", "id"),
    Index("ix_notifier_outbox_state_updated", "state", "updated_at"),
)

cursors = Table(
    "notifier_cursors",
    metadata,
    Column("stream", String(40), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("gaps", Text, nullable=False, default="[]"),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

service_meta = Table(
    "notifier_meta",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)


class _CursorMoved(Exception):
    """Another poll moved the cursor first; roll this batch back."""


def _naive(value: datetime) -> datetime:
    """The state store keeps naive UTC: the same on SQLite and PostgreSQL."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


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


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    event_key: str
    recipient: str
    error: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Stats:
    pending: int
    retrying: int
    claimed: int
    sent: int
    dead: int
    oldest_pending: datetime | None
    last_poll: str | None
    last_delivery: str | None
    dead_letters: list[DeadLetter]
    # Set by the running service; empty when all is well.
    delivery_paused: str = ""
    poll_error: str = ""


def _gaps_to_json(gaps: Iterable[Gap]) -> str:
    return json.dumps([[g.low, g.high, _naive(g.since).isoformat()] for g in gaps])


def _gaps_from_json(text: str) -> tuple[Gap, ...]:
    return tuple(
        Gap(int(lo), int(hi), datetime.fromisoformat(since).replace(tzinfo=UTC))
        for lo, hi, since in json.loads(text or "[]")
    )


class Outbox:
    """Async access to the state store.  Every method is one short transaction."""

    def __init__(self, url: str, *, engine: AsyncEngine | None = None) -> None:
        self.url = url
        self._engine = engine or create_engine(url, durable=True)
        # Delivery bookkeeping (claims, outcomes, leases) whose loss in a power cut
        # can only send a message again: no fsync per message.  What is enqueued,
        # and the cursor with it, is always written durably.
        self._relaxed = engine or create_engine(url, relaxed=True)
        self._dialect = self._engine.dialect.name

    async def aclose(self) -> None:
        await self._engine.dispose()
        if self._relaxed is not self._engine:
            await self._relaxed.dispose()

    def _error(self, exc: Exception) -> StateError:
        return StateError(f"state store at {safe_url(self.url)}: {type(exc).__name__}: {exc}")

    async def _run(self, work: Any, *, write: bool = True, relaxed: bool = False) -> Any:
        engine = self._relaxed if relaxed else self._engine
        try:
            async with engine.begin() if write else engine.connect() as conn:
                return await work(conn)
        except (SQLAlchemyError, OSError) as exc:
            raise self._error(exc) from exc

    async def create(self) -> None:
        """Create the tables if they do not exist (idempotent)."""

        async def work(conn: AsyncConnection) -> None:
            await conn.run_sync(metadata.create_all)

        await self._run(work)

    # --- cursors -----------------------------------------------------------------

    async def load_cursor(self, stream: str) -> Cursor | None:
        async def work(conn: AsyncConnection) -> Cursor | None:
            row = (
                await conn.execute(select(cursors).where(cursors.c.stream == stream))
            ).one_or_none()
            if row is None:
                return None
            return Cursor(int(row.position), _gaps_from_json(row.gaps), int(row.version))

        result: Cursor | None = await self._run(work, write=False)
        return result

    async def init_cursor(self, stream: str, position: int, now: datetime) -> bool:
        """Create the cursor at ``position`` unless it exists.  True if it was created."""

        async def work(conn: AsyncConnection) -> bool:
            values = {
                "stream": stream,
                "position": position,
                "gaps": "[]",
                "version": 0,
                "updated_at": _naive(now),
            }
            result = await conn.execute(self._insert_ignore(cursors, ["stream"]).values(**values))
            return bool(result.rowcount)

        created: bool = await self._run(work)
        return created

    def _insert_ignore(self, table: Table, keys: list[str]) -> Any:
        if self._dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)

    async def commit_batch(
        self,
        stream: str,
        old: Cursor,
        new: Cursor,
        entries: Sequence[OutboxEntry],
        now: datetime,
    ) -> tuple[bool, int]:
        """Enqueue ``entries`` and move the cursor from ``old`` to ``new``, atomically.

        Returns (moved, inserted).  ``moved`` is False when another poll moved the
        cursor first; then nothing is written and this batch is simply dropped,
        because the other poll has read the same rows.
        """
        stamp = _naive(now)

        async def work(conn: AsyncConnection) -> tuple[bool, int]:
            # The cursor update comes first: it takes the write lock (SQLite) or
            # the row lock (PostgreSQL) that serialises competing polls.
            moved = await conn.execute(
                update(cursors)
                .where(cursors.c.stream == stream, cursors.c.version == old.version)
                .values(
                    position=new.position,
                    gaps=_gaps_to_json(new.gaps),
                    version=new.version,
                    updated_at=stamp,
                )
            )
            if moved.rowcount != 1:
                raise _CursorMoved
            inserted = 0
            if entries:
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
                result = await conn.execute(
                    self._insert_ignore(outbox, ["event_key", "recipient"]), rows
                )
                inserted = max(result.rowcount, 0)
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
        stamp = _naive(now)
        due = (
            select(outbox.c.id)
            .where(
                outbox.c.state == PENDING,
                outbox.c.next_attempt_at <= _naive(due_by or now),
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
                lease_expires_at=_naive(now + lease),
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
                        created_at=_aware(r.created_at) or now,
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
        stamp = _naive(now)

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
            next_attempt_at=_naive(next_at),
            updated_at=_naive(now),
            last_error=error[:2000],
        )

    async def mark_dead(self, row_id: int, owner: str, now: datetime, error: str) -> bool:
        return await self._held_update(
            row_id, owner, state=DEAD, updated_at=_naive(now), last_error=error[:2000]
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
                .values(lease_expires_at=_naive(until))
            )

        await self._run(work, relaxed=True)

    # --- operators ---------------------------------------------------------------

    async def requeue(self, ids: Sequence[int] | None, now: datetime) -> int:
        """Make dead letters due again (all of them when ``ids`` is None)."""
        stamp = _naive(now)
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
                delete(outbox).where(outbox.c.state == SENT, outbox.c.updated_at < _naive(before))
            )
            return int(result.rowcount)

        count: int = await self._run(work)
        return count

    async def set_meta(self, name: str, value: str, now: datetime) -> None:
        async def work(conn: AsyncConnection) -> None:
            changed = await conn.execute(
                update(service_meta)
                .where(service_meta.c.name == name)
                .values(value=value, updated_at=_naive(now))
            )
            if changed.rowcount == 0:
                await conn.execute(
                    self._insert_ignore(service_meta, ["name"]).values(
                        name=name, value=value, updated_at=_naive(now)
                    )
                )

        await self._run(work)

    async def stats(self, now: datetime, *, dead_letters: int = 10) -> Stats:
        stamp = _naive(now)

        async def work(conn: AsyncConnection) -> Stats:
            def count(*conditions: Any) -> Any:
                return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

            pending = outbox.c.state == PENDING
            row = (
                await conn.execute(
                    select(
                        count(pending, outbox.c.last_error.is_(None)),
                        count(pending, outbox.c.last_error.is_not(None)),
                        count(pending, outbox.c.lease_expires_at > stamp),
                        count(outbox.c.state == SENT),
                        count(outbox.c.state == DEAD),
                    )
                )
            ).one()
            oldest = (
                await conn.execute(
                    select(func.min(outbox.c.created_at)).where(outbox.c.state == PENDING)
                )
            ).scalar()
            meta = {r.name: r.value for r in (await conn.execute(select(service_meta))).all()}
            dead = (
                await conn.execute(
                    select(outbox)
                    .where(outbox.c.state == DEAD)
                    .order_by(outbox.c.updated_at.desc(), outbox.c.id.desc())
                    .limit(dead_letters)
                )
            ).all()

            return Stats(
                pending=int(row[0]),
                retrying=int(row[1]),
                claimed=int(row[2]),
                sent=int(row[3]),
                dead=int(row[4]),
                oldest_pending=_aware(oldest),
                last_poll=meta.get("last_poll"),
                last_delivery=meta.get("last_delivery"),
                delivery_paused=meta.get("delivery_paused", ""),
                poll_error=meta.get("poll_error", ""),
                dead_letters=[
                    DeadLetter(
                        int(r.id),
                        r.event_key,
                        r.recipient,
                        r.last_error or "",
                        _aware(r.updated_at) or now,
                    )
                    for r in dead
                ],
            )

        result: Stats = await self._run(work, write=False)
        return result

    async def undelivered(self) -> int:
        """How many messages are still pending (due now or later)."""

        async def work(conn: AsyncConnection) -> int:
            return int(
                (
                    await conn.execute(
                        select(func.count()).select_from(outbox).where(outbox.c.state == PENDING)
                    )
                ).scalar_one()
            )

        count: int = await self._run(work, write=False)
        return count
