"""Claims on outbox rows: taken, renewed, settled, given back; and the workers' heartbeats.

Every time here is the database's (``dbtime``), never a worker's:
- a row is due when it is pending, its next attempt has come, and it is free:
  never claimed, its lease expired, or (``take_over_after``) held by a worker
  whose heartbeat is older than that;
- a claim's lease is short and renewed by its worker's heartbeat (``beat``);
- a row is changed only by the worker holding it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from notifier.state.dbtime import db_now
from notifier.state.schema import DEAD, PENDING, SENT, aware, naive, outbox, workers
from notifier.state.store import StateStore

# A worker silent this long holds nothing any more (its claims went long ago):
# its row is forgotten when another worker starts.
FORGET_WORKERS_AFTER = 86400.0


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
    claimed_at: datetime  # the database's time at the claim: ages are measured with it
    previous_owner: str | None = None  # the worker whose claim this took over
    previous_lease_left: float | None = None  # seconds its lease still had to run


class Claims(StateStore):
    """Delivery's side of the state store."""

    def now_sql(self, plus_seconds: float = 0.0) -> ColumnElement[datetime]:
        return db_now(self._dialect, plus_seconds)

    def _free(self, take_over_after: float | None) -> ColumnElement[bool]:
        now = self.now_sql()
        free = or_(outbox.c.lease_expires_at.is_(None), outbox.c.lease_expires_at < now)
        if take_over_after is None:
            return free
        silent = exists().where(
            workers.c.worker_id == outbox.c.lease_owner,
            workers.c.heartbeat_at < self.now_sql(-take_over_after),
        )
        return or_(free, silent)

    async def claim(
        self,
        owner: str,
        limit: int,
        lease_seconds: float,
        *,
        due_by: datetime | None = None,
        take_over_after: float | None = None,
    ) -> list[Claimed]:
        """Lease up to ``limit`` messages due by ``due_by`` (default: now) to ``owner``.

        With ``take_over_after``, rows held by a worker whose heartbeat is older
        than that many seconds are due too.  Rows taken over from another worker
        come before fresh ones.
        """
        pending_and_due = [
            outbox.c.state == PENDING,
            outbox.c.next_attempt_at <= (naive(due_by) if due_by else self.now_sql()),
        ]
        due = [*pending_and_due, self._free(take_over_after)]

        def candidates(taken_over: bool, count: int) -> Any:
            # Rows another worker held (its heartbeat stopped, or its lease ran
            # out) come first: they have waited longest already.  They are read
            # through the lease-owner index (the claimed rows are few; ordering
            # them by due time would walk the whole backlog on every claim).
            # Fresh rows (never claimed, released or retried: no owner, so free)
            # follow in due order, read through the due index.
            if taken_over:
                # ``state || ''``: not the due index's column, so SQLite's planner
                # takes the lease-owner index (ix_notifier_outbox_lease_owner).
                where = [
                    outbox.c.lease_owner.is_not(None),
                    outbox.c.state.concat("") == PENDING,
                    *due[1:],
                ]
                order = (outbox.c.lease_owner, outbox.c.id)
            else:
                where = [outbox.c.lease_owner.is_(None), *pending_and_due]
                order = (outbox.c.next_attempt_at, outbox.c.id)
            query = (
                select(
                    outbox.c.id,
                    outbox.c.lease_owner,
                    outbox.c.lease_expires_at,
                    self.now_sql().label("now"),
                )
                .where(*where)
                .order_by(*order)
                .limit(count)
            )
            if self._dialect == "postgresql":
                # Locked until this transaction ends; other replicas skip them.
                query = query.with_for_update(skip_locked=True, of=outbox)
            return query

        async def work(conn: AsyncConnection) -> list[Claimed]:
            found = list((await conn.execute(candidates(True, limit))).all())
            if len(found) < limit:
                found += (await conn.execute(candidates(False, limit - len(found)))).all()
            if not found:
                return []
            before = {int(r.id): (r.lease_owner, r.lease_expires_at, r.now) for r in found}
            # The conditions again: on SQLite the read above is not locked, and
            # another worker may have taken a row since.
            rows = (
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(list(before)), *due)
                    .values(
                        lease_owner=owner,
                        lease_expires_at=self.now_sql(lease_seconds),
                        attempts=outbox.c.attempts + 1,
                        updated_at=self.now_sql(),
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
                        outbox.c.updated_at,
                    )
                )
            ).all()
            claimed = []
            for r in rows:
                previous, expiry, at = before[int(r.id)]
                left = (expiry - at).total_seconds() if previous and expiry and at else None
                claimed.append(
                    Claimed(
                        id=int(r.id),
                        event_key=r.event_key,
                        recipient=r.recipient,
                        template=r.template,
                        message_id=r.message_id,
                        message=bytes(r.message),
                        attempts=int(r.attempts),
                        created_at=aware(r.created_at) or r.created_at,
                        claimed_at=aware(r.updated_at) or r.updated_at,
                        previous_owner=previous,
                        previous_lease_left=left,
                    )
                )
            # In the order found: taken-over rows first, then by due time.
            order = {row_id: i for i, row_id in enumerate(before)}
            return sorted(claimed, key=lambda c: order[c.id])

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

    async def mark_sent(self, row_id: int, owner: str) -> bool:
        return row_id in await self.mark_sent_many([row_id], owner)

    async def mark_sent_many(self, ids: Sequence[int], owner: str) -> set[int]:
        """Mark rows sent in one transaction; return those ``owner`` still held."""

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
                    sent_at=self.now_sql(),
                    updated_at=self.now_sql(),
                    last_error=None,
                    lease_owner=None,
                    lease_expires_at=None,
                )
                .returning(outbox.c.id)
            )
            return {int(row_id) for (row_id,) in result.all()}

        held: set[int] = await self._run(work, relaxed=True)
        return held

    async def mark_retry(self, row_id: int, owner: str, delay_seconds: float, error: str) -> bool:
        """Due again ``delay_seconds`` from now (the database's now)."""
        return await self._held_update(
            row_id,
            owner,
            next_attempt_at=self.now_sql(delay_seconds),
            updated_at=self.now_sql(),
            last_error=error[:2000],
        )

    async def mark_dead(self, row_id: int, owner: str, error: str) -> bool:
        return await self._held_update(
            row_id, owner, state=DEAD, updated_at=self.now_sql(), last_error=error[:2000]
        )

    async def release(self, owner: str, ids: Sequence[int], *, refund: bool = True) -> int:
        """Give back leases on rows that were claimed.

        ``refund`` takes back the attempt counted at claim time: for rows never
        tried, so a pause or a shutdown does not burn a message's retries.
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

    async def renew(self, owner: str, ids: Sequence[int], lease_seconds: float) -> set[int]:
        """Extend the lease on those of ``ids`` that ``owner`` still holds; return them."""
        if not ids:
            return set()

        async def work(conn: AsyncConnection) -> set[int]:
            result = await conn.execute(
                update(outbox)
                .where(
                    outbox.c.id.in_(list(ids)),
                    outbox.c.lease_owner == owner,
                    outbox.c.state == PENDING,
                )
                .values(lease_expires_at=self.now_sql(lease_seconds))
                .returning(outbox.c.id)
            )
            return {int(row_id) for (row_id,) in result.all()}

        held: set[int] = await self._run(work, relaxed=True)
        return held

    async def release_strays(self, owner: str, keep: Sequence[int] = ()) -> int:
        """Make due again the rows ``owner`` holds in the store but not in memory.

        After a state-store failure a worker may have lost track of claims (a
        release that failed, say): it takes them back at once rather than after
        their lease.  Their attempt stays counted: whether they were tried is
        not known.
        """
        condition = and_(outbox.c.lease_owner == owner, outbox.c.state == PENDING)
        if keep:
            condition = and_(condition, not_(outbox.c.id.in_(list(keep))))

        async def work(conn: AsyncConnection) -> int:
            result = await conn.execute(
                update(outbox).where(condition).values(lease_owner=None, lease_expires_at=None)
            )
            return int(result.rowcount)

        released: int = await self._run(work, relaxed=True)
        return released

    # --- heartbeats --------------------------------------------------------------

    async def beat(self, worker: str, lease_seconds: float) -> None:
        """This worker is alive: its heartbeat, and the lease on all it holds, renewed."""

        async def work(conn: AsyncConnection) -> None:
            changed = await conn.execute(
                update(workers)
                .where(workers.c.worker_id == worker)
                .values(heartbeat_at=self.now_sql())
            )
            if changed.rowcount == 0:
                await conn.execute(
                    self._insert_ignore(workers, ["worker_id"]).values(
                        worker_id=worker,
                        host=socket.gethostname()[:200],
                        pid=os.getpid(),
                        started_at=self.now_sql(),
                        heartbeat_at=self.now_sql(),
                    )
                )
            await conn.execute(
                update(outbox)
                .where(outbox.c.lease_owner == worker, outbox.c.state == PENDING)
                .values(lease_expires_at=self.now_sql(lease_seconds))
            )

        await self._run(work, relaxed=True)

    async def forget_workers(self) -> int:
        """Delete the rows of workers silent for a day (their claims went long ago)."""

        async def work(conn: AsyncConnection) -> int:
            result = await conn.execute(
                workers.delete().where(workers.c.heartbeat_at < self.now_sql(-FORGET_WORKERS_AFTER))
            )
            return int(result.rowcount)

        count: int = await self._run(work, relaxed=True)
        return count

    async def retire(self, worker: str) -> int:
        """A clean stop: give back whatever ``worker`` still holds and remove its row."""

        async def work(conn: AsyncConnection) -> int:
            released = await conn.execute(
                update(outbox)
                .where(outbox.c.lease_owner == worker, outbox.c.state == PENDING)
                .values(lease_owner=None, lease_expires_at=None)
            )
            await conn.execute(workers.delete().where(workers.c.worker_id == worker))
            return int(released.rowcount)

        count: int = await self._run(work, relaxed=True)
        return count


__all__ = ["SENT", "Claimed", "Claims"]
