"""Digests: what waited during a burst (or for a daily digest) in one email.

``run_digests`` builds every digest that is due: it asks the comment store which
of the waiting comments are still as they were (approved, spammed, trashed or
deleted ones are left out), renders one email listing the rest, newest first,
and enqueues it while marking its items, in one transaction.  A digest with
nothing left is not sent.  If the comment store cannot be reached, the digest
waits for it up to one ``NOTIFIER_DIGEST_WINDOW``, then goes out unfiltered and
says so: a late or slightly stale list is better than a lost one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from typing import Any

from notifier.errors import MessageBuildError, SourceError, TemplateError
from notifier.flow.items import counts, item_context, still_open
from notifier.flow.schedule import DailyDigest, next_daily
from notifier.mail.compose import compose
from notifier.mail.render import Renderer
from notifier.mail.route import DIGEST
from notifier.mail.threads import Threading
from notifier.poll.holds import StatusSource
from notifier.settings import Settings
from notifier.state.flow import LEFT_OUT, FlowStore, QueuedItem
from notifier.state.outbox import OutboxEntry

log = logging.getLogger(__name__)

# One email lists at most this many comments (a few hundred kB); one run reads
# at most PER_RUN per moderator, the rest follow a window later.
PER_MESSAGE = 250
PER_RUN = 1000


@dataclass
class DigestReport:
    emails: int = 0
    listed: int = 0
    left_out: int = 0
    empty: int = 0
    waiting: list[str] = field(default_factory=list)


def _address(settings: Settings, moderator: str) -> Address:
    """The configured address (with its display name), or the stored one."""
    for address in settings.moderators:
        if address.addr_spec.lower() == moderator:
            return address
    local, _, domain = moderator.rpartition("@")
    return Address(username=local, domain=domain)


async def run_digests(
    settings: Settings,
    store: FlowStore,
    source: StatusSource,
    renderer: Renderer,
    now: datetime,
    *,
    pending_count: Callable[[], Any] | None = None,
) -> DigestReport:
    """Build and enqueue every digest due by ``now``."""
    report = DigestReport()
    for moderator, due in await store.due_moderators(now):
        await _one(settings, store, source, renderer, now, moderator, due, report, pending_count)
    return report


def _split(
    items: list[QueuedItem], current: dict[int, str] | None
) -> tuple[list[QueuedItem], list[QueuedItem]]:
    if current is None:
        return items, []
    keep = [i for i in items if still_open(i.status, current.get(i.comment_id))]
    kept = {i.id for i in keep}
    return keep, [i for i in items if i.id not in kept]


async def _one(
    settings: Settings,
    store: FlowStore,
    source: StatusSource,
    renderer: Renderer,
    now: datetime,
    moderator: str,
    due: datetime,
    report: DigestReport,
    pending_count: Callable[[], Any] | None,
) -> None:
    daily = next((d for d in settings.digest_only if d.address == moderator), None)
    window = timedelta(seconds=settings.digest_window)
    items = await store.waiting_items(moderator, PER_RUN)
    current: dict[int, str] | None = None
    if not items:  # another worker listed them: just close this digest
        await store.commit_digest(moderator, due, {}, [], now, lambda: now)
        return
    try:
        current = await source.statuses(sorted({i.comment_id for i in items}))
    except SourceError as exc:
        if now - due < window:
            report.waiting.append(moderator)
            log.warning(
                "digest for %s waits: cannot ask the comment store which comments "
                "are still pending (%s)",
                moderator,
                exc,
                extra={"action": "digest_waiting", "recipient": moderator},
            )
            return
        log.warning(
            "digest for %s sent without checking which comments are still pending: "
            "the comment store has been unreachable since it was due (%s)",
            moderator,
            exc,
            extra={"action": "digest_unchecked", "recipient": moderator},
        )
    keep, left = _split(items, current)
    listed = {i.id: LEFT_OUT for i in left}
    pending = await _pending(pending_count)
    # Newest first, as a mailbox lists them (and the parts follow that order).
    keep.sort(key=lambda i: (i.at, i.id), reverse=True)
    chunks = [keep[n : n + PER_MESSAGE] for n in range(0, len(keep), PER_MESSAGE)]
    entries = []
    for number, chunk in enumerate(chunks, start=1):
        key = f"digest:{due.isoformat()}:{number}"
        context = digest_context(
            settings.site_name,
            chunk,
            left_out=len(left) if number == 1 else 0,
            checked=current is not None,
            part=number,
            parts=len(chunks),
            daily=daily,
            pending_count=pending,
            now=now,
        )
        entries.append(_entry(settings, renderer, key, moderator, context, now))
        listed.update({i.id: key for i in chunk})

    def next_due() -> datetime:
        if daily is not None:
            return next_daily(now, daily.at, daily.zone)
        return max(due + window, now)

    if not await store.commit_digest(moderator, due, listed, entries, now, next_due):
        log.info(
            "another worker built the digest for %s first",
            moderator,
            extra={"action": "digest_race", "recipient": moderator},
        )
        return
    report.left_out += len(left)
    if not entries:
        report.empty += 1
        log.info(
            "digest for %s not sent: all %d waiting comment(s) were handled meanwhile",
            moderator,
            len(items),
            extra={"action": "digest_empty", "recipient": moderator, "left_out": len(left)},
        )
        return
    report.emails += len(entries)
    report.listed += len(keep)
    for entry in entries:
        if entry.message is None:
            log.error(
                "dead letter %s to %s: %s",
                entry.event_key,
                moderator,
                entry.error,
                extra={"action": "enqueue_dead", "event": entry.event_key},
            )
    log.info(
        "digest for %s: %d comment(s) and flag(s) in %d email(s), %d left out as handled",
        moderator,
        len(keep),
        len(entries),
        len(left),
        extra={
            "action": "digest_sent",
            "recipient": moderator,
            "listed": len(keep),
            "left_out": len(left),
        },
    )


async def _pending(pending_count: Callable[[], Any] | None) -> int | None:
    if pending_count is None:
        return None
    try:
        return int(await pending_count())
    except SourceError:
        return None


def digest_context(
    site_name: str,
    chunk: list[QueuedItem],
    *,
    left_out: int,
    checked: bool,
    part: int,
    parts: int,
    daily: DailyDigest | None,
    pending_count: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The template variables of one digest email."""
    # Newest first, as a mailbox lists them.
    newest = sorted(chunk, key=lambda i: (i.at, i.id), reverse=True)
    items = [item_context(i.item, at=i.at) for i in newest]
    moderate = next((i["links"]["moderate"] for i in items if i["links"].get("moderate")), None)
    return {
        "site_name": site_name,
        "items": items,
        "counts": counts(items),
        "left_out": left_out,
        "checked": checked,
        "part": part,
        "parts": parts,
        "daily": daily is not None,
        "since": min((i.at for i in chunk), default=now),
        "until": now,
        "pending_count": pending_count,
        "moderate_link": moderate,
    }


def _entry(
    settings: Settings,
    renderer: Renderer,
    key: str,
    moderator: str,
    context: dict[str, Any],
    now: datetime,
) -> OutboxEntry:
    """One rendered email, or a dead letter saying why it could not be built."""
    recipient = _address(settings, moderator)
    try:
        rendered = renderer.render(DIGEST, context)
        composed = compose(
            rendered,
            sender=settings.mail_from,
            recipient=recipient,
            reply_to=None,
            now=now,
            auto_submitted=True,
            moderator=Threading.of(settings).machine(),
        )
    except (TemplateError, MessageBuildError) as exc:
        return OutboxEntry(key, moderator, DIGEST, None, None, None, str(exc))
    return OutboxEntry(key, moderator, DIGEST, None, composed.message_id, composed.data)
