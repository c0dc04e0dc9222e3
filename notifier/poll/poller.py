"""The poll: read what is new, decide who hears about it, render, enqueue.

One batch at a time, each in its own state-store transaction that inserts the
outbox rows *and* moves the cursor, so a crash anywhere loses nothing and a
re-poll enqueues nothing twice.  Memory stays flat however large the backlog.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.errors import MessageBuildError, TemplateError
from notifier.flow.items import flow_item
from notifier.logs import shown_recipient
from notifier.mail.compose import compose
from notifier.mail.links import site_link
from notifier.mail.notices import INFOLINE_CAPPED, infoline_capped
from notifier.mail.render import Renderer, build_context
from notifier.mail.route import (
    COMMENTER_ACK,
    INFOLINE_FORWARD,
    Notification,
    Recipients,
    route_comment,
    route_flag,
    route_hold,
)
from notifier.mail.threads import Threading
from notifier.models import Comment, Flag
from notifier.ops import monitor
from notifier.poll.detect import Cursor, advance
from notifier.poll.holds import HoldWatcher
from notifier.settings import Settings
from notifier.sources import CommentSource
from notifier.state import Outbox, OutboxEntry
from notifier.state.caps import Caps, Limits
from notifier.state.dbtime import db_time
from notifier.state.guard import BurstPolicy, GuardReport, route_batch
from notifier.triage import TriageResult

log = logging.getLogger(__name__)

COMMENTS = "comments"
FLAGS = "flags"
STREAMS = (COMMENTS, FLAGS)
# Not read by id: a cursor whose version serialises the enqueueing of holds.
HOLDS = "holds"


@dataclass
class PollReport:
    comments: int = 0
    flags: int = 0
    holds: int = 0
    enqueued: int = 0
    dead: int = 0
    conflicts: int = 0
    digested: int = 0  # moderator notifications held back for a digest


def _now() -> datetime:
    return datetime.now(UTC)


class Poller:
    """Turns new comments and flags into outbox rows."""

    def __init__(
        self,
        settings: Settings,
        source: CommentSource,
        outbox: Outbox,
        renderer: Renderer,
        *,
        clock: Callable[[], datetime] = _now,
        flow_clock: Callable[[], datetime] | None = None,
        holds: HoldWatcher | None = None,
    ) -> None:
        self._s = settings
        self._holds = holds
        self._source = source
        self._outbox = outbox
        self._renderer = renderer
        self._clock = clock
        # The burst guard's times (when a digest is due, when an item was first
        # seen for reminders) are the state store's, read in the enqueueing
        # transaction, unless a clock is given for it (tests, the demo).
        self._flow_clock = flow_clock
        self._lookback = timedelta(seconds=settings.lookback_seconds)
        self._burst = BurstPolicy(
            after=settings.digest_after,
            window=timedelta(seconds=settings.digest_window),
            daily={d.address: d for d in settings.digest_only},
            remind=settings.remind_after > 0,
        )
        self._scorer: Callable[..., TriageResult] | None = None
        self._threading = Threading.of(settings)
        self._recipients = Recipients(
            moderators=tuple(settings.moderators),
            infoline=settings.infoline_address,
            triage=settings.triage,
            ack_commenter=settings.ack_commenter,
            sender=settings.mail_from,
        )
        self._caps = Caps(
            Limits(
                ack_per_domain_per_hour=settings.ack_max_per_domain_per_hour,
                ack_per_hour=settings.ack_max_per_hour,
                infoline_per_hour=settings.infoline_max_per_hour,
            ),
            self._capped_notices,
        )

    async def start(self) -> None:
        """Create the cursors on first start: from now, or from the beginning.

        With triage on, also choose its model: the site's own if `notifier triage
        learn` saved one, else the shipped one (read on the first comment scored).
        """
        if self._s.triage != "off":
            from notifier.triage.learn import load_scorer  # the model only when triage is on

            self._scorer = await load_scorer(self._outbox)
        if self._holds is not None:
            await self._holds.create()
            await self._outbox.init_cursor(HOLDS, 0, self._clock())
        if self._s.start_from == "beginning":
            heads = (0, 0)
        else:
            if all([await self._outbox.load_cursor(s) for s in STREAMS]):
                return
            heads = await self._source.head()
        now = self._clock()
        for stream, head in zip(STREAMS, heads, strict=True):
            if await self._outbox.init_cursor(stream, head, now):
                log.info(
                    "%s start at id %d (%s)",
                    stream,
                    head,
                    "from the beginning" if head == 0 else "from now; history is not mailed",
                    extra={"action": "cursor_init", "stream": stream, "position": head},
                )

    async def poll(self) -> PollReport:
        """Read every stream to its end, one batch per transaction."""
        report = PollReport()
        pending: list[int | None] = [None]  # asked once per poll, and only if needed

        async def pending_count() -> int | None:
            if pending[0] is None:
                pending[0] = await self._source.pending_count()
            return pending[0]

        progress = monitor.Progress("poll: comments and flags read")
        for stream in STREAMS:
            while True:
                cursor = await self._outbox.load_cursor(stream)
                if cursor is None:
                    raise RuntimeError(f"cursor {stream!r} missing: start() was not called")
                now = self._clock()
                gaps = cursor.gap_ranges()
                items: Sequence[Comment | Flag]
                if stream == COMMENTS:
                    items = await self._source.comments(cursor.position, gaps, self._s.batch_size)
                else:
                    items = await self._source.flags(cursor.position, gaps, self._s.batch_size)
                new = advance(cursor, (i.id for i in items), now=now, lookback=self._lookback)
                if not items and new.gaps == cursor.gaps:
                    break
                entries = []
                if items:
                    count = await pending_count()
                    for item in items:
                        entries.extend(self._entries(item, count, now))
                        # Rendering is CPU work on the event loop: let the heartbeat
                        # and the deliveries run between comments of a large batch.
                        await asyncio.sleep(0)
                moved = await self._commit(stream, cursor, new, entries, now, report)
                if moved and stream == COMMENTS and self._holds is not None:
                    await self._holds.remember([c for c in items if isinstance(c, Comment)], now)
                # A dropped batch (another poll moved the cursor first) is that poll's.
                read = len(items) if moved else 0
                if stream == COMMENTS:
                    report.comments += read
                    monitor.seen(comments=read)
                else:
                    report.flags += read
                    monitor.seen(flags=read)
                progress.advance(read)
                if not moved or len(items) < self._s.batch_size:
                    break
        if self._holds is not None:
            await self._poll_holds(report, pending_count)
        return report

    async def _poll_holds(
        self, report: PollReport, pending_count: Callable[[], Awaitable[int | None]]
    ) -> None:
        """Comments moved from approved back to pending reach the moderators."""
        assert self._holds is not None
        now = self._clock()
        holds, changed = await self._holds.look(now)
        if not changed:
            return
        entries = []
        if holds:
            count = await pending_count()
            for hold in holds:
                found = await self._source.comments(hold.comment_id - 1, [], 1)
                if not found or found[0].id != hold.comment_id:
                    continue  # deleted since
                for note in route_hold(found[0], hold.occurrence, self._recipients, now=now):
                    entries.append(self._entry(note, count, now))
        cursor = await self._outbox.load_cursor(HOLDS)
        if cursor is None:
            raise RuntimeError("cursor 'holds' missing: start() was not called")
        # Enqueue first, remember the statuses after: a crash in between sees
        # the same holds again, and the outbox's keys keep them from doubling.
        bumped = Cursor(cursor.position, cursor.gaps, cursor.version + 1)
        if await self._commit(HOLDS, cursor, bumped, entries, now, report):
            await self._holds.record(holds, changed, now)
            report.holds += len(holds)
            monitor.seen(holds=len(holds))

    async def _commit(
        self,
        stream: str,
        old: Cursor,
        new: Cursor,
        entries: list[OutboxEntry],
        now: datetime,
        report: PollReport,
    ) -> bool:
        guard = GuardReport()

        async def route(
            conn: AsyncConnection, batch: Sequence[OutboxEntry], at: datetime
        ) -> Sequence[OutboxEntry]:
            # The caps (state/caps.py), then the burst guard (state/guard.py), decide in
            # the enqueueing transaction.
            admitted = await self._caps.admit(conn, batch, at)
            due_clock = (
                self._flow_clock()
                if self._flow_clock is not None
                else await db_time(conn, self._outbox.dialect)
            )
            return await route_batch(
                conn, self._outbox.dialect, admitted, due_clock, self._burst, guard
            )

        moved, queued = await self._outbox.commit_batch(stream, old, new, entries, now, route=route)
        if not moved:
            report.conflicts += 1
            log.info(
                "another poll moved the %s cursor first; leaving this batch to it",
                stream,
                extra={"action": "poll_conflict", "stream": stream},
            )
            return False
        report.enqueued += len(queued)
        monitor.enqueued(queued, [e.template for e in entries if e.message is None])
        report.digested += guard.digested
        for moderator, due in guard.opened:
            log.info(
                "burst: more mail for %s waits for a digest due at %s",
                moderator,
                due.isoformat(),
                extra={"action": "digest_opened", "recipient": moderator},
            )
        for entry in entries:
            if entry.message is None:
                report.dead += 1
                log.error(
                    "dead letter %s to %s: %s",
                    entry.event_key,
                    shown_recipient(entry.template, entry.recipient),
                    entry.error,
                    extra={"action": "enqueue_dead", "event": entry.event_key},
                )
        return True

    def _capped_notices(self, hour: datetime, until: datetime) -> list[OutboxEntry]:
        """One notice per moderator that InfoLine forwards wait (one per capped hour)."""
        rendered = infoline_capped(self._s.site_name, self._s.infoline_max_per_hour, hour, until)
        key = f"infoline_capped:{hour:%Y-%m-%dT%H}"
        entries = []
        for moderator in self._recipients.moderators:
            composed = compose(
                rendered,
                sender=self._s.mail_from,
                recipient=moderator,
                reply_to=None,
                now=self._clock(),
                auto_submitted=True,
            )
            entries.append(
                OutboxEntry(
                    key,
                    moderator.addr_spec,
                    INFOLINE_CAPPED,
                    None,
                    composed.message_id,
                    composed.data,
                )
            )
        return entries

    def _entries(
        self, item: Comment | Flag, pending: int | None, now: datetime
    ) -> list[OutboxEntry]:
        today = now.date()
        if isinstance(item, Flag):
            notes = route_flag(item, self._recipients, today=today)
        else:
            verdict = None
            if self._scorer is not None and not item.is_junk:
                threshold = self._s.triage_threshold
                verdict = self._scorer(item.body, item.author_name, threshold=threshold)
                monitor.triage_verdict(verdict.medical_question)
            notes = route_comment(item, self._recipients, triage=verdict, today=today)
        self._note_foreign_link(item if isinstance(item, Comment) else item.comment, notes)
        return [self._entry(note, pending, now) for note in notes]

    def _note_foreign_link(self, comment: Comment, notes: list[Notification]) -> None:
        """Say so when a post's URL leads off the site: its emails show the title only."""
        url = comment.post.url
        site = self._s.link_site_url
        if notes and site and url and site_link(url, site) is None:
            log.warning(
                "post %s: its URL is not on NOTIFIER_SITE_URL's host; shown without a link",
                comment.post.id,
                extra={"action": "link_refused", "post": comment.post.id},
            )

    def _entry(self, note: Notification, pending: int | None, now: datetime) -> OutboxEntry:
        """Render and compose one notification; a failure becomes a dead letter, not a crash."""
        recipient = note.recipient.addr_spec
        try:
            context = build_context(
                note,
                site_name=self._s.site_name,
                pending_count=pending,
                site_url=self._s.link_site_url,
                moderator_mail=self._s.moderator_mail,
            )
            rendered = self._renderer.render(note.template, context)
            to_moderator = note.template not in (INFOLINE_FORWARD, COMMENTER_ACK)
            composed = compose(
                rendered,
                sender=self._s.mail_from,
                recipient=note.recipient,
                reply_to=note.reply_to,
                now=now,
                auto_submitted=note.template != INFOLINE_FORWARD,
                moderator=(
                    self._threading.for_post(note.comment.post.id, note.comment.parent_id)
                    if to_moderator
                    else None
                ),
            )
        except (TemplateError, MessageBuildError) as exc:
            return OutboxEntry(
                note.event_key, recipient, note.template, note.comment.id, None, None, str(exc)
            )
        return OutboxEntry(
            note.event_key,
            recipient,
            note.template,
            note.comment.id,
            composed.message_id,
            composed.data,
            flow=flow_item(
                note,
                site_name=self._s.site_name,
                site_url=self._s.link_site_url,
                moderator_mail=self._s.moderator_mail,
            ),
        )
