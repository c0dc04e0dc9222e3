"""The service: wires the real parts together.

The only module that constructs sources, stores and transports.  ``once`` does
a single poll and delivery pass; ``notifier.runner`` runs the service until
SIGTERM or SIGINT, with polls and delivery as independent tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from notifier.delivery.deliver import Deliverer, DeliveryReport
from notifier.delivery.gate import StoreGate
from notifier.delivery.heartbeat import Heartbeat
from notifier.delivery.smtp import MailTransport, SmtpTransport
from notifier.demo.samples import sample_contexts
from notifier.errors import SourceError, StateError, TemplateError
from notifier.flow.jobs import FlowJobs
from notifier.mail.render import Renderer
from notifier.masking import mask_text
from notifier.ops import monitor
from notifier.poll.holds import HoldWatcher, StatusSource
from notifier.poll.poller import Poller, PollReport
from notifier.runner import run_service
from notifier.settings import Settings
from notifier.sources import CommentSource, build_source
from notifier.state import Outbox

log = logging.getLogger(__name__)

# On closing, how long "sent" marks still being written may take to land.
SETTLE_SECONDS = 5.0
# How often the retention purge runs (NOTIFIER_RETENTION_DAYS), after a poll.
RETENTION_EVERY = timedelta(hours=1)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class TickReport:
    poll: PollReport | None
    delivery: DeliveryReport | None
    problems: list[str]


class Service:
    """One worker: a poller and a deliverer over one state store."""

    def __init__(
        self,
        settings: Settings,
        *,
        source: CommentSource | None = None,
        outbox: Outbox | None = None,
        transports: Sequence[MailTransport] | None = None,
        clock: Callable[[], datetime] = _now,
        flow_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.renderer = Renderer(settings.templates_dir)
        self.source = source or build_source(settings)
        self.outbox = outbox or Outbox(settings.state_url)
        self.transports = list(transports or ()) or [
            SmtpTransport(settings) for _ in range(settings.smtp_connections)
        ]
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # The worker's clock: bookkeeping only (last poll, retention's hourly
        # turn).  Digests' and reminders' due times are the state store's clock,
        # unless ``flow_clock`` stands in for it (the tests move it; the demo
        # skips ahead).
        self._clock = clock
        self.holds = (
            HoldWatcher(settings.state_url, self.source, timedelta(days=settings.hold_watch_days))
            # The native store can report statuses too (for digests), but holds are
            # a WordPress habit: its moderators "unapprove".
            if isinstance(self.source, StatusSource)
            and settings.source_kind != "native"
            and settings.hold_watch_days > 0
            else None
        )
        self.poller = Poller(
            settings,
            self.source,
            self.outbox,
            self.renderer,
            clock=clock,
            flow_clock=flow_clock,
            holds=self.holds,
        )
        self.flow = FlowJobs(settings, self.outbox, self.source, self.renderer, flow_clock)
        # Closed while the state store refuses writes: no new sends meanwhile.
        self.gate = StoreGate()
        self.deliverer = Deliverer(
            settings, self.outbox, self.transports, self.owner, gate=self.gate
        )
        self.heartbeat = Heartbeat(
            self.outbox,
            self.owner,
            self.gate,
            worker_timeout=settings.worker_timeout,
            lease_seconds=settings.lease_seconds,
        )
        self._beating: asyncio.Future[None] | None = None
        self._paused: str | None = None
        self._unreachable: str | None = None
        self._meta: dict[str, str] = {}
        self.poll_error = ""
        self.delivery_error = ""
        self._purged_at: datetime | None = None

    def check_templates(self) -> None:
        """Render every template with sample data now, not at 3 a.m. on the first send."""
        problems = self.renderer.check(sample_contexts(self.settings.site_name))
        if problems:
            raise TemplateError("templates", "; ".join(problems))

    async def open(self) -> None:
        """Check templates, set up or upgrade the state store, start the heartbeat."""
        self.check_templates()
        if self.settings.infoline_address is None:
            log.warning(
                "NOTIFIER_INFOLINE_ADDRESS is not set: medical questions are NOT forwarded",
                extra={"action": "config"},
            )
        if self.settings.link_site_url is None:
            log.warning(
                "NOTIFIER_SITE_URL is not set: emails carry no links to posts or moderation",
                extra={"action": "config"},
            )
        log.info(
            "moderators' mail: %s (NOTIFIER_MODERATOR_MAIL)",
            self.settings.moderator_mail,
            extra={"action": "config", "moderator_mail": self.settings.moderator_mail},
        )
        await self.outbox.create()
        await self.outbox.forget_workers()
        # The first heartbeat before the first claim: a worker killed from here
        # on has its claims taken over within NOTIFIER_WORKER_TIMEOUT.
        await self.heartbeat.beat()
        self._beating = asyncio.ensure_future(self.heartbeat.run())
        await self.poller.start()

    async def poll(self) -> PollReport | None:
        """One poll, abandoned after NOTIFIER_SOURCE_TIMEOUT; None if it failed (logged)."""
        poll: PollReport | None = None
        poll_error = ""
        poll_started = time.monotonic()
        try:
            # A store that hangs instead of failing must not hold up anything else.
            async with asyncio.timeout(self.settings.source_timeout):
                poll = await self.poller.poll()
            monitor.poll_succeeded(time.monotonic() - poll_started)
            log.info(
                "poll: %d new comments, %d new flags, %d emails queued, %d dead letters",
                poll.comments,
                poll.flags,
                poll.enqueued,
                poll.dead,
                extra={"action": "poll", "enqueued": poll.enqueued},
            )
        except (SourceError, StateError) as exc:
            poll_error = mask_text(str(exc))
            log.error("poll failed: %s", exc, extra={"action": "poll_failed"})
        except TimeoutError:
            poll_error = f"the poll took longer than {self.settings.source_timeout:g}s"
            log.error("poll failed: %s", poll_error, extra={"action": "poll_failed"})
        except Exception as exc:
            # A bug or a row we did not foresee: say so loudly, with the traceback,
            # but still deliver what is queued (the docstring's promise).
            poll_error = mask_text(f"unexpected {type(exc).__name__}: {exc}")
            log.exception("poll failed unexpectedly", extra={"action": "poll_failed"})
        self.poll_error = poll_error
        if poll_error:
            monitor.poll_failed(poll_error)
        await self._set_meta("poll_error", poll_error)
        if poll is not None:
            await self._set_meta("last_poll", self._clock().isoformat(), always=True)
        await self._retention()
        return poll

    async def _retention(self) -> None:
        """At most hourly: forget sent and dead mail older than NOTIFIER_RETENTION_DAYS."""
        now = self._clock()
        if self._purged_at is not None and now - self._purged_at < RETENTION_EVERY:
            return
        self._purged_at = now
        try:
            rows, acks = await self.outbox.purge_finished(
                timedelta(days=self.settings.retention_days), now
            )
        except StateError as exc:
            log.warning("retention purge failed: %s", exc, extra={"action": "retention"})
            return
        if rows or acks:
            log.info(
                "retention: deleted %d sent or dead message(s) older than %g days "
                "and %d acknowledgement count(s)",
                rows,
                self.settings.retention_days,
                acks,
                extra={"action": "retention", "deleted": rows},
            )

    async def deliver(
        self, stopping: asyncio.Event | None = None, wake: asyncio.Event | None = None
    ) -> DeliveryReport | None:
        """One delivery pass; None if the state store failed (logged)."""
        try:
            delivery = await self.deliverer.deliver_due(stopping, wake)
        except StateError as exc:
            self.delivery_error = mask_text(str(exc))
            monitor.delivery_failed(self.delivery_error)
            log.error("delivery failed: %s", exc, extra={"action": "deliver_failed"})
            return None
        self.delivery_error = ""
        if delivery.sent:
            await self._set_meta("last_delivery", self._clock().isoformat(), always=True)
        self._note_pause(delivery.paused)
        self._note_unreachable(delivery.unreachable)
        # Shown by ``notifier status``: a pause must be visible without the logs.
        await self._set_meta("delivery_paused", delivery.paused or "")
        await self._set_meta("smtp_unreachable", delivery.unreachable or "")
        monitor.delivery_finished(delivery.paused, delivery.unreachable)
        return delivery

    async def tick(self, stopping: asyncio.Event | None = None) -> TickReport:
        """One poll, then one delivery pass (``notifier once``).  A failing source
        never stops delivery."""
        problems: list[str] = []
        poll = await self.poll()
        if self.poll_error:
            problems.append(self.poll_error)
        delivery = await self.deliver(stopping)
        if delivery is None:
            problems.append(self.delivery_error)
        else:
            if delivery.paused:
                problems.append(f"delivery paused: {delivery.paused}")
            if delivery.unreachable:
                problems.append(delivery.unreachable)
        return TickReport(poll, delivery, problems)

    async def _set_meta(self, name: str, value: str, *, always: bool = False) -> None:
        """Bookkeeping for ``notifier status``; a state store that is down is logged elsewhere.

        A value already written is not written again (delivery passes run every
        second when idle), unless ``always``: times of the last poll and send.
        """
        if not always and self._meta.get(name) == value:
            return
        try:
            await self.outbox.set_meta(name, value, self._clock())
        except StateError as exc:
            log.warning("cannot record %s: %s", name, exc, extra={"action": "meta_failed"})
        else:
            self._meta[name] = value

    def _note_pause(self, reason: str | None) -> None:
        """One loud line when delivery pauses, one when it resumes; not one per poll."""
        if reason and reason != self._paused:
            log.error(
                "DELIVERY PAUSED: %s. Messages keep their retries; fix the SMTP settings.",
                reason,
                extra={"action": "delivery_paused"},
            )
        elif self._paused and not reason:
            log.warning("delivery resumed", extra={"action": "delivery_resumed"})
        self._paused = reason

    def _note_unreachable(self, reason: str | None) -> None:
        if reason and not self._unreachable:
            log.warning(
                "%s; queued messages wait for it and are not charged a retry",
                reason,
                extra={"action": "smtp_unreachable"},
            )
        elif self._unreachable and not reason:
            log.info("SMTP server reachable again", extra={"action": "smtp_reachable"})
        self._unreachable = reason

    async def close(self) -> None:
        """Stop the heartbeat and give back what this worker still holds."""
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETTLE_SECONDS):
                    await self.deliverer.settle()
            try:
                released = await self.outbox.retire(self.owner)
            except StateError as exc:
                log.warning(
                    "could not sign off (%s): the others take over what this worker held "
                    "once its heartbeat is %gs old",
                    exc,
                    self.settings.worker_timeout,
                    extra={"action": "retire_failed"},
                )
            else:
                if released:
                    log.info(
                        "gave back %d claim(s) on stopping",
                        released,
                        extra={"action": "retire", "count": released},
                    )
        await asyncio.gather(*(t.aclose() for t in self.transports))
        await self.source.aclose()
        if self.holds is not None:
            await self.holds.aclose()
        await self.flow.aclose()
        await self.outbox.aclose()


async def run_once(settings: Settings, **parts: object) -> int:
    """``notifier once``: 0 only if nothing is left undelivered and nothing failed."""
    service = Service(settings, **parts)  # type: ignore[arg-type]
    try:
        await service.open()
        # Digests and reminders that fell due since the last run go out in this pass.
        flow_ok = await service.flow.digests() is not None
        flow_ok = await service.flow.reminders() is not None and flow_ok
        report = await service.tick()
        if not flow_ok:
            report.problems.append("digests or reminders could not be built")
        left = await service.outbox.undelivered()
    finally:
        await service.close()
    if left:
        report.problems.append(f"{left} message(s) still waiting for delivery")
    if report.delivery and report.delivery.dead:
        report.problems.append(f"{report.delivery.dead} message(s) went to dead letters")
    if report.poll and report.poll.dead:
        report.problems.append(f"{report.poll.dead} notification(s) could not be built")
    for problem in report.problems:
        log.error("%s", problem, extra={"action": "once"})
    return 1 if report.problems else 0


async def run_forever(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    environ: Mapping[str, str] | None = None,
    **parts: object,
) -> int:
    """``notifier run``: the service until SIGTERM or SIGINT (``notifier.runner``).

    ``environ`` carries systemd's NOTIFY_SOCKET and WATCHDOG_USEC, if any.
    """
    service = Service(settings, **parts)  # type: ignore[arg-type]
    return await run_service(service, stop=stop, environ=environ)
