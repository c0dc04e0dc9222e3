"""The state of digests and reminders: which notifications went by mail, which
wait for a digest, and which pending items may need a reminder.

Three tables beside the outbox (created with it, no migration needed):

* ``notifier_digest_items``: one row per (event, moderator) the burst guard
  decided about: ``mode`` says whether it went by mail (a row in the outbox) or
  waits for a digest, ``digest_key`` which digest listed it (or that it was left
  out).  Unique like the outbox, so an event routed twice is decided once.
* ``notifier_digest_moderators``: per moderator, when the open digest is due.
  Its row is also the lock that serialises the decisions for one moderator
  across streams, polls and replicas.
* ``notifier_reminder_watch``: pending comments and flags not yet acted on, with
  their status when seen; a row goes once it is reminded or no longer pending.

The burst guard that fills them is in ``guard.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    exists,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.state.outbox import OutboxEntry, insert_entries
from notifier.state.schema import _Id, metadata
from notifier.state.schema import aware as _aware
from notifier.state.schema import naive as _naive
from notifier.state.store import StateStore

MAIL = "mail"
DIGEST = "digest"
# digest_key of an item that was no longer pending when its digest was built.
LEFT_OUT = "left-out"

digest_items = Table(
    "notifier_digest_items",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("moderator", String(320), nullable=False),
    Column("event_key", String(200), nullable=False),
    Column("comment_id", BigInteger),
    # The comment's status when the notification was made: "still pending"
    # means still in this status when the digest is built.
    Column("status", String(20), nullable=False),
    Column("mode", String(10), nullable=False),
    Column("item", Text),
    Column("created_at", DateTime, nullable=False),
    Column("digest_key", String(200)),
    UniqueConstraint("event_key", "moderator", name="uq_notifier_digest_items_event_moderator"),
    Index("ix_notifier_digest_items_window", "moderator", "created_at"),
    Index("ix_notifier_digest_items_age", "created_at"),
    Index("ix_notifier_digest_items_open", "moderator", "mode", "digest_key", "id"),
)

digest_moderators = Table(
    "notifier_digest_moderators",
    metadata,
    Column("moderator", String(320), primary_key=True),
    Column("next_at", DateTime),
    Column("last_due", DateTime),
)

reminder_watch = Table(
    "notifier_reminder_watch",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("event_key", String(200), nullable=False, unique=True),
    Column("comment_id", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("item", Text, nullable=False),
    Column("seen_at", DateTime, nullable=False),
    Index("ix_notifier_reminder_watch_seen", "seen_at"),
)


@dataclass(frozen=True, slots=True)
class FlowItem:
    """What the guard needs to know about a moderator notification besides its email."""

    comment_id: int
    status: str
    # The item as a digest or a reminder lists it (JSON from notifier.flow.items).
    item: str
    # Pending comments and flags not yet acted on are watched for reminders.
    watch: bool


@dataclass(frozen=True, slots=True)
class QueuedItem:
    """A notification waiting in the state store for a digest or a reminder."""

    id: int
    event_key: str
    comment_id: int
    status: str
    item: str
    at: datetime


class _Race(Exception):
    """Another worker built this digest or reminder first; roll back."""


def insert_ignore(dialect: str, table: Table, keys: list[str]) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=keys)


async def lock_moderator(conn: AsyncConnection, dialect: str, moderator: str) -> Any:
    """The moderator's row, created if missing, locked until the transaction ends."""
    await conn.execute(
        insert_ignore(dialect, digest_moderators, ["moderator"]).values(
            moderator=moderator, next_at=None, last_due=None
        )
    )
    query = select(digest_moderators).where(digest_moderators.c.moderator == moderator)
    if dialect == "postgresql":
        query = query.with_for_update()
    # SQLite: the enqueueing transaction already holds the database's write lock.
    return (await conn.execute(query)).one()


class FlowStore(StateStore):
    """The digest and reminder queries, on the outbox's state store."""

    async def due_moderators(self, now: datetime) -> list[tuple[str, datetime]]:
        """Moderators whose open digest is due by ``now``, with when it was due."""

        async def work(conn: AsyncConnection) -> list[tuple[str, datetime]]:
            rows = (
                await conn.execute(
                    select(digest_moderators.c.moderator, digest_moderators.c.next_at)
                    .where(digest_moderators.c.next_at <= _naive(now))
                    .order_by(digest_moderators.c.next_at)
                )
            ).all()
            return [(str(r.moderator), _aware(r.next_at) or now) for r in rows]

        result: list[tuple[str, datetime]] = await self._run(work, write=False)
        return result

    async def waiting_items(self, moderator: str, limit: int) -> list[QueuedItem]:
        """The oldest ``limit`` items waiting for ``moderator``'s digest."""

        async def work(conn: AsyncConnection) -> list[QueuedItem]:
            rows = (
                await conn.execute(
                    select(digest_items)
                    .where(
                        digest_items.c.moderator == moderator,
                        digest_items.c.mode == DIGEST,
                        digest_items.c.digest_key.is_(None),
                    )
                    .order_by(digest_items.c.id)
                    .limit(limit)
                )
            ).all()
            return [_queued(r, r.created_at) for r in rows]

        result: list[QueuedItem] = await self._run(work, write=False)
        return result

    async def commit_digest(
        self,
        moderator: str,
        due: datetime,
        listed: dict[int, str],
        entries: Sequence[OutboxEntry],
        now: datetime,
        next_due: Callable[[], datetime],
    ) -> bool:
        """Enqueue a digest's emails and mark its items, atomically.

        ``listed`` maps each item id to the digest key that lists it (or
        ``LEFT_OUT``).  False, with nothing written, when another worker got
        there first.  The next digest is scheduled (``next_due()``) if items
        arrived meanwhile.
        """

        async def work(conn: AsyncConnection) -> bool:
            state = await lock_moderator(conn, self._dialect, moderator)
            if _aware(state.next_at) != due:
                raise _Race
            by_key: dict[str, list[int]] = defaultdict(list)
            for item_id, key in listed.items():
                by_key[key].append(item_id)
            for key, ids in by_key.items():
                marked = await conn.execute(
                    update(digest_items)
                    .where(digest_items.c.id.in_(ids), digest_items.c.digest_key.is_(None))
                    .values(digest_key=key)
                )
                if marked.rowcount != len(ids):
                    raise _Race
            await insert_entries(conn, self._dialect, entries)
            more = (
                await conn.execute(
                    select(
                        exists().where(
                            digest_items.c.moderator == moderator,
                            digest_items.c.mode == DIGEST,
                            digest_items.c.digest_key.is_(None),
                        )
                    )
                )
            ).scalar()
            await conn.execute(
                update(digest_moderators)
                .where(digest_moderators.c.moderator == moderator)
                .values(next_at=_naive(next_due()) if more else None, last_due=_naive(due))
            )
            return True

        try:
            done: bool = await self._run(work)
        except _Race:
            return False
        return done

    async def purge(self, before: datetime) -> int:
        """Forget decisions older than ``before`` (mailed, or listed in a digest)."""

        async def work(conn: AsyncConnection) -> int:
            result = await conn.execute(
                delete(digest_items).where(
                    digest_items.c.created_at < _naive(before),
                    (digest_items.c.mode == MAIL) | digest_items.c.digest_key.is_not(None),
                )
            )
            return int(result.rowcount)

        count: int = await self._run(work, relaxed=True)
        return count

    # --- reminders ---------------------------------------------------------------

    async def overdue(self, seen_before: datetime, limit: int) -> list[QueuedItem]:
        """Watched items first seen before ``seen_before``, oldest first."""

        async def work(conn: AsyncConnection) -> list[QueuedItem]:
            rows = (
                await conn.execute(
                    select(reminder_watch)
                    .where(reminder_watch.c.seen_at <= _naive(seen_before))
                    .order_by(reminder_watch.c.seen_at, reminder_watch.c.id)
                    .limit(limit)
                )
            ).all()
            return [_queued(r, r.seen_at) for r in rows]

        result: list[QueuedItem] = await self._run(work, write=False)
        return result

    async def commit_reminder(
        self, ids: Sequence[int], entries: Sequence[OutboxEntry], now: datetime
    ) -> bool:
        """Stop watching ``ids`` and enqueue the reminder ``entries``, atomically.

        False, with nothing written, when another worker took these items first.
        """

        async def work(conn: AsyncConnection) -> bool:
            gone = await conn.execute(delete(reminder_watch).where(reminder_watch.c.id.in_(ids)))
            if gone.rowcount != len(ids):
                raise _Race
            await insert_entries(conn, self._dialect, entries)
            return True

        try:
            done: bool = await self._run(work)
        except _Race:
            return False
        return done


def _queued(row: Any, at: datetime) -> QueuedItem:
    return QueuedItem(
        id=int(row.id),
        event_key=str(row.event_key),
        comment_id=int(row.comment_id),
        status=str(row.status),
        item=str(row.item),
        at=_aware(at) or at,
    )
