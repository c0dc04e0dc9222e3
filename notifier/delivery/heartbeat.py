"""The worker's heartbeat: proof of life that lets the others take over its claims.

Every ``NOTIFIER_WORKER_TIMEOUT / 5`` seconds (2 s by default) the worker writes
its row in ``notifier_workers`` with the database's time and, in the same
transaction, renews the lease on every message it has claimed.  A claim whose
worker's heartbeat is older than ``NOTIFIER_WORKER_TIMEOUT`` is due again at
once, on any replica: a killed worker's messages wait seconds, not a lease.
A heartbeat that cannot be written closes the store gate: a worker that cannot
prove it is alive must not go on sending what others may take over.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from notifier.delivery.gate import LAST_RETRY, StoreGate
from notifier.errors import StateError

log = logging.getLogger(__name__)


class Beating(Protocol):
    async def beat(self, worker: str, lease_seconds: float) -> None: ...


def heartbeat_interval(worker_timeout: float) -> float:
    """Five heartbeats per timeout: one late or lost write never looks like a death."""
    return worker_timeout / 5


class Heartbeat:
    """Writes this worker's heartbeat until cancelled."""

    def __init__(
        self,
        store: Beating,
        worker: str,
        gate: StoreGate,
        *,
        worker_timeout: float,
        lease_seconds: float,
    ) -> None:
        self._store = store
        self._worker = worker
        self._gate = gate
        self._lease = lease_seconds
        self.interval = heartbeat_interval(worker_timeout)
        self._slow = worker_timeout / 2
        self._timeout = worker_timeout

    async def beat(self) -> None:
        """One heartbeat, however long the store takes (raises StateError if it fails)."""
        await self._store.beat(self._worker, self._lease)

    async def run(self) -> None:
        while True:
            delay = self.interval
            writing = asyncio.ensure_future(self.beat())
            try:
                # Slower than half the timeout: the others may soon take us for
                # dead, so stop sending until it lands (it is not abandoned: a
                # state store busy with other writers answers late, not never).
                done, _ = await asyncio.wait([writing], timeout=self._slow)
                if not done:
                    self._gate.failed(StateError(f"heartbeat not written within {self._slow:g}s"))
                    done, _ = await asyncio.wait([writing], timeout=self._timeout)
                if not done:
                    raise StateError(f"heartbeat not written within {self._timeout:g}s")
                writing.result()
            except StateError as exc:
                self._gate.failed(exc)
                delay = min(self.interval, LAST_RETRY)
            else:
                self._gate.succeeded()
            finally:
                if not writing.done():
                    writing.cancel()
            await asyncio.sleep(delay)
