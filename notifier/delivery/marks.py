"""Group commit of "sent" marks: many senders, one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from notifier.state import Outbox


class SentMarks:
    """Group commit of "sent" marks.

    The first sender to finish writes its mark; every mark that arrives while
    that transaction commits goes into the next one, so a busy pool shares one
    commit.  A sender may go on to its next message before its mark lands, but
    ``Deliverer`` lets at most NOTIFIER_MARK_WINDOW of one connection's messages
    be sent and not yet marked: the most a crash can make it send twice.
    """

    def __init__(self, outbox: Outbox, owner: str, clock: Callable[[], datetime]) -> None:
        self._outbox = outbox
        self._owner = owner
        self._clock = clock
        self._waiting: dict[int, asyncio.Future[bool]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def sent(self, row_id: int) -> bool:
        """Record that ``row_id`` was sent; True if we still held its lease."""
        mark = asyncio.get_running_loop().create_future()
        self._waiting[row_id] = mark
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        try:
            # Shielded: a shutdown must not lose what the server said.
            return await asyncio.shield(mark)
        except asyncio.CancelledError:
            # Let the mark land before the caller's clean-up releases the rows it
            # holds: a release that overtook it would leave the message to go again.
            await asyncio.wait([mark])
            raise

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            try:
                held = await self._outbox.mark_sent_many(list(batch), self._owner, self._clock())
            except Exception as exc:
                for mark in batch.values():
                    mark.set_exception(exc)
                continue
            for row_id, mark in batch.items():
                mark.set_result(row_id in held)
