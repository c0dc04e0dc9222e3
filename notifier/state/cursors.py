"""Cursors: how far each stream (comments, flags) has been read, with its gaps.

A cursor moves only from the version it was read at (compare-and-set, in
``Outbox.commit_batch``), so overlapping polls, in one process or several,
cannot both move it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.poll.detect import Cursor, Gap
from notifier.state.schema import cursors, naive
from notifier.state.store import StateStore


def gaps_to_json(gaps: Iterable[Gap]) -> str:
    return json.dumps([[g.low, g.high, naive(g.since).isoformat()] for g in gaps])


def gaps_from_json(text: str) -> tuple[Gap, ...]:
    return tuple(
        Gap(int(lo), int(hi), datetime.fromisoformat(since).replace(tzinfo=UTC))
        for lo, hi, since in json.loads(text or "[]")
    )


class CursorStore(StateStore):
    """Reading and creating cursors; moving one is part of ``Outbox.commit_batch``."""

    async def load_cursor(self, stream: str) -> Cursor | None:
        async def work(conn: AsyncConnection) -> Cursor | None:
            row = (
                await conn.execute(select(cursors).where(cursors.c.stream == stream))
            ).one_or_none()
            if row is None:
                return None
            return Cursor(int(row.position), gaps_from_json(row.gaps), int(row.version))

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
                "updated_at": naive(now),
            }
            result = await conn.execute(self._insert_ignore(cursors, ["stream"]).values(**values))
            return bool(result.rowcount)

        created: bool = await self._run(work)
        return created
