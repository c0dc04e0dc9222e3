"""Service bookkeeping: the last poll and delivery, a pause, and ``notifier status``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.state.dbtime import db_now
from notifier.state.schema import DEAD, PENDING, SENT, aware, naive, outbox, service_meta
from notifier.state.store import StateStore


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
    smtp_unreachable: str = ""


@dataclass(frozen=True, slots=True)
class Depth:
    """The outbox gauges: messages by state, and how long the oldest due one has waited."""

    counts: dict[str, int]
    oldest_due_age: float


class Bookkeeping(StateStore):
    """What the service records about itself, and the counts ``notifier status`` shows."""

    async def set_meta(self, name: str, value: str, now: datetime) -> None:
        async def work(conn: AsyncConnection) -> None:
            changed = await conn.execute(
                update(service_meta)
                .where(service_meta.c.name == name)
                .values(value=value, updated_at=naive(now))
            )
            if changed.rowcount == 0:
                await conn.execute(
                    self._insert_ignore(service_meta, ["name"]).values(
                        name=name, value=value, updated_at=naive(now)
                    )
                )

        await self._run(work)

    async def stats(self, now: datetime, *, dead_letters: int = 10) -> Stats:

        async def work(conn: AsyncConnection) -> Stats:
            def count(*conditions: Any) -> Any:
                return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

            pending = outbox.c.state == PENDING
            row = (
                await conn.execute(
                    select(
                        count(pending, outbox.c.last_error.is_(None)),
                        count(pending, outbox.c.last_error.is_not(None)),
                        count(pending, outbox.c.lease_expires_at > db_now(self._dialect)),
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
                oldest_pending=aware(oldest),
                last_poll=meta.get("last_poll"),
                last_delivery=meta.get("last_delivery"),
                delivery_paused=meta.get("delivery_paused", ""),
                poll_error=meta.get("poll_error", ""),
                smtp_unreachable=meta.get("smtp_unreachable", ""),
                dead_letters=[
                    DeadLetter(
                        int(r.id),
                        r.event_key,
                        r.recipient,
                        r.last_error or "",
                        aware(r.updated_at) or now,
                    )
                    for r in dead
                ],
            )

        result: Stats = await self._run(work, write=False)
        return result

    async def depth(self, now: datetime) -> Depth:
        """Pending (never tried), retrying and dead counts, and the oldest due message's wait.

        Read at each scrape: the counts use the (state, next_attempt_at) index.
        """
        stamp = naive(now)

        async def work(conn: AsyncConnection) -> Depth:
            retrying = case((outbox.c.last_error.is_(None), PENDING), else_="retrying")
            rows = (
                await conn.execute(
                    select(retrying, func.count())
                    .where(outbox.c.state == PENDING)
                    .group_by(retrying)
                )
            ).all()
            counts = {str(state): int(n) for state, n in rows}
            counts[DEAD] = int(
                (
                    await conn.execute(
                        select(func.count()).select_from(outbox).where(outbox.c.state == DEAD)
                    )
                ).scalar_one()
            )
            oldest_due = (
                await conn.execute(
                    select(func.min(outbox.c.next_attempt_at)).where(
                        outbox.c.state == PENDING, outbox.c.next_attempt_at <= stamp
                    )
                )
            ).scalar()
            age = (stamp - oldest_due).total_seconds() if oldest_due is not None else 0.0
            return Depth(counts, max(age, 0.0))

        result: Depth = await self._run(work, write=False)
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
