"""systemd's notify protocol (sd_notify(3)): READY, STOPPING, STATUS and the watchdog.

The protocol is one datagram per message to the unix socket named by
``NOTIFY_SOCKET`` (a leading ``@`` means Linux's abstract namespace).  Without
that variable (not started by systemd with ``Type=notify``) every call does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends notify messages; ``from_environ`` reads systemd's variables once, at start."""

    def __init__(self, socket_path: str | None, watchdog_seconds: float | None = None) -> None:
        self._address = socket_path
        if socket_path and socket_path.startswith("@"):
            self._address = "\0" + socket_path[1:]
        self.watchdog_seconds = watchdog_seconds
        self._sock: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SystemdNotifier:
        path = environ.get("NOTIFY_SOCKET") or None
        watchdog: float | None = None
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process the watchdog is meant for; a child of
        # ours that inherited the variables must not feed it.
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog = int(usec) / 1_000_000
        return cls(path, watchdog)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=value`` lines as one message; False if nobody listens."""
        if self._address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto("\n".join(fields).encode(), self._address)
        except OSError as exc:
            log.warning("cannot notify systemd: %s", exc, extra={"action": "sd_notify_failed"})
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def watchdog(self, healthy: Callable[[], bool]) -> None:
        """Ping at half the watchdog interval, but only while ``healthy()`` says so.

        A loop that is stuck (or work that stopped moving) stops the pings, and
        systemd restarts the service after WatchdogSec.
        """
        if self.watchdog_seconds is None or not self.enabled:
            return
        interval = self.watchdog_seconds / 2
        while True:
            if healthy():
                self.notify("WATCHDOG=1")
            else:
                log.warning(
                    "not feeding systemd's watchdog: no poll or delivery progress",
                    extra={"action": "watchdog_starved"},
                )
            await asyncio.sleep(interval)


async def stop_task(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
