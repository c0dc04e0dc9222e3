"""The service: wires the real parts together and runs them on a schedule.

The only module that constructs sources, stores and transports.  ``run`` polls
and delivers every NOTIFIER_POLL_INTERVAL seconds under APScheduler until
SIGTERM or SIGINT; ``once`` does a single pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from notifier.delivery.deliver import Deliverer, DeliveryReport
from notifier.delivery.smtp import MailTransport, SmtpTransport
from notifier.demo.samples import sample_contexts
from notifier.errors import SourceError, StateError, TemplateError
from notifier.flow.jobs import FlowJobs
from notifier.mail.render import Renderer
from notifier.poll.holds import HoldWatcher, StatusSource
from notifier.poll.poller import Poller, PollReport
from notifier.settings import Settings
from notifier.sources import CommentSource, build_source
from notifier.state import Outbox

log = logging.getLogger(__name__)


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
    ) -> None:
        self.settings = settings
        self.renderer = Renderer(settings.templates_dir)
        self.source = source or build_source(settings)
        self.outbox = outbox or Outbox(settings.state_url)
        self.transports = list(transports or ()) or [
            SmtpTransport(settings) for _ in range(settings.smtp_connections)
        ]
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
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
            settings, self.source, self.outbox, self.renderer, clock=clock, holds=self.holds
        )
        self.flow = FlowJobs(settings, self.outbox, self.source, self.renderer, clock)
        self.deliverer = Deliverer(settings, self.outbox, self.transports, self.owner, clock=clock)
        self._paused: str | None = None
        self._unreachable: str | None = None

    def check_templates(self) -> None:
        """Render every template with sample data now, not at 3 a.m. on the first send."""
        problems = self.renderer.check(sample_contexts(self.settings.site_name))
        if problems:
            raise TemplateError("templates", "; ".join(problems))

    async def open(self) -> None:
        self.check_templates()
        if self.settings.infoline_address is None:
            log.warning(
                "NOTIFIER_INFOLINE_ADDRESS is not set: medical questions are NOT forwarded",
                extra={"action": "config"},
            )
        await self.outbox.create()
        await self.poller.start()

    async def tick(self, stopping: asyncio.Event | None = None) -> TickReport:
        """One poll, then one delivery pass.  A failing source never stops delivery."""
        problems: list[str] = []
        poll: PollReport | None = None
        poll_error = ""
        try:
            # A store that hangs instead of failing must not hold up delivery.
            async with asyncio.timeout(self.settings.source_timeout):
                poll = await self.poller.poll()
            log.info(
                "poll: %d new comments, %d new flags, %d emails queued, %d dead letters",
                poll.comments,
                poll.flags,
                poll.enqueued,
                poll.dead,
                extra={"action": "poll", "enqueued": poll.enqueued},
            )
        except (SourceError, StateError) as exc:
            poll_error = str(exc)
            log.error("poll failed: %s", exc, extra={"action": "poll_failed"})
        except TimeoutError:
            poll_error = f"the poll took longer than {self.settings.source_timeout:g}s"
            log.error("poll failed: %s", poll_error, extra={"action": "poll_failed"})
        except Exception as exc:
            # A bug or a row we did not foresee: say so loudly, with the traceback,
            # but still deliver what is queued (the docstring's promise).
            poll_error = f"unexpected {type(exc).__name__}: {exc}"
            log.exception("poll failed unexpectedly", extra={"action": "poll_failed"})
        if poll_error:
            problems.append(poll_error)
        await self._set_meta("poll_error", poll_error)
        if poll is not None:
            await self._set_meta("last_poll", self._clock().isoformat())
        delivery: DeliveryReport | None = None
        try:
            delivery = await self.deliverer.deliver_due(stopping)
            if delivery.sent:
                await self._set_meta("last_delivery", self._clock().isoformat())
            self._note_pause(delivery.paused)
            self._note_unreachable(delivery.unreachable)
            # Shown by ``notifier status``: a pause must be visible without the logs.
            await self._set_meta("delivery_paused", delivery.paused or "")
            if delivery.paused:
                problems.append(f"delivery paused: {delivery.paused}")
            if delivery.unreachable:
                problems.append(delivery.unreachable)
        except StateError as exc:
            problems.append(str(exc))
            log.error("delivery failed: %s", exc, extra={"action": "deliver_failed"})
        return TickReport(poll, delivery, problems)

    async def _set_meta(self, name: str, value: str) -> None:
        """Bookkeeping for ``notifier status``; a state store that is down is logged elsewhere."""
        try:
            await self.outbox.set_meta(name, value, self._clock())
        except StateError as exc:
            log.warning("cannot record %s: %s", name, exc, extra={"action": "meta_failed"})

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
    settings: Settings, *, stop: asyncio.Event | None = None, **parts: object
) -> int:
    """``notifier run``: poll and deliver on a schedule until SIGTERM or SIGINT."""
    service = Service(settings, **parts)  # type: ignore[arg-type]
    stopping = stop or asyncio.Event()
    idle = asyncio.Event()
    idle.set()
    running: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    async def job() -> None:
        if stopping.is_set():
            return
        idle.clear()
        task = asyncio.current_task()
        if task is not None:
            running.append(task)
        try:
            await service.tick(stopping)
        except Exception:
            log.exception("unexpected error in a poll", extra={"action": "tick_failed"})
        finally:
            running.clear()
            idle.set()

    scheduler = AsyncIOScheduler(timezone=UTC)
    try:
        await service.open()
        scheduler.add_job(
            job,
            "interval",
            seconds=settings.poll_interval,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
            id="poll",
        )
        service.flow.schedule(scheduler, stopping)
        scheduler.start()
        log.info(
            "notifier running: polling every %gs", settings.poll_interval, extra={"action": "start"}
        )
        await stopping.wait()
        log.info("stopping: finishing the message in flight", extra={"action": "stop"})
        # APScheduler 3 cancels running coroutine jobs on shutdown, even with
        # wait=True: stop new runs, then wait for the running one ourselves.
        scheduler.pause()
        try:
            await asyncio.wait_for(idle.wait(), timeout=settings.shutdown_timeout)
        except TimeoutError:
            log.warning(
                "shutdown timeout reached with a delivery still running: cancelling it; "
                "its message will be sent again (the server may have it already)",
                extra={"action": "stop"},
            )
            for task in running:
                task.cancel()
            await idle.wait()
        # A digest or reminder being built is one transaction: if it does not
        # finish in time it is simply rolled back, and built again next start.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(service.flow.idle(), timeout=settings.shutdown_timeout)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await service.close()
    log.info("stopped", extra={"action": "stopped"})
    return 0
