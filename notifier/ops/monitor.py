"""What the running service reports about itself: the hook calls, health and progress.

The poller, the deliverer and the service call the functions at the bottom with
one line each; they update the Prometheus metrics and the health picture that
``/healthz``, ``notifier status`` and systemd's watchdog read.  One process runs
one service, so one module-level ``MONITOR`` is enough (as prometheus_client's
own default registry).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from notifier.ops import metrics

log = logging.getLogger(__name__)

# Progress lines during a long poll or delivery pass: no more often than this.
PROGRESS_EVERY_SECONDS = 5.0


def _iso(stamp: float | None) -> str | None:
    return datetime.fromtimestamp(stamp, UTC).isoformat() if stamp else None


@dataclass
class Streak:
    """A condition that holds since some time (a failing poll, an unreachable relay)."""

    since: float | None = None
    reason: str = ""

    def set(self, reason: str, now: float) -> None:
        if self.since is None:
            self.since = now
        self.reason = reason

    def clear(self) -> None:
        self.since, self.reason = None, ""

    def longer_than(self, seconds: float, now: float) -> bool:
        return self.since is not None and now - self.since > seconds


@dataclass
class Monitor:
    """The health picture of this process, fed by the hooks below."""

    fail_after: float = 600.0
    started: float = field(default_factory=time.time)
    last_poll_ok: float | None = None
    last_delivery_ok: float | None = None
    last_sent: float | None = None
    paused: str = ""
    polls: Streak = field(default_factory=Streak)
    delivery: Streak = field(default_factory=Streak)  # the state store failing delivery
    relay: Streak = field(default_factory=Streak)
    # Monotonic time of the latest sign of life of the work itself (a poll ended,
    # a message got an outcome): what systemd's watchdog is fed from.
    last_activity: float = field(default_factory=time.monotonic)

    def health(self, now: float | None = None) -> tuple[bool, dict[str, Any]]:
        """(healthy, details): unhealthy when a human must act, not while merely waiting."""
        now = time.time() if now is None else now
        reasons = []
        if self.paused:
            reasons.append(f"delivery paused: {self.paused}")
        for streak, what in (
            (self.polls, "polls"),
            (self.delivery, "delivery"),
            (self.relay, "the SMTP server unreachable"),
        ):
            if streak.longer_than(self.fail_after, now):
                assert streak.since is not None
                reasons.append(
                    f"{what} failing for {now - streak.since:.0f}s "
                    f"(limit {self.fail_after:g}s): {streak.reason}"
                )
        details = {
            "status": "failing" if reasons else "ok",
            "reasons": reasons,
            "last_successful_poll": _iso(self.last_poll_ok),
            "last_successful_delivery": _iso(self.last_delivery_ok),
            "last_sent": _iso(self.last_sent),
            "delivery_paused": self.paused or None,
            "poll_error": self.polls.reason or None,
            "smtp_unreachable": self.relay.reason or None,
            "started": _iso(self.started),
        }
        return not reasons, details

    def alive(self, window: float) -> bool:
        """The work moves: a poll or a message outcome within ``window`` seconds."""
        return time.monotonic() - self.last_activity < window

    def touch(self) -> None:
        self.last_activity = time.monotonic()


MONITOR = Monitor()


# --- hooks: one call each from the service, the poller and the deliverer --------------


def poll_succeeded(seconds: float) -> None:
    now = time.time()
    MONITOR.last_poll_ok = now
    MONITOR.polls.clear()
    MONITOR.touch()
    metrics.POLLS.labels("ok").inc()
    metrics.POLL_SECONDS.observe(seconds)
    metrics.POLL_FAILING.set(0)
    metrics.LAST_POLL.set(now)


def poll_failed(reason: str) -> None:
    MONITOR.polls.set(reason, time.time())
    MONITOR.touch()
    metrics.POLLS.labels("failed").inc()
    metrics.POLL_FAILING.set(1)


def seen(comments: int = 0, flags: int = 0, holds: int = 0) -> None:
    """Comments and flags read in a batch whose cursor move was committed."""
    metrics.COMMENTS_SEEN.inc(comments)
    metrics.FLAGS_SEEN.inc(flags)
    metrics.HOLDS_SEEN.inc(holds)


def triage_verdict(medical: bool) -> None:
    metrics.TRIAGE_VERDICTS.labels("medical_question" if medical else "not_medical").inc()


def enqueued(templates: Iterable[str], dead_templates: Iterable[str] = ()) -> None:
    for template in templates:
        metrics.EMAILS_QUEUED.labels(template).inc()
    for template in dead_templates:
        metrics.EMAILS_DEAD.labels(template).inc()


def send_took(seconds: float) -> None:
    """A send got an answer (or its deadline passed) after ``seconds``."""
    metrics.SEND_SECONDS.observe(seconds)


def message_outcome(template: str, outcome: str) -> None:
    """``outcome``: sent, retried or dead."""
    now = time.time()
    MONITOR.touch()
    if outcome == "sent":
        MONITOR.last_sent = now
        metrics.LAST_SENT.set(now)
        metrics.EMAILS_SENT.labels(template).inc()
    elif outcome == "retried":
        metrics.EMAILS_RETRIED.labels(template).inc()
    else:
        metrics.EMAILS_DEAD.labels(template).inc()


def delivery_finished(paused: str | None, unreachable: str | None) -> None:
    now = time.time()
    MONITOR.touch()
    MONITOR.delivery.clear()
    MONITOR.paused = paused or ""
    metrics.DELIVERY_PAUSED.set(1 if paused else 0)
    metrics.SMTP_UNREACHABLE.set(1 if unreachable else 0)
    if unreachable:
        MONITOR.relay.set(unreachable, now)
    else:
        MONITOR.relay.clear()
    if not paused and not unreachable:
        MONITOR.last_delivery_ok = now
        metrics.LAST_DELIVERY.set(now)


def delivery_failed(reason: str) -> None:
    MONITOR.touch()
    MONITOR.delivery.set(reason, time.time())


class Progress:
    """A line every few seconds during long work: done/total and the rate."""

    def __init__(self, what: str, total: int | None = None) -> None:
        self.what = what
        self.total = total
        self.done = 0
        self._start = time.monotonic()
        self._last = self._start

    def advance(self, count: int = 1) -> None:
        self.done += count
        MONITOR.touch()
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY_SECONDS:
            return
        self._last = now
        rate = self.done / max(now - self._start, 1e-9)
        of = f"/{self.total}" if self.total is not None else ""
        log.info(
            "%s: %d%s done, %.0f/s",
            self.what,
            self.done,
            of,
            rate,
            extra={
                "action": "progress",
                "stage": self.what,
                "done": self.done,
                "total": self.total,
            },
        )
