"""What ``notifier retry`` needs beyond a plain requeue: look rows up, and readdress them.

A dead letter's recipient was fixed when it was built; after an operator fixes
an address in the settings, ``requeue_to`` sends it to the new one, and
``add_copy`` gives one more current recipient its own row (same event key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.state.outbox import Outbox
from notifier.state.schema import DEAD, PENDING, naive, outbox


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    event_key: str
    recipient: str
    template: str
    state: str
    message: bytes | None
    last_error: str


class RetargetingOutbox(Outbox):
    """The outbox with the look-ups and rewrites of ``notifier retry``."""

    async def dead_ids(self) -> list[int]:
        async def work(conn: AsyncConnection) -> list[int]:
            rows = await conn.execute(
                select(outbox.c.id).where(outbox.c.state == DEAD).order_by(outbox.c.id)
            )
            return [int(r) for (r,) in rows.all()]

        found: list[int] = await self._run(work, write=False)
        return found

    async def entries(self, ids: Sequence[int]) -> list[Row]:
        async def work(conn: AsyncConnection) -> list[Row]:
            rows = await conn.execute(select(outbox).where(outbox.c.id.in_(list(ids))))
            return [
                Row(
                    int(r.id),
                    r.event_key,
                    r.recipient,
                    r.template,
                    r.state,
                    bytes(r.message) if r.message is not None else None,
                    r.last_error or "",
                )
                for r in rows.all()
            ]

        found: list[Row] = await self._run(work, write=False)
        return found

    async def has_copy(self, event_key: str, recipient: str) -> bool:
        async def work(conn: AsyncConnection) -> bool:
            count = await conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(
                    outbox.c.event_key == event_key,
                    func.lower(outbox.c.recipient) == recipient.lower(),
                )
            )
            return bool(count.scalar_one())

        found: bool = await self._run(work, write=False)
        return found

    async def requeue_to(self, row_id: int, recipient: str, message: bytes, now: datetime) -> bool:
        """Make dead letter ``row_id`` due again, to ``recipient`` with ``message``."""
        stamp = naive(now)

        async def work(conn: AsyncConnection) -> bool:
            result = await conn.execute(
                update(outbox)
                .where(outbox.c.id == row_id, outbox.c.state == DEAD)
                .values(
                    recipient=recipient,
                    message=message,
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=stamp,
                    created_at=stamp,
                    updated_at=stamp,
                    lease_owner=None,
                    lease_expires_at=None,
                    last_error=None,
                )
            )
            return bool(result.rowcount == 1)

        done: bool = await self._run(work)
        return done

    async def add_copy(self, row_id: int, recipient: str, message: bytes, now: datetime) -> None:
        """A new due row for ``recipient``, with row ``row_id``'s event, template and ids."""
        stamp = naive(now)

        async def work(conn: AsyncConnection) -> None:
            source = (
                await conn.execute(
                    select(
                        outbox.c.event_key,
                        outbox.c.template,
                        outbox.c.comment_id,
                        outbox.c.message_id,
                    ).where(outbox.c.id == row_id)
                )
            ).one()
            await conn.execute(
                insert(outbox).values(
                    event_key=source.event_key,
                    recipient=recipient,
                    template=source.template,
                    comment_id=source.comment_id,
                    message_id=source.message_id,
                    message=message,
                    state=PENDING,
                    attempts=0,
                    created_at=stamp,
                    next_attempt_at=stamp,
                    updated_at=stamp,
                )
            )

        await self._run(work)
