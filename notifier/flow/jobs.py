"""Digests and reminders as scheduled work of their own, beside poll and delivery.

``FlowJobs`` owns the two jobs; ``schedule`` adds them to the service's
APScheduler.  Each run is one short pass that enqueues into the outbox (the
delivery job sends), so a run that fails leaves nothing half done: the next run
tries again.

Every due time here is the state store's clock, like leases and heartbeats
(``state/dbtime.py``): when a digest is due, which items a reminder finds
overdue, what is old enough to purge.  Replicas whose clocks disagree still
send each digest once, at its time.  A ``clock`` given to ``FlowJobs`` stands
in for the database's (the tests move it forward; the demo skips ahead).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from notifier.errors import SourceError, StateError
from notifier.flow.digest import run_digests
from notifier.flow.remind import run_reminders
from notifier.mail.render import Renderer
from notifier.poll.holds import StatusSource
from notifier.settings import Settings
from notifier.sources import CommentSource
from notifier.state.flow import FlowStore
from notifier.state.outbox import Outbox

log = logging.getLogger(__name__)

# Digests are due at the end of a window or at a time of day: look often.
MAX_INTERVAL = 60.0
# Burst-guard decisions older than this are forgotten: they only keep one event
# from being decided twice, which happens within seconds (a re-read hold).
KEEP_DECISIONS = timedelta(days=14)
PURGE_EVERY = timedelta(hours=1)


class FlowJobs:
    """Builds due digests and reminders and enqueues them."""

    def __init__(
        self,
        settings: Settings,
        outbox: Outbox,
        source: CommentSource,
        renderer: Renderer,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._s = settings
        self.store = FlowStore(outbox.url)
        self._source = source
        self._renderer = renderer
        self._clock = clock
        self._running = 0
        self._purged_at: datetime | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def digests(self) -> Any:
        """Build and enqueue every digest that is due; its report, or None on failure."""
        report = await self._run("digests", run_digests)
        try:
            now = await self._now()
        except StateError as exc:
            log.warning("cannot purge old digest decisions: %s", exc, extra={"action": "purge"})
            return report
        if report is not None and (self._purged_at is None or now - self._purged_at >= PURGE_EVERY):
            self._purged_at = now
            try:
                gone = await self.store.purge(now - KEEP_DECISIONS)
            except StateError as exc:
                log.warning("cannot purge old digest decisions: %s", exc, extra={"action": "purge"})
            else:
                log.debug("purged %d old digest decisions", gone, extra={"action": "purge"})
        return report

    async def reminders(self) -> Any:
        """Enqueue the reminder for newly overdue items, if any; its report, or None."""
        return await self._run("reminders", run_reminders)

    async def _now(self) -> datetime:
        """The state store's clock (or the one given for it)."""
        return self._clock() if self._clock is not None else await self.store.now()

    async def _run(self, name: str, work: Callable[..., Awaitable[Any]]) -> Any:
        self._running += 1
        self._idle.clear()
        try:
            if not isinstance(self._source, StatusSource):
                raise SourceError("this comment store cannot say which comments are still pending")
            # A comment store that hangs must not hold a job (or shutdown) forever.
            async with asyncio.timeout(self._s.source_timeout):
                report = await work(
                    self._s,
                    self.store,
                    self._source,
                    self._renderer,
                    await self._now(),
                    pending_count=self._source.pending_count,
                )
        except TimeoutError:
            log.error(
                "%s took longer than %gs; tried again next run",
                name,
                self._s.source_timeout,
                extra={"action": f"{name}_failed"},
            )
            return None
        except (StateError, SourceError) as exc:
            log.error("%s failed: %s", name, exc, extra={"action": f"{name}_failed"})
            return None
        except Exception:
            log.exception("%s failed unexpectedly", name, extra={"action": f"{name}_failed"})
            return None
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()
        log.debug("%s: %s", name, report, extra={"action": f"{name}_run"})
        return report

    async def aclose(self) -> None:
        await self.store.aclose()

    async def idle(self) -> None:
        """Wait for a running job to finish (at shutdown)."""
        await self._idle.wait()

    def schedule(self, scheduler: AsyncIOScheduler, stopping: asyncio.Event) -> None:
        """Add the digest and reminder jobs, every poll interval (at most a minute)."""
        interval = min(self._s.poll_interval, MAX_INTERVAL)
        for name, run in (("digests", self.digests), ("reminders", self.reminders)):

            async def job(run: Callable[[], Awaitable[Any]] = run, name: str = name) -> None:
                if stopping.is_set():
                    return
                try:
                    await run()
                except asyncio.CancelledError:
                    # Only a stop cancels a job (mid-query, say); APScheduler would log
                    # it as an error with a traceback.
                    log.info("%s cancelled: stopping", name, extra={"action": "stop"})

            scheduler.add_job(
                job,
                "interval",
                seconds=interval,
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
                id=name,
            )
