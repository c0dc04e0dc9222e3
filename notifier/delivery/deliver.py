"""Delivery: hand due outbox rows to the SMTP server over a pool of connections.

Rows are claimed a few dozen at a time (a mark window per connection) with a
short lease, renewed by the worker's heartbeat, into a queue the connections
(NOTIFIER_SMTP_CONNECTIONS) share.  Each connection takes its next message as
soon as it is free, and whichever finds the queue down to one message per
connection claims the next batch while the others go on sending: a send that
hangs holds only its own message, and the claim query comes round every few
dozen messages, so the claims of a worker whose heartbeat stopped (claimed and
sent first) are picked up within a second or so.  A pass lasts while there is work:
a connection that finds nothing due while another is still sending looks again
every second (or when woken), so new mail never waits for a slow send.  A
failure is recorded as soon as the server has answered; "sent" marks are
group-committed, and a connection may run up to NOTIFIER_MARK_WINDOW messages
ahead of them: a crash can double at most that many per connection.  While the
state store refuses writes, no new message is started (``gate``), and what was
sent is recorded when it returns.  Transient failures are retried with capped
exponential backoff and jitter; permanent ones become dead letters;
configuration problems and an unreachable server stop the pass without charging
any message.  Every time is the state store's: the worker's clock is not used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TypeVar

from notifier.delivery.gate import StoreGate, persist
from notifier.delivery.marks import SentMarks
from notifier.delivery.pacing import RateLimiter, backoff
from notifier.delivery.smtp import MailTransport
from notifier.errors import (
    DeliveryConfigError,
    PermanentDeliveryError,
    ServerUnavailableError,
    StateError,
    TransientDeliveryError,
    UncertainDeliveryError,
)
from notifier.logs import shown_recipient
from notifier.ops import monitor
from notifier.settings import Settings
from notifier.state import Claimed, Outbox

log = logging.getLogger(__name__)

# A connection with nothing to do while another is still sending looks again
# this often: new mail, retries come due, a dead worker's claims.
IDLE_LOOK = 1.0

__all__ = ["Deliverer", "DeliveryReport", "backoff"]

T = TypeVar("T")


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    uncertain: int = 0  # timed out after the data may have reached the server
    lost_lease: int = 0  # another worker took the row: a duplicate is possible
    paused: str | None = None  # a configuration problem stopped delivery
    unreachable: str | None = None  # the server could not be reached this pass


def _settled(marking: set[int], row_id: int, _task: object) -> None:
    """A message's "sent" mark is written (or given up): nothing left to wait for."""
    marking.discard(row_id)


class _Pass:
    """The shared state of one delivery pass: what is claimed, where each message is."""

    def __init__(self, due_by: datetime) -> None:
        self.queue: deque[Claimed] = deque()
        self.claiming = asyncio.Lock()
        self.due_by = due_by  # claims take what was due by then (moved on when idle)
        self.drained = False  # the last claim found fewer than it asked for
        self.sending = 0  # connections with a message in hand
        self.freed = asyncio.Event()  # set (and replaced) each time one finishes
        self.unstarted: set[int] = set()  # claimed, never tried: given back uncharged
        self.on_wire: set[int] = set()  # being sent now
        self.marking: set[int] = set()  # sent; the "sent" mark not yet written
        self.halted = False
        self.progress = monitor.Progress("delivery: messages handed to the SMTP server", 0)
        self.confirmed = 0  # the gate's reopenings already accounted for
        self.confirming = asyncio.Lock()

    def held(self) -> list[int]:
        return sorted(self.unstarted | self.on_wire | self.marking)

    def take(self) -> Claimed | None:
        """The next claimed message still ours and never tried, if any."""
        while self.queue:
            message = self.queue.popleft()
            if message.id in self.unstarted:
                return message
        return None

    def finished_one(self) -> None:
        self.sending -= 1
        self.freed.set()
        self.freed = asyncio.Event()


class Deliverer:
    """Claims due rows and sends them over the pool, recording each outcome as it happens."""

    def __init__(
        self,
        settings: Settings,
        outbox: Outbox,
        transports: Sequence[MailTransport],
        owner: str,
        *,
        gate: StoreGate | None = None,
        rng: Callable[[], float] = random.random,
        batch_size: int | None = None,
    ) -> None:
        if not transports:
            raise ValueError("at least one transport")
        self._s = settings
        self._outbox = outbox
        self._transports = list(transports)
        self._owner = owner
        self._gate = gate or StoreGate()
        self._rng = rng
        # A mark window per connection at a time (32 by default): the claim query
        # comes round every few dozen messages, so a dead worker's claims
        # (claimed first, sent first) are picked up within a second or so, at
        # about the throughput of claims of 100.  The queue is topped up when it
        # falls to one message per connection, by the connection that notices,
        # while the others go on sending.
        connections = len(self._transports)
        self._batch_size = batch_size or max(settings.mark_window * connections, 2 * connections)
        self._low_water = min(connections, self._batch_size - 1)
        self._sender = settings.mail_from.addr_spec
        self._limiter = RateLimiter(settings.smtp_max_per_minute)
        # Outcomes are retried while the claims they are about may still be ours.
        self._patience = settings.lease_seconds
        self._marks = SentMarks(outbox, owner, self._gate, patience=self._patience)
        # After a state-store failure, claims this worker lost track of are
        # taken back at the start of the next pass.
        self._strays = False

    async def deliver_due(
        self, stopping: asyncio.Event | None = None, wake: asyncio.Event | None = None
    ) -> DeliveryReport:
        """Send what is due until nothing is left; stop early when ``stopping`` is set
        or delivery pauses.  ``wake`` (set when a poll enqueued something) makes
        connections with nothing to do look again at once.

        Raises StateError when the state store cannot be read or written.
        """
        report = DeliveryReport()
        state: _Pass | None = None
        try:
            if self._strays:
                await self._take_back_strays()
            # What is due when the pass begins (moved on only when a connection
            # has waited): a message retried during the pass does not spin here.
            state = _Pass(await self._outbox.now())
            await self._connections(state, report, stopping, wake)
            # Stopped, paused or unreachable: give back what was never tried,
            # without charging it.
            await self._persist(partial(self._outbox.release, self._owner, sorted(state.unstarted)))
            state.unstarted.clear()
        except StateError as exc:
            self._gate.failed(exc)
            self._strays = True
            raise
        except asyncio.CancelledError:
            # Cancelled mid-send (shutdown timeout): make what we hold due again at
            # once rather than after the lease.  The rows never tried are given
            # back uncharged; the one on the wire was tried (and may have reached
            # the server: it may go twice).  A row whose "sent" mark is still
            # being written is left to it.
            if state is not None:
                await self._give_back(state)
            raise
        return report

    async def settle(self) -> None:
        """Let the "sent" marks still being written land (the caller bounds the wait)."""
        await self._marks.settle()

    def _take_over_after(self) -> float | None:
        """Take over claims of workers whose heartbeat stopped, unless we just came back.

        After a state-store outage every worker's heartbeat looks old.  For two
        heartbeats after our own return we leave the others' claims alone, so
        that workers that were cut off too can write theirs (and record what
        they sent) before anyone takes their messages.
        """
        grace = 2 * self._s.worker_timeout / 5
        return self._s.worker_timeout if self._gate.open_for() >= grace else None

    def _note_takeovers(self, claimed: Sequence[Claimed]) -> None:
        by_owner: dict[str, list[Claimed]] = {}
        for message in claimed:
            if self._taken_over(message) and message.previous_owner:
                by_owner.setdefault(message.previous_owner, []).append(message)
        for owner, taken in by_owner.items():
            left = min((m.previous_lease_left or 0.0) for m in taken)
            cause = (
                f"its heartbeat is older than {self._s.worker_timeout:g}s "
                f"(its lease still had {left:.0f}s to run)"
                if left > 0
                else "its lease ran out"
            )
            log.warning(
                "took over %d message(s) from worker %s: %s",
                len(taken),
                owner,
                cause,
                extra={"action": "takeover", "worker": owner, "count": len(taken)},
            )

    async def _take_back_strays(self) -> None:
        count = await self._outbox.release_strays(self._owner, sorted(self._marks.pending()))
        self._strays = False
        if count:
            log.info(
                "took back %d claim(s) of ours lost track of during a state-store failure",
                count,
                extra={"action": "claims_retaken", "count": count},
            )

    async def _connections(
        self,
        state: _Pass,
        report: DeliveryReport,
        stopping: asyncio.Event | None,
        wake: asyncio.Event | None,
    ) -> None:
        workers = [
            asyncio.ensure_future(self._worker(t, state, report, stopping, wake))
            for t in self._transports
        ]
        try:
            await asyncio.gather(*workers)
        except Exception:
            # One worker failed (the state store gone longer than our patience,
            # say): stop the others before this pass ends, or they would go on
            # sending unowned.
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._give_back(state)
            raise

    async def _claim(self, state: _Pass) -> bool:
        """Claim the next few due messages into the queue; False if none is due.

        A claim the state store refuses is retried like a record (the gate
        closes meanwhile), not raised: that would stop the other connections
        in the middle of their sends.  Whether to take over other workers'
        claims is decided afresh at each try (not while the gate is closed, nor
        just after it reopens).
        """

        def claim() -> Awaitable[list[Claimed]]:
            return self._outbox.claim(
                self._owner,
                self._batch_size,
                self._s.lease_seconds,
                due_by=state.due_by,
                take_over_after=self._take_over_after(),
            )

        claimed = await self._persist(claim)
        state.drained = len(claimed) < self._batch_size
        if not claimed:
            return False
        self._note_takeovers(claimed)
        state.progress.total = (state.progress.total or 0) + len(claimed)
        # A dead worker's messages (first in the claim) go before what is queued.
        taken = [m for m in claimed if self._taken_over(m)]
        state.queue.extendleft(reversed(taken))
        state.queue.extend(m for m in claimed if not self._taken_over(m))
        state.unstarted.update(m.id for m in claimed)
        return True

    def _taken_over(self, message: Claimed) -> bool:
        """Whether this claim took the message from another worker."""
        return bool(message.previous_owner) and message.previous_owner != self._owner

    async def _next(
        self, state: _Pass, stopping: asyncio.Event | None, wake: asyncio.Event | None
    ) -> Claimed | None:
        """This connection's next message: from the queue, else claimed now.

        None when nothing is due and no other connection is sending (the pass
        is over), or when the pass stops.  While another connection is still
        sending (a slow or hung send, say), look again every IDLE_LOOK seconds,
        when woken, or when it finishes.
        """
        while not self._should_stop(state, stopping):
            if (
                state.queue
                and len(state.queue) <= self._low_water
                and not state.drained
                and not state.claiming.locked()
            ):
                # Top up before the queue runs dry: this connection claims, the
                # others keep sending from the queue, and messages still start
                # in the order they were claimed.
                async with state.claiming:
                    await self._claim(state)
            message = state.take()
            if message is not None:
                return message
            async with state.claiming:
                if state.queue:
                    continue  # another connection claimed meanwhile
                if await self._claim(state):
                    continue
            if not state.sending:
                return None
            freed = state.freed
            waits = [asyncio.ensure_future(freed.wait())]
            if stopping is not None:
                waits.append(asyncio.ensure_future(stopping.wait()))
            if wake is not None:
                waits.append(asyncio.ensure_future(wake.wait()))
            try:
                await asyncio.wait(waits, timeout=IDLE_LOOK, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            if not freed.is_set():
                # Woken, or a second went by: take what came due since.
                if wake is not None:
                    wake.clear()
                state.due_by = await self._persist(self._outbox.now)
                state.drained = False
        return None

    async def _give_back(self, state: _Pass) -> None:
        """Release what this pass holds, best effort (else heartbeats stop and others take it)."""
        self._strays = True
        with contextlib.suppress(StateError):
            await asyncio.shield(self._outbox.release(self._owner, sorted(state.unstarted)))
            await asyncio.shield(
                self._outbox.release(self._owner, sorted(state.on_wire), refund=False)
            )

    async def _persist(self, write: Callable[[], Awaitable[T]]) -> T:
        return await persist(self._gate, write, patience=self._patience)

    @staticmethod
    def _should_stop(state: _Pass, stopping: asyncio.Event | None) -> bool:
        return state.halted or (stopping is not None and stopping.is_set())

    async def _ready(self, state: _Pass, stopping: asyncio.Event | None) -> bool:
        """Wait while the state store is away; after it returns, check our claims once."""
        if not self._gate.is_open and not await self._gate.wait_open(stopping):
            return False
        async with state.confirming:
            if state.confirmed != self._gate.reopenings:
                state.confirmed = self._gate.reopenings
                # Our heartbeat may have looked stale meanwhile: keep only the
                # claims that are still ours, and do not send the others.
                held = await self._persist(
                    partial(self._outbox.renew, self._owner, state.held(), self._s.lease_seconds)
                )
                lost = state.unstarted - held
                if lost:
                    state.unstarted -= lost
                    log.warning(
                        "%d claimed message(s) were taken by another worker while the "
                        "state store was away; leaving them to it",
                        len(lost),
                        extra={"action": "claims_lost", "count": len(lost)},
                    )
        return not self._should_stop(state, stopping)

    async def _worker(
        self,
        transport: MailTransport,
        state: _Pass,
        report: DeliveryReport,
        stopping: asyncio.Event | None,
        wake: asyncio.Event | None,
    ) -> None:
        """One connection: takes its next message whenever it is free."""
        marks: deque[asyncio.Task[None]] = deque()
        while not self._should_stop(state, stopping):
            # At most NOTIFIER_MARK_WINDOW messages of this connection may be sent
            # and not yet recorded: the most a crash can make it send twice.
            while len(marks) >= self._s.mark_window:
                await marks.popleft()
            if not await self._ready(state, stopping):
                break
            message = await self._next(state, stopping, wake)
            if message is None:
                break
            state.sending += 1
            try:
                mark = await self._send(transport, message, state, report, stopping)
            finally:
                state.finished_one()
            if mark is not None:
                marks.append(mark)
        while marks:
            await marks.popleft()

    async def _send(
        self,
        transport: MailTransport,
        message: Claimed,
        state: _Pass,
        report: DeliveryReport,
        stopping: asyncio.Event | None,
    ) -> asyncio.Task[None] | None:
        """Send one message taken from the queue; the task marking it sent, if it went."""
        await self._limiter.wait()
        if self._should_stop(state, stopping):
            return None  # still unstarted: given back uncharged
        state.unstarted.discard(message.id)
        state.on_wire.add(message.id)
        try:
            mark = await self._deliver_one(transport, message, report)
        except (DeliveryConfigError, ServerUnavailableError) as exc:
            state.halted = True
            if isinstance(exc, DeliveryConfigError):
                report.paused = str(exc)
            else:
                report.unreachable = str(exc)
            state.on_wire.discard(message.id)
            state.unstarted.add(message.id)  # never reached the server: uncharged
            return None
        # Not in a finally: a cancelled send stays on the wire for the pass's
        # clean-up to give back.
        state.on_wire.discard(message.id)
        state.progress.advance()
        if mark is not None:
            state.marking.add(message.id)
            mark.add_done_callback(partial(_settled, state.marking, message.id))
        return mark

    async def _deliver_one(
        self, transport: MailTransport, message: Claimed, report: DeliveryReport
    ) -> asyncio.Task[None] | None:
        """Send one message and record a failure; a success returns the task marking it sent.

        Raises DeliveryConfigError or ServerUnavailableError, which are nobody's
        fault but the setup's: the caller stops the pass and charges no message.
        """
        extra = {"action": "deliver", "outbox_id": message.id, "event": message.event_key}
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._s.send_timeout):
                await transport.send(self._sender, message.recipient, message.message)
            monitor.send_took(time.monotonic() - started)
        except TimeoutError:
            # The deadline may have passed after the server took the data: the
            # outcome is unknown.  A duplicate is better than a lost question.
            report.uncertain += 1
            monitor.send_took(time.monotonic() - started)
            await self._retry(message, f"no answer within {self._s.send_timeout:g}s", report)
            return None
        except PermanentDeliveryError as exc:
            report.dead += 1
            monitor.send_took(time.monotonic() - started)
            monitor.message_outcome(message.template, "dead")
            await self._record(partial(self._outbox.mark_dead, message.id, self._owner, str(exc)))
            log.warning(
                "dead letter %s to %s: %s",
                message.event_key,
                shown_recipient(message.template, message.recipient),
                exc,
                extra=extra,
            )
            return None
        except ServerUnavailableError:
            raise
        except TransientDeliveryError as exc:
            monitor.send_took(time.monotonic() - started)
            if isinstance(exc, UncertainDeliveryError):
                report.uncertain += 1
            await self._retry(message, str(exc), report)
            return None
        return asyncio.ensure_future(self._mark_sent(message, report))

    async def _mark_sent(self, message: Claimed, report: DeliveryReport) -> None:
        extra = {"action": "deliver", "outbox_id": message.id, "event": message.event_key}
        held = await self._marks.sent(message.id)
        report.sent += 1
        monitor.message_outcome(message.template, "sent")
        if not held:
            report.lost_lease += 1
            log.warning(
                "sent %s but its lease had passed to another worker", message.event_key, extra=extra
            )
        shown = shown_recipient(message.template, message.recipient)
        log.info("sent %s to %s", message.event_key, shown, extra=extra)

    async def _retry(self, message: Claimed, reason: str, report: DeliveryReport) -> None:
        extra = {"action": "deliver", "outbox_id": message.id, "event": message.event_key}
        # Both times are the state store's.
        age = (message.claimed_at - message.created_at).total_seconds()
        if (
            age >= self._s.give_up_after_seconds
            and message.attempts >= self._s.give_up_after_attempts
        ):
            report.dead += 1
            monitor.message_outcome(message.template, "dead")
            reason = f"gave up after {message.attempts} attempts over {age / 3600:.1f}h: {reason}"
            await self._record(partial(self._outbox.mark_dead, message.id, self._owner, reason))
            log.error("dead letter %s: %s", message.event_key, reason, extra=extra)
            return
        delay = backoff(
            message.attempts, self._s.retry_base_seconds, self._s.retry_cap_seconds, self._rng
        )
        report.retried += 1
        monitor.message_outcome(message.template, "retried")
        await self._record(partial(self._outbox.mark_retry, message.id, self._owner, delay, reason))
        log.warning(
            "will retry %s in %.0fs (attempt %d): %s",
            message.event_key,
            delay,
            message.attempts,
            reason,
            extra=extra,
        )

    async def _record(self, write: Callable[[], Awaitable[bool]]) -> bool:
        """Write an outcome until the state store takes it, shielded: a shutdown
        must not lose what the server said.  A cancelled sender does not wait for
        it (the row is not given back while the write may still land)."""
        return await asyncio.shield(self._persist(write))
