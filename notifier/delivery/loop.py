"""Delivery as a task of its own, beside the poll, never waiting for it.

A pass runs whenever there may be work: at once when a poll has enqueued
something (``wake``), about every second otherwise (retries coming due, mail
another replica enqueued, claims of a worker whose heartbeat stopped).  A pass
that is still running (one connection in a slow send, say) is woken too: its
idle connections look for the new mail at once (``woken``).  When the mail
server or the state store cannot be reached, the next pass comes on a short
backoff (a quarter of a second, doubling to one), so delivery resumes within
a second of their return, not at the next poll.  A configuration problem (a
refused login, say) is tried again once per poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from notifier.delivery.deliver import DeliveryReport

log = logging.getLogger(__name__)

FIRST_BACKOFF = 0.25
LAST_BACKOFF = 1.0
IDLE_CHECK = 1.0


class DeliveryLoop:
    """Runs delivery passes until ``stopping`` is set."""

    def __init__(
        self,
        run_pass: Callable[[asyncio.Event], Awaitable[DeliveryReport | None]],
        *,
        poll_interval: float,
    ) -> None:
        self._run_pass = run_pass
        self._idle = min(IDLE_CHECK, poll_interval)
        self._paused_retry = poll_interval
        self._wake = asyncio.Event()

    @property
    def woken(self) -> asyncio.Event:
        """Set when a poll enqueued something; a running pass may wait on it."""
        return self._wake

    def wake(self) -> None:
        """Something was enqueued: deliver now rather than at the next check."""
        self._wake.set()

    async def run(self, stopping: asyncio.Event) -> None:
        backoff = FIRST_BACKOFF
        while not stopping.is_set():
            self._wake.clear()
            report = await self._run_pass(stopping)
            if report is None or report.unreachable:
                # The state store (None) or the mail server is away: look again soon.
                wait, backoff = backoff, min(backoff * 2, LAST_BACKOFF)
                await self._sleep(wait, stopping, wakeable=False)
                continue
            backoff = FIRST_BACKOFF
            await self._sleep(self._paused_retry if report.paused else self._idle, stopping)

    async def _sleep(
        self, seconds: float, stopping: asyncio.Event, *, wakeable: bool = True
    ) -> None:
        waits = [asyncio.ensure_future(stopping.wait())]
        if wakeable:
            waits.append(asyncio.ensure_future(self._wake.wait()))
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
