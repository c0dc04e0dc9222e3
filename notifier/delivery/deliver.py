"""Delivery: hand due outbox rows to the SMTP server over a pool of connections.

Rows are claimed in batches with a lease and shared among the connections
(NOTIFIER_SMTP_CONNECTIONS).  Each outcome is recorded once the server has
answered; "sent" marks are group-committed (``marks``), and a connection may run
at most NOTIFIER_MARK_WINDOW messages ahead of its marks, so that is the most a
crash can make it send twice.  Transient failures are retried with capped
exponential backoff and jitter; permanent ones become dead letters;
configuration problems and an unreachable server stop the pass without charging
any message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from notifier.delivery.marks import SentMarks
from notifier.delivery.smtp import MailTransport
from notifier.errors import (
    DeliveryConfigError,
    PermanentDeliveryError,
    ServerUnavailableError,
    StateError,
    TransientDeliveryError,
    UncertainDeliveryError,
)
from notifier.settings import Settings
from notifier.state import Claimed, Outbox

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    uncertain: int = 0  # timed out after the data may have reached the server
    lost_lease: int = 0  # another worker took the row: a duplicate is possible
    paused: str | None = None  # a configuration problem stopped delivery
    unreachable: str | None = None  # the server could not be reached this pass


def backoff(attempts: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Seconds before the next try: exponential, capped, with half of it random."""
    delay = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return delay / 2 + rng() * delay / 2


def _now() -> datetime:
    return datetime.now(UTC)


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


def _settled(in_flight: set[int], row_id: int, _task: object) -> None:
    """A message's outcome is recorded: it is no longer ours to give back."""
    in_flight.discard(row_id)


class _Pass:
    """The shared state of one delivery pass: what is claimed, started, halted."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Claimed] = asyncio.Queue()
        self.unstarted: set[int] = set()
        self.in_flight: set[int] = set()
        self.halted = False


class Deliverer:
    """Claims due rows and sends them over the pool, recording each outcome as it happens."""

    def __init__(
        self,
        settings: Settings,
        outbox: Outbox,
        transports: Sequence[MailTransport],
        owner: str,
        *,
        clock: Callable[[], datetime] = _now,
        rng: Callable[[], float] = random.random,
        batch_size: int | None = None,
    ) -> None:
        if not transports:
            raise ValueError("at least one transport")
        self._s = settings
        self._outbox = outbox
        self._transports = list(transports)
        self._owner = owner
        self._clock = clock
        self._rng = rng
        # Enough to keep every connection busy between claims, few enough that
        # a lease covers the batch comfortably.
        self._batch_size = batch_size or 25 * len(self._transports)
        self._sender = settings.mail_from.addr_spec
        self._limiter = RateLimiter(settings.smtp_max_per_minute)
        self._lease = timedelta(seconds=settings.lease_seconds)
        self._lease_until = datetime.min.replace(tzinfo=UTC)
        self._renewing = asyncio.Lock()
        self._marks = SentMarks(outbox, owner, clock)

    async def deliver_due(self, stopping: asyncio.Event | None = None) -> DeliveryReport:
        """Send everything due now; stop early when ``stopping`` is set or delivery pauses."""
        report = DeliveryReport()
        # Only what was due when the pass began: a message retried during this
        # pass waits for the next one instead of spinning here.
        started = self._clock()
        state = _Pass()
        try:
            while not self._should_stop(state, report, stopping):
                claimed = await self._outbox.claim(
                    self._owner, self._batch_size, self._clock(), self._lease, due_by=started
                )
                if not claimed:
                    break
                self._lease_until = self._clock() + self._lease
                for message in claimed:
                    state.queue.put_nowait(message)
                    state.unstarted.add(message.id)
                workers = [
                    asyncio.ensure_future(self._worker(t, state, report, stopping))
                    for t in self._transports
                ]
                try:
                    await asyncio.gather(*workers)
                except Exception:
                    # One worker failed (the state store, say): stop the others
                    # before this pass ends, or they would go on sending unowned.
                    for worker in workers:
                        worker.cancel()
                    await asyncio.gather(*workers, return_exceptions=True)
                    held = sorted(state.unstarted | state.in_flight)
                    with contextlib.suppress(StateError):  # else their lease runs out
                        await asyncio.shield(self._outbox.release(self._owner, held, refund=False))
                    raise
                # Stopped, paused or unreachable: give back what was never tried,
                # without charging it.
                await self._outbox.release(self._owner, sorted(state.unstarted))
                state.unstarted.clear()
        except asyncio.CancelledError:
            # Cancelled mid-send (shutdown timeout): make what we hold due again at
            # once rather than after the lease.  A message that was on the wire may
            # be sent twice; none is lost.
            held = sorted(state.unstarted | state.in_flight)
            await asyncio.shield(self._outbox.release(self._owner, held, refund=False))
            raise
        return report

    @staticmethod
    def _should_stop(state: _Pass, report: DeliveryReport, stopping: asyncio.Event | None) -> bool:
        return state.halted or (stopping is not None and stopping.is_set())

    async def _worker(
        self,
        transport: MailTransport,
        state: _Pass,
        report: DeliveryReport,
        stopping: asyncio.Event | None,
    ) -> None:
        """One connection's share of the batch."""
        marks: deque[asyncio.Task[None]] = deque()
        while not state.queue.empty() and not self._should_stop(state, report, stopping):
            message = state.queue.get_nowait()
            await self._renew_if_needed(state)
            await self._limiter.wait()
            if self._should_stop(state, report, stopping):
                return
            state.unstarted.discard(message.id)
            state.in_flight.add(message.id)
            # At most NOTIFIER_MARK_WINDOW messages of this connection may be sent
            # and not yet recorded: the most a crash can make it send twice.
            while len(marks) >= self._s.mark_window:
                await marks.popleft()
            try:
                mark = await self._deliver_one(transport, message, report)
            except DeliveryConfigError as exc:
                state.halted = True
                report.paused = str(exc)
                await self._outbox.release(self._owner, [message.id])
            except ServerUnavailableError as exc:
                state.halted = True
                report.unreachable = str(exc)
                await self._outbox.release(self._owner, [message.id])
            except asyncio.CancelledError:
                # Let the marks already under way land before the pass's clean-up
                # gives back what is still in flight.
                if marks:
                    await asyncio.wait(marks)
                raise
            else:
                if mark is not None:
                    mark.add_done_callback(partial(_settled, state.in_flight, message.id))
                    marks.append(mark)
                    continue
            # Not in a finally: a cancelled send stays in flight for the pass's
            # clean-up to give back.
            state.in_flight.discard(message.id)
        while marks:
            await marks.popleft()

    async def _renew_if_needed(self, state: _Pass) -> None:
        """Keep the lease on what we still hold longer than any send can take."""
        # The lease is at least two send deadlines long (settings check it): renew
        # while more than one send's worth is left.
        margin = timedelta(seconds=self._s.send_timeout * 1.25)
        async with self._renewing:
            if self._lease_until - self._clock() >= margin:
                return
            self._lease_until = self._clock() + self._lease
            held = sorted(state.unstarted | state.in_flight)
            await self._outbox.renew(self._owner, held, self._lease_until)

    async def _deliver_one(
        self, transport: MailTransport, message: Claimed, report: DeliveryReport
    ) -> asyncio.Task[None] | None:
        """Send one message and record a failure; a success returns the task marking it sent.

        Raises DeliveryConfigError or ServerUnavailableError, which are nobody's
        fault but the setup's: the caller stops the pass and charges no message.
        """
        extra = {"action": "deliver", "outbox_id": message.id, "event": message.event_key}
        try:
            async with asyncio.timeout(self._s.send_timeout):
                await transport.send(self._sender, message.recipient, message.message)
        except TimeoutError:
            # The deadline may have passed after the server took the data: the
            # outcome is unknown.  A duplicate is better than a lost question.
            report.uncertain += 1
            await self._retry(message, f"no answer within {self._s.send_timeout:g}s", report)
            return None
        except PermanentDeliveryError as exc:
            report.dead += 1
            await self._record(
                self._outbox.mark_dead(message.id, self._owner, self._clock(), str(exc))
            )
            log.warning(
                "dead letter %s to %s: %s", message.event_key, message.recipient, exc, extra=extra
            )
            return None
        except ServerUnavailableError:
            raise
        except TransientDeliveryError as exc:
            if isinstance(exc, UncertainDeliveryError):
                report.uncertain += 1
            await self._retry(message, str(exc), report)
            return None
        return asyncio.ensure_future(self._mark_sent(message, report))

    async def _mark_sent(self, message: Claimed, report: DeliveryReport) -> None:
        extra = {"action": "deliver", "outbox_id": message.id, "event": message.event_key}
        held = await self._marks.sent(message.id)
        report.sent += 1
        if not held:
            report.lost_lease += 1
            log.warning(
                "sent %s but its lease had passed to another worker", message.event_key, extra=extra
            )
        log.info("sent %s to %s", message.event_key, message.recipient, extra=extra)

    async def _retry(self, message: Claimed, reason: str, report: DeliveryReport) -> None:
        now = self._clock()
        extra = {"action": "deliver", "outbox_id": message.id, "event": message.event_key}
        age = (now - message.created_at).total_seconds()
        if (
            age >= self._s.give_up_after_seconds
            and message.attempts >= self._s.give_up_after_attempts
        ):
            report.dead += 1
            reason = f"gave up after {message.attempts} attempts over {age / 3600:.1f}h: {reason}"
            await self._record(self._outbox.mark_dead(message.id, self._owner, now, reason))
            log.error("dead letter %s: %s", message.event_key, reason, extra=extra)
            return
        delay = backoff(
            message.attempts, self._s.retry_base_seconds, self._s.retry_cap_seconds, self._rng
        )
        report.retried += 1
        await self._record(
            self._outbox.mark_retry(
                message.id, self._owner, now, now + timedelta(seconds=delay), reason
            )
        )
        log.warning(
            "will retry %s in %.0fs (attempt %d): %s",
            message.event_key,
            delay,
            message.attempts,
            reason,
            extra=extra,
        )

    @staticmethod
    async def _record(write: Coroutine[Any, Any, bool]) -> bool:
        """Write an outcome, shielded: a shutdown must not lose what the server said.

        If we are cancelled meanwhile, the write is still awaited before the
        cancellation goes on: the caller's clean-up releases the rows it holds,
        and a release that overtook a ``mark_sent`` would leave a sent message
        pending, to be sent again.
        """
        task = asyncio.ensure_future(write)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                log.error("could not record an outcome: %s", task.exception())
            raise
