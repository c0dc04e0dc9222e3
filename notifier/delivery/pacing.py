"""Pacing: how long before a message is tried again, and how fast a relay may be fed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def backoff(attempts: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Seconds before the next try: exponential, capped, with half of it random."""
    delay = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return delay / 2 + rng() * delay / 2


class RateLimiter:
    """At most ``per_minute`` sends a minute, evenly spaced, across every connection."""

    def __init__(self, per_minute: int | None) -> None:
        self._interval = 60.0 / per_minute if per_minute else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        loop = asyncio.get_running_loop()
        slot = max(loop.time(), self._next)
        self._next = slot + self._interval
        await asyncio.sleep(slot - loop.time())
