"""Whether the state store takes our writes; while it does not, nothing new is sent.

A message sent while its outcome cannot be recorded is a message that may go
again: another replica takes the claim over, or this worker, restarted, finds
it pending.  So when any write to the state store fails (an outcome, a claim,
a heartbeat) the gate closes: connections finish what is on the wire and start
nothing new, the writes that failed are retried on a short backoff, and the
first one that succeeds opens the gate again.  At most ``NOTIFIER_MARK_WINDOW``
messages per connection are then sent but not yet recorded, and those records
land as soon as the store is back.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from notifier.errors import StateError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Retries of a failed write: soon enough that the store's return is noticed in
# about a second, slow enough not to hammer a store that is struggling.
FIRST_RETRY = 0.1
LAST_RETRY = 1.0


class StoreGate:
    """Open while the state store answers; senders wait on it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._open = asyncio.Event()
        self._open.set()
        self._closed_at = 0.0
        self._opened_at = -math.inf
        # Bumped at each reopening: a pass re-checks its claims once per outage.
        self.reopenings = 0

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def open_for(self) -> float:
        """Seconds since the store came back (infinite if it never went away, 0 while away)."""
        if not self._open.is_set():
            return 0.0
        return self._clock() - self._opened_at

    def failed(self, error: BaseException) -> None:
        if self._open.is_set():
            self._open.clear()
            self._closed_at = self._clock()
            log.error(
                "state store unavailable: %s; no new sends until it answers",
                error,
                extra={"action": "state_store_down"},
            )

    def succeeded(self) -> None:
        if not self._open.is_set():
            self._opened_at = self._clock()
            self.reopenings += 1
            self._open.set()
            log.warning(
                "state store answers again after %.1fs: recording what was sent, then resuming",
                self._opened_at - self._closed_at,
                extra={"action": "state_store_up"},
            )

    async def wait_open(self, stopping: asyncio.Event | None = None) -> bool:
        """Wait until the gate opens (True) or ``stopping`` is set (False)."""
        if self._open.is_set():
            return True
        waits = [asyncio.ensure_future(self._open.wait())]
        if stopping is not None:
            waits.append(asyncio.ensure_future(stopping.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        return self._open.is_set() and not (stopping is not None and stopping.is_set())


async def persist(gate: StoreGate, write: Callable[[], Awaitable[T]], *, patience: float) -> T:
    """Run ``write`` until the state store takes it, closing ``gate`` meanwhile.

    Gives up (raises the last StateError) after ``patience`` seconds: by then
    the claims the write was about may belong to another worker.
    """
    delay = FIRST_RETRY
    started = time.monotonic()
    while True:
        try:
            result = await write()
        except StateError as exc:
            gate.failed(exc)
            if time.monotonic() - started + delay > patience:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY)
            continue
        gate.succeeded()
        return result
