"""Caps on what the public can make notifier send, kept in the state store.

Checked inside the transaction that enqueues a batch (``Outbox.commit_batch``),
which competing polls already serialise, so two replicas cannot both let the
same acknowledgement through:

* acknowledgements: one per *mailbox* per day (``addresses.mailbox``: case,
  ``+tag`` and Gmail dots do not make a new mailbox), at most
  NOTIFIER_ACK_MAX_PER_DOMAIN_PER_HOUR to one recipient domain and
  NOTIFIER_ACK_MAX_PER_HOUR in all.  One held back by a cap is dropped, not
  delayed: an acknowledgement hours late is worthless, and a flood of them is
  what the cap is there to stop.
* InfoLine forwards: at most NOTIFIER_INFOLINE_MAX_PER_HOUR are scheduled in any
  clock hour; the rest wait, in order, for the next hours with room (they stay
  in the outbox and are never dropped), and the moderators get one notice per
  capped hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.mail.addresses import mailbox, mailbox_token
from notifier.mail.route import COMMENTER_ACK, INFOLINE_FORWARD
from notifier.state.dbtime import db_now
from notifier.state.outbox import OutboxEntry
from notifier.state.schema import acks, aware, naive, outbox

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Limits:
    ack_per_domain_per_hour: int
    ack_per_hour: int
    infoline_per_hour: int


# The moderators' notice that forwards wait: (the capped hour, when the last one goes).
NoticeBuilder = Callable[[datetime, datetime], list[OutboxEntry]]


class Caps:
    """Admits a batch: drops acknowledgements over a cap, schedules forwards over theirs."""

    def __init__(self, limits: Limits, notice: NoticeBuilder) -> None:
        self._limits = limits
        self._notice = notice

    async def admit(
        self, conn: AsyncConnection, entries: Sequence[OutboxEntry], now: datetime
    ) -> list[OutboxEntry]:
        """The entries to enqueue, in order; ``Admit`` for ``Outbox.commit_batch``."""
        capped = {
            id(e)
            for e in entries
            if e.message is not None and e.template in (COMMENTER_ACK, INFOLINE_FORWARD)
        }
        if not capped:
            return list(entries)
        # A row read again (a gap, a second flag) is already queued: the insert
        # will ignore it, and it must not count against a cap a second time.
        keys = [(e.event_key, e.recipient) for e in entries if id(e) in capped]
        found = await conn.execute(
            select(outbox.c.event_key, outbox.c.recipient).where(
                tuple_(outbox.c.event_key, outbox.c.recipient).in_(keys)
            )
        )
        queued = {(row.event_key, row.recipient) for row in found}
        # Forwards are scheduled, and acknowledgements counted per day and per hour, by
        # the state store's clock, as every due time is: replicas whose clocks disagree
        # share one day and one hour, and a clock a day ahead cannot send a second
        # acknowledgement "tomorrow".
        clock = aware((await conn.execute(select(db_now(conn.dialect.name)))).scalar_one()) or now
        admitted: list[OutboxEntry] = []
        dropped: dict[str, int] = {}
        slots: dict[datetime, int] = {}
        waiting: list[datetime] = []
        for entry in entries:
            if id(entry) not in capped or (entry.event_key, entry.recipient) in queued:
                admitted.append(entry)
            elif entry.template == COMMENTER_ACK:
                refused = await self._ack(conn, entry, clock)
                if refused is None:
                    admitted.append(entry)
                else:
                    dropped[refused] = dropped.get(refused, 0) + 1
            else:
                slot = await self._slot(conn, clock, slots)
                if slot > clock:
                    waiting.append(slot)
                admitted.append(replace(entry, not_before=slot))
        for reason, count in dropped.items():
            capped_now = reason.startswith("the cap")
            log.log(
                logging.WARNING if capped_now else logging.INFO,
                "%d acknowledgement(s) not sent: %s",
                count,
                reason,
                extra={"action": "ack_capped" if capped_now else "ack_skipped", "count": count},
            )
        if waiting:
            hour = _hour(clock)
            log.warning(
                "%d InfoLine forward(s) wait: the cap of %d an hour "
                "(NOTIFIER_INFOLINE_MAX_PER_HOUR) was reached; the last goes at %s",
                len(waiting),
                self._limits.infoline_per_hour,
                f"{waiting[-1]:%Y-%m-%d %H:%M} UTC",
                extra={"action": "infoline_capped", "waiting": len(waiting)},
            )
            admitted.extend(self._notice(hour, waiting[-1]))
        return admitted

    async def _ack(self, conn: AsyncConnection, entry: OutboxEntry, now: datetime) -> str | None:
        """None if the acknowledgement may go (and it is counted), else why not."""
        token = mailbox_token(entry.recipient)
        domain = mailbox(entry.recipient).rpartition("@")[2]
        day = now.date().isoformat()
        seen = await conn.execute(
            select(acks.c.mailbox).where(acks.c.mailbox == token, acks.c.day == day)
        )
        if seen.first() is not None:
            return "that mailbox already had one today"
        in_domain, in_all = (
            await conn.execute(
                select(
                    func.coalesce(func.sum(case((acks.c.domain == domain, 1), else_=0)), 0),
                    func.count(),
                ).where(acks.c.created_at > naive(now - HOUR))
            )
        ).one()
        if int(in_domain) >= self._limits.ack_per_domain_per_hour:
            return (
                f"the cap of {self._limits.ack_per_domain_per_hour} an hour to one domain "
                f"({domain}; NOTIFIER_ACK_MAX_PER_DOMAIN_PER_HOUR) was reached: dropped"
            )
        if int(in_all) >= self._limits.ack_per_hour:
            return (
                f"the cap of {self._limits.ack_per_hour} an hour "
                "(NOTIFIER_ACK_MAX_PER_HOUR) was reached: dropped"
            )
        await conn.execute(
            acks.insert().values(mailbox=token, day=day, domain=domain, created_at=naive(now))
        )
        return None

    async def _slot(
        self, conn: AsyncConnection, now: datetime, slots: dict[datetime, int]
    ) -> datetime:
        """When the next forward may go: now, or the start of the first hour with room."""
        hour = _hour(now)
        while True:
            if hour not in slots:
                count = await conn.execute(
                    select(func.count())
                    .select_from(outbox)
                    .where(
                        outbox.c.template == INFOLINE_FORWARD,
                        outbox.c.next_attempt_at >= naive(hour),
                        outbox.c.next_attempt_at < naive(hour + HOUR),
                    )
                )
                slots[hour] = int(count.scalar_one())
            if slots[hour] < self._limits.infoline_per_hour:
                slots[hour] += 1
                return max(now, hour)
            hour += HOUR


def _hour(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)
