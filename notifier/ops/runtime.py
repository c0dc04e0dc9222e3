"""The operator-facing parts of ``notifier run``: HTTP endpoint, systemd notifications.

``run_forever`` starts one ``Operations`` after the service is open and closes it
on the way out; everything else here stays out of the service's way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from notifier.errors import MissingSchemaError, SourceError, StateError
from notifier.ops import metrics, monitor
from notifier.ops.http import OpsServer
from notifier.ops.monitor import MONITOR
from notifier.ops.systemd import SystemdNotifier, stop_task
from notifier.settings import Settings
from notifier.state.outbox import Outbox

log = logging.getLogger(__name__)


class Operations:
    """Serves /metrics and /healthz (when NOTIFIER_HTTP_ADDRESS is set) and talks to systemd."""

    def __init__(self, settings: Settings, outbox: Outbox, environ: Mapping[str, str]) -> None:
        self._settings = settings
        self._outbox = outbox
        self.systemd = SystemdNotifier.from_environ(environ)
        self.http: OpsServer | None = None
        self._watchdog: asyncio.Task[None] | None = None
        MONITOR.fail_after = settings.health_fail_after_seconds
        metrics.UP_SINCE.set(MONITOR.started)
        # No sign of life for this long means the loop or the work is stuck:
        # a poll may take up to its timeout and a send up to its own.
        self.stuck_after = (
            settings.poll_interval + settings.source_timeout + settings.send_timeout + 60
        )

    async def start(self) -> None:
        if self._settings.http_address:
            self.http = OpsServer(self._settings.http_address, self._refresh)
            await self.http.start()
        self.systemd.notify("READY=1", "STATUS=polling and delivering")
        self._watchdog = asyncio.ensure_future(
            self.systemd.watchdog(lambda: MONITOR.alive(self.stuck_after))
        )

    def stopping(self) -> None:
        self.systemd.notify("STOPPING=1", "STATUS=finishing the message in flight")

    async def close(self) -> None:
        await stop_task(self._watchdog)
        if self.http is not None:
            await self.http.close()
        self.systemd.close()

    async def _refresh(self) -> None:
        """The outbox gauges, read from the state store at scrape time."""
        depth = await self._outbox.depth(datetime.now(UTC))
        for state in metrics.OUTBOX_STATES:
            metrics.OUTBOX_MESSAGES.labels(state).set(depth.counts.get(state, 0))
        metrics.OUTBOX_OLDEST_DUE_AGE.set(depth.oldest_due_age)


async def open_when_reachable(
    open_service: Callable[[], Awaitable[None]], stopping: asyncio.Event, interval: float
) -> bool:
    """Open the service, retrying every ``interval`` while a store is merely unreachable.

    A store that answers but has no tables is a setup step not taken: that is
    raised at once, with its one-line reason.  False if asked to stop meanwhile.
    """
    while True:
        try:
            await open_service()
            return True
        except MissingSchemaError:
            raise
        except (SourceError, StateError) as exc:
            monitor.poll_failed(str(exc))
            log.error(
                "cannot start yet, retrying in %gs: %s",
                interval,
                exc,
                extra={"action": "start_failed"},
            )
        try:
            await asyncio.wait_for(stopping.wait(), interval)
            return False
        except TimeoutError:
            continue
