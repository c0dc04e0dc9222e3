"""Reminders: pending comments and flags nobody acted on for too long.

Every pending comment and every flag (except medical questions, which the
InfoLine answers) is watched from the moment the moderators hear of it.  Once
``NOTIFIER_REMIND_AFTER`` has passed, ``run_reminders`` asks the comment store
whether it is still as it was; those that are get one reminder email to each
moderator, listing them, and are then forgotten: an item is in at most one
reminder, so the same list never comes twice, and no reminder goes out unless
something newly became overdue.  Moderators who chose a daily digest get no
reminders: they asked for one email a day.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from notifier.errors import MessageBuildError, SourceError, TemplateError
from notifier.flow.items import counts, item_context, still_open
from notifier.mail.compose import compose
from notifier.mail.render import Renderer
from notifier.mail.route import REMINDER
from notifier.mail.threads import Threading
from notifier.poll.holds import StatusSource
from notifier.settings import Settings
from notifier.state.flow import FlowStore, QueuedItem
from notifier.state.outbox import OutboxEntry

log = logging.getLogger(__name__)

# One reminder lists at most this many items; more follow at the next run.
PER_RUN = 250


def waited(seconds: float) -> str:
    """``24 hours``, ``90 minutes``: how long items waited, in words."""
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour{'' if hours == 1 else 's'}"
    minutes = round(seconds / 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


@dataclass
class ReminderReport:
    overdue: int = 0
    done: int = 0
    emails: int = 0
    waiting: bool = False


def reminder_context(
    site_name: str, overdue: list[QueuedItem], *, remind_after: float, pending_count: int | None
) -> dict[str, Any]:
    """The template variables of a reminder, longest waiting first."""
    items = [item_context(r.item, at=r.at) for r in overdue]
    moderate = next((i["links"]["moderate"] for i in items if i["links"].get("moderate")), None)
    return {
        "site_name": site_name,
        "items": items,
        "counts": counts(items),
        "waited": waited(remind_after),
        "pending_count": pending_count,
        "moderate_link": moderate,
    }


async def run_reminders(
    settings: Settings,
    store: FlowStore,
    source: StatusSource,
    renderer: Renderer,
    now: datetime,
    *,
    pending_count: Callable[[], Any] | None = None,
) -> ReminderReport:
    """Send one reminder for the items newly overdue by ``now``, if there are any."""
    report = ReminderReport()
    if settings.remind_after <= 0:
        return report
    after = timedelta(seconds=settings.remind_after)
    rows = await store.overdue(now - after, PER_RUN)
    if not rows:
        return report
    try:
        current = await source.statuses(sorted({r.comment_id for r in rows}))
    except SourceError as exc:
        # Reminders are not urgent: try again at the next run.
        report.waiting = True
        log.warning(
            "reminders wait: cannot ask the comment store what is still pending (%s)",
            exc,
            extra={"action": "reminder_waiting"},
        )
        return report
    overdue = [r for r in rows if still_open(r.status, current.get(r.comment_id))]
    report.overdue, report.done = len(overdue), len(rows) - len(overdue)
    daily = {d.address for d in settings.digest_only}
    recipients = [m for m in settings.moderators if m.addr_spec.lower() not in daily]
    entries: list[OutboxEntry] = []
    if overdue:
        ids = ",".join(str(r.id) for r in overdue)
        key = "reminder:" + hashlib.sha256(ids.encode()).hexdigest()[:24]
        pending = None
        if pending_count is not None:
            try:
                pending = int(await pending_count())
            except SourceError:
                pending = None
        context = reminder_context(
            settings.site_name, overdue, remind_after=settings.remind_after, pending_count=pending
        )
        for recipient in recipients:
            try:
                rendered = renderer.render(REMINDER, context)
                composed = compose(
                    rendered,
                    sender=settings.mail_from,
                    recipient=recipient,
                    reply_to=None,
                    now=now,
                    auto_submitted=True,
                    moderator=Threading.of(settings).machine(),
                )
                entries.append(
                    OutboxEntry(
                        key,
                        recipient.addr_spec,
                        REMINDER,
                        None,
                        composed.message_id,
                        composed.data,
                    )
                )
            except (TemplateError, MessageBuildError) as exc:
                entries.append(
                    OutboxEntry(key, recipient.addr_spec, REMINDER, None, None, None, str(exc))
                )
    if not await store.commit_reminder([r.id for r in rows], entries, now):
        log.info("another worker sent this reminder first", extra={"action": "reminder_race"})
        return report
    report.emails = len(entries)
    for entry in entries:
        if entry.message is None:
            log.error(
                "dead letter %s to %s: %s",
                entry.event_key,
                entry.recipient,
                entry.error,
                extra={"action": "enqueue_dead", "event": entry.event_key},
            )
    if overdue:
        log.info(
            "reminder: %d item(s) waiting more than %s, to %d moderator(s)",
            len(overdue),
            waited(settings.remind_after),
            len(entries),
            extra={"action": "reminder_sent", "overdue": len(overdue), "emails": len(entries)},
        )
    return report
