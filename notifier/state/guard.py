"""The burst guard: mail a moderator notification now, or hold it for a digest.

It runs inside the poll's enqueueing transaction (``Outbox.commit_batch`` calls
``route_batch``), so "mail now" and "wait for the digest" are decided and written
atomically with the cursor: a crash or a competing replica can neither lose a
notification nor put it in both an email and a digest.  The moderator's row in
``notifier_digest_moderators`` is locked while deciding, so two polls (the
comments and the flags streams, or two replicas) count the same window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.flow.schedule import DailyDigest, burst_digest_due, next_daily
from notifier.state.flow import (
    DIGEST,
    MAIL,
    digest_items,
    digest_moderators,
    insert_ignore,
    lock_moderator,
    reminder_watch,
)
from notifier.state.outbox import OutboxEntry
from notifier.state.schema import aware as _aware
from notifier.state.schema import naive as _naive


@dataclass(frozen=True, slots=True)
class BurstPolicy:
    after: int
    window: timedelta
    daily: dict[str, DailyDigest]
    # Watch pending items for reminders (NOTIFIER_REMIND_AFTER > 0).
    remind: bool = True


@dataclass
class GuardReport:
    mailed: int = 0
    digested: int = 0
    # (moderator, due): digests opened by this batch.
    opened: list[tuple[str, datetime]] = field(default_factory=list)


async def route_batch(
    conn: AsyncConnection,
    dialect: str,
    entries: Sequence[OutboxEntry],
    now: datetime,
    policy: BurstPolicy,
    report: GuardReport,
) -> list[OutboxEntry]:
    """Inside the enqueueing transaction: which entries go to the outbox now.

    Entries with a ``flow`` item are moderator notifications: each is mailed at
    once unless its moderator has had ``policy.after`` in the last window, has a
    digest open, or chose a daily digest; then it waits for the digest instead.
    """
    stamp = _naive(now)
    held: set[int] = set()  # id() of the entries that wait for a digest
    watched: dict[str, dict[str, Any]] = {}
    by_moderator: dict[str, list[OutboxEntry]] = defaultdict(list)
    for entry in entries:
        if entry.flow is None:
            continue
        by_moderator[entry.recipient.lower()].append(entry)
        if policy.remind and entry.flow.watch and entry.event_key not in watched:
            watched[entry.event_key] = {
                "event_key": entry.event_key,
                "comment_id": entry.flow.comment_id,
                "status": entry.flow.status,
                "item": entry.flow.item,
                "seen_at": stamp,
            }
    if watched:
        await conn.execute(
            insert_ignore(dialect, reminder_watch, ["event_key"]),
            list(watched.values()),
        )
    # One moderator after another, always in the same order: no deadlocks.
    for moderator in sorted(by_moderator):
        state = await lock_moderator(conn, dialect, moderator)
        batch = by_moderator[moderator]
        decided = set(
            (
                await conn.execute(
                    select(digest_items.c.event_key).where(
                        digest_items.c.moderator == moderator,
                        digest_items.c.event_key.in_([e.event_key for e in batch]),
                    )
                )
            ).scalars()
        )
        fresh = [e for e in batch if e.event_key not in decided]
        # Decided before (a hold seen again after a crash): mailed then, or
        # waiting for its digest now; either way not enqueued again.
        held.update(id(e) for e in batch if e.event_key in decided)
        if not fresh:
            continue
        next_at = _aware(state.next_at)
        daily = policy.daily.get(moderator)
        count, oldest = 0, None
        if daily is None and next_at is None:
            row = (
                await conn.execute(
                    select(func.count(), func.min(digest_items.c.created_at)).where(
                        digest_items.c.moderator == moderator,
                        digest_items.c.created_at > _naive(now - policy.window),
                    )
                )
            ).one()
            count, oldest = int(row[0]), _aware(row[1])
        rows = []
        for entry in fresh:
            assert entry.flow is not None
            if daily is None and next_at is None and count < policy.after:
                mode = MAIL
                report.mailed += 1
            else:
                mode = DIGEST
                held.add(id(entry))
                report.digested += 1
                if next_at is None:
                    next_at = (
                        next_daily(now, daily.at, daily.zone)
                        if daily is not None
                        else burst_digest_due(oldest or now, _aware(state.last_due), policy.window)
                    )
            oldest = oldest or now
            count += 1
            rows.append(
                {
                    "moderator": moderator,
                    "event_key": entry.event_key,
                    "comment_id": entry.flow.comment_id,
                    "status": entry.flow.status,
                    "mode": mode,
                    "item": entry.flow.item if mode == DIGEST else None,
                    "created_at": stamp,
                    "digest_key": None,
                }
            )
        await conn.execute(digest_items.insert(), rows)
        if next_at is not None and _aware(state.next_at) != next_at:
            report.opened.append((moderator, next_at))
            await conn.execute(
                update(digest_moderators)
                .where(digest_moderators.c.moderator == moderator)
                .values(next_at=_naive(next_at))
            )
    # In the order given: outbox ids follow the order comments were read.
    return [e for e in entries if id(e) not in held]
