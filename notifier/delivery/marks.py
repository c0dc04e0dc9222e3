"""Group commit of "sent" marks: many senders, one transaction."""

from __future__ import annotations

import asyncio
from functools import partial

from notifier.delivery.gate import StoreGate, persist
from notifier.errors import StateError
from notifier.state import Outbox


class SentMarks:
    """Group commit of "sent" marks.

    The first sender to finish writes its mark; every mark that arrives while
    that transaction commits goes into the next one.  A connection may send up
    to ``NOTIFIER_MARK_WINDOW`` messages before the earliest of its marks has
    landed (the deliverer waits for it then): a crash can double at most that
    many messages per connection, and a busy pool shares one commit.

    A mark the state store refuses is not dropped: it is retried on a short
    backoff (the gate stops new sends meanwhile) and lands when the store is
    back, so an outage doubles nothing by itself.  It gives up after
    ``patience`` seconds, when the claim may already be another worker's.
    """

    def __init__(self, outbox: Outbox, owner: str, gate: StoreGate, *, patience: float) -> None:
        self._outbox = outbox
        self._owner = owner
        self._gate = gate
        self._patience = patience
        self._waiting: dict[int, asyncio.Future[bool]] = {}
        self._writing: dict[int, asyncio.Future[bool]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def sent(self, row_id: int) -> bool:
        """Record that ``row_id`` was sent; True if we still held its lease."""
        mark = asyncio.get_running_loop().create_future()
        self._waiting[row_id] = mark
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        # Shielded: a shutdown must not lose what the server said.  A cancelled
        # sender leaves the row alone (it is neither released nor re-sent by
        # this worker), so the mark may land after the sender has gone.
        return await asyncio.shield(mark)

    async def settle(self) -> None:
        """Wait for the marks still being written (the caller bounds the wait)."""
        if self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    def pending(self) -> set[int]:
        """Rows whose "sent" mark is not written yet: not to be given back meanwhile."""
        return set(self._waiting) | set(self._writing)

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            self._writing = batch
            try:
                held = await persist(
                    self._gate,
                    partial(self._outbox.mark_sent_many, list(batch), self._owner),
                    patience=self._patience,
                )
            except StateError as exc:
                for mark in batch.values():
                    mark.set_exception(exc)
                continue
            finally:
                self._writing = {}
            for row_id, mark in batch.items():
                mark.set_result(row_id in held)
