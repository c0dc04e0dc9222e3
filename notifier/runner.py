"""``notifier run``: polls and delivery as independent tasks, until SIGTERM or SIGINT.

- Polls run under APScheduler every NOTIFIER_POLL_INTERVAL seconds (one at a
  time, a missed run coalesced), each abandoned after NOTIFIER_SOURCE_TIMEOUT.
- Delivery is a task of its own (``DeliveryLoop``): a comment store that hangs
  never holds up what is queued, a long delivery never holds up the next poll,
  and a poll that enqueues something wakes delivery at once.
- The heartbeat is a third task, started by ``Service.open``; digests and
  reminders (``notifier.flow``) are jobs of their own on the same scheduler.

On a stop: no new poll or claim, a running poll abandoned (what it had not
committed is read again next time); the messages on the wire are finished and
recorded, the rest given back uncharged, and the process exits 0.  A send still
running after NOTIFIER_SHUTDOWN_TIMEOUT is cancelled and its message given back
(the server may already have it).  Nothing is cancelled under APScheduler's
feet: its executor logs a cancelled job as an error with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from notifier.delivery.loop import DeliveryLoop
from notifier.ops.runtime import Operations, open_when_reachable

if TYPE_CHECKING:
    from notifier.service import Service

log = logging.getLogger(__name__)


async def abandon(tasks: set[asyncio.Task[Any]], *, tries: int = 5) -> None:
    """Cancel ``tasks`` and wait a little for them, cancelling again if need be.

    A query to a database that hangs, once cancelled, is rolled back over the
    same hung connection; a second cancellation gets the driver to drop it.
    """
    for _ in range(tries):
        pending = [t for t in tasks if not t.done()]
        if not pending:
            return
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=1)


async def run_service(
    service: Service,
    *,
    stop: asyncio.Event | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run ``service`` until ``stop`` is set (or SIGTERM/SIGINT arrives); exit status 0.

    ``environ`` carries systemd's NOTIFY_SOCKET and WATCHDOG_USEC, if any.
    """
    settings = service.settings
    ops = Operations(settings, service.outbox, environ or {})
    stopping = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    delivery = DeliveryLoop(
        lambda stopping: service.deliver(stopping, delivery.woken),
        poll_interval=settings.poll_interval,
    )
    polls: set[asyncio.Task[Any]] = set()

    async def poll_job() -> None:
        if stopping.is_set():
            return
        task = asyncio.current_task()
        if task is not None:
            polls.add(task)
        try:
            report = await service.poll()
            if report is not None and report.enqueued:
                delivery.wake()
        except asyncio.CancelledError:
            # Only a stop cancels a poll; APScheduler would log it as an error.
            log.info("poll cancelled: stopping", extra={"action": "stop"})
        finally:
            polls.discard(task)

    scheduler = AsyncIOScheduler(timezone=UTC)
    delivering: asyncio.Task[None] | None = None
    try:
        await ops.start()
        if not await open_when_reachable(service.open, stopping, settings.poll_interval):
            return 0
        delivering = asyncio.ensure_future(delivery.run(stopping))
        scheduler.add_job(
            poll_job,
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
            "notifier running: polling every %gs, worker %s",
            settings.poll_interval,
            service.owner,
            extra={"action": "start", "worker": service.owner},
        )
        await stopping.wait()
        ops.stopping()
        log.info("stopping: finishing the message in flight", extra={"action": "stop"})
        scheduler.pause()
        await asyncio.sleep(0)  # a poll submitted just now sees the stop and returns
        # A poll is abandoned at once: whatever it had not committed is read
        # again at the next start, and a hanging comment store must not hold
        # up the stop.
        await abandon(polls)
        _, late = await asyncio.wait([delivering], timeout=settings.shutdown_timeout)
        if late:
            log.warning(
                "shutdown timeout reached with a delivery still running: cancelling it; "
                "its message will be sent again (the server may have it already)",
                extra={"action": "stop"},
            )
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
    finally:
        if delivering is not None and not delivering.done():
            delivering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivering
        if scheduler.running:
            scheduler.shutdown(wait=False)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await ops.close()
        await service.close()
    log.info("stopped", extra={"action": "stopped"})
    return 0
