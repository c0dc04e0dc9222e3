"""Comments put back on hold: approved once, pending again.

A moderator or a plugin that moves an approved comment back to pending wants a
second look, so moderators hear about it as they do about a flag.  WordPress
keeps no history of status changes, so notifier remembers the status it last
saw of each recent comment (``NOTIFIER_HOLD_WATCH_DAYS``) and asks the source
for the current ones on every poll: one indexed query per 1,000 watched
comments, whatever the size of the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.db import create_engine
from notifier.migrations import migrate_url
from notifier.models import Comment, CommentStatus

metadata = MetaData()

watch = Table(
    "notifier_watch",
    metadata,
    Column("comment_id", BigInteger, primary_key=True, autoincrement=False),
    Column("status", String(20), nullable=False),
    # How many times this comment was put back on hold: the event key's counter.
    Column("holds", Integer, nullable=False, default=0),
    Column("seen_at", DateTime, nullable=False),
)


@runtime_checkable
class StatusSource(Protocol):
    """A source that can say what status comments have now."""

    async def statuses(self, ids: Sequence[int]) -> dict[int, str]: ...


@dataclass(frozen=True, slots=True)
class Hold:
    """Comment ``comment_id`` went from approved back to pending, for the ``occurrence``-th time."""

    comment_id: int
    occurrence: int


def find_holds(seen: dict[int, tuple[str, int]], current: dict[int, str]) -> list[Hold]:
    """Pure: the comments whose status moved from approved to pending."""
    return [
        Hold(comment_id, holds + 1)
        for comment_id, (status, holds) in sorted(seen.items())
        if status == CommentStatus.APPROVED and current.get(comment_id) == CommentStatus.PENDING
    ]


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo else value


class HoldWatcher:
    """Remembers recent comments' statuses in the state store and spots holds."""

    def __init__(
        self,
        state_url: str,
        source: StatusSource,
        window: timedelta,
        *,
        engine: AsyncEngine | None = None,
    ) -> None:
        self._url = state_url
        self._engine = engine or create_engine(state_url, durable=True)
        self._dialect = self._engine.dialect.name
        self._source = source
        self._window = window

    async def create(self) -> None:
        """Create the watch table when missing, under the schema lock (``notifier.migrations``)."""
        await migrate_url(
            self._url,
            component="holds",
            metadata=metadata,
            steps=(),
            marker=watch.name,
            durable=True,
        )

    async def aclose(self) -> None:
        await self._engine.dispose()

    def _upsert(self) -> Any:
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = insert(watch)
        return statement.on_conflict_do_update(
            index_elements=["comment_id"],
            set_={"status": statement.excluded.status, "seen_at": statement.excluded.seen_at},
        )

    async def remember(self, comments: Sequence[Comment], now: datetime) -> None:
        """Start watching newly seen comments (their status as read)."""
        if not comments:
            return
        rows = [
            {"comment_id": c.id, "status": c.status, "holds": 0, "seen_at": _naive(now)}
            for c in comments
        ]
        async with self._engine.begin() as conn:
            await conn.execute(self._upsert(), rows)

    async def look(self, now: datetime) -> tuple[list[Hold], dict[int, str]]:
        """The holds since the last look, and every watched comment's current status."""
        since = _naive(now - self._window)
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(watch.c.comment_id, watch.c.status, watch.c.holds).where(
                        watch.c.seen_at >= since
                    )
                )
            ).all()
        seen = {int(r.comment_id): (str(r.status), int(r.holds)) for r in rows}
        if not seen:
            return [], {}
        current = await self._source.statuses(list(seen))
        changed = {i: s for i, s in current.items() if seen[i][0] != s}
        return find_holds(seen, current), changed

    async def record(self, holds: Sequence[Hold], changed: dict[int, str], now: datetime) -> None:
        """Store the statuses just seen and the hold counters; forget old comments."""
        counts = {h.comment_id: h.occurrence for h in holds}
        async with self._engine.begin() as conn:
            for comment_id, status in changed.items():
                values: dict[str, Any] = {"status": status}
                if comment_id in counts:
                    values["holds"] = counts[comment_id]
                await conn.execute(
                    watch.update().where(watch.c.comment_id == comment_id).values(**values)
                )
            await conn.execute(delete(watch).where(watch.c.seen_at < _naive(now - self._window)))
