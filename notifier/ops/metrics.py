"""The Prometheus metrics, in a registry of their own.

Names follow Prometheus' conventions: counters end in ``_total`` once exposed,
durations are in seconds, timestamps are Unix seconds.  Series labelled by
template or verdict are created at zero up front, so an alert rule that names
one finds it from the first scrape, before anything happened.
"""

from __future__ import annotations

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from notifier.mail.route import TEMPLATE_NAMES

# ``*_created`` series double the output and no alert needs them.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)

COMMENTS_SEEN = Counter(
    "notifier_comments_seen", "New comments read from the comment store", registry=REGISTRY
)
FLAGS_SEEN = Counter(
    "notifier_flags_seen", "New flags read from the comment store", registry=REGISTRY
)
HOLDS_SEEN = Counter(
    "notifier_holds_seen", "Comments moved from approved back to pending", registry=REGISTRY
)
TRIAGE_VERDICTS = Counter(
    "notifier_triage_verdicts",
    "Triage verdicts on unflagged comments: medical_question or not",
    ["verdict"],
    registry=REGISTRY,
)
EMAILS_QUEUED = Counter(
    "notifier_emails_queued", "Emails added to the outbox", ["template"], registry=REGISTRY
)
EMAILS_SENT = Counter(
    "notifier_emails_sent", "Emails the SMTP server accepted", ["template"], registry=REGISTRY
)
EMAILS_RETRIED = Counter(
    "notifier_emails_retried",
    "Sends that failed for now and were scheduled again",
    ["template"],
    registry=REGISTRY,
)
EMAILS_DEAD = Counter(
    "notifier_emails_dead",
    "Emails set aside as dead letters (refused for good, given up, or never built)",
    ["template"],
    registry=REGISTRY,
)
POLLS = Counter(
    "notifier_polls", "Polls of the comment store, by outcome", ["outcome"], registry=REGISTRY
)
POLL_SECONDS = Histogram(
    "notifier_poll_duration_seconds",
    "How long a successful poll took (read, route, render, enqueue)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
SEND_SECONDS = Histogram(
    "notifier_send_duration_seconds",
    "How long one message took to hand to the SMTP server, whatever the outcome",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
DELIVERY_PAUSED = Gauge(
    "notifier_delivery_paused",
    "1 while delivery is paused by a configuration problem (login, sender, TLS)",
    registry=REGISTRY,
)
SMTP_UNREACHABLE = Gauge(
    "notifier_smtp_unreachable", "1 while the SMTP server cannot be reached", registry=REGISTRY
)
POLL_FAILING = Gauge("notifier_poll_failing", "1 while the latest poll failed", registry=REGISTRY)
LAST_POLL = Gauge(
    "notifier_last_successful_poll_timestamp_seconds",
    "When the latest successful poll ended (0: none since start)",
    registry=REGISTRY,
)
LAST_DELIVERY = Gauge(
    "notifier_last_successful_delivery_timestamp_seconds",
    "When the latest delivery pass ended with the relay reachable and delivery not paused",
    registry=REGISTRY,
)
LAST_SENT = Gauge(
    "notifier_last_sent_timestamp_seconds",
    "When the SMTP server last accepted a message (0: none since start)",
    registry=REGISTRY,
)
OUTBOX_MESSAGES = Gauge(
    "notifier_outbox_messages",
    "Messages in the outbox by state (pending, retrying, dead), read at scrape time",
    ["state"],
    registry=REGISTRY,
)
OUTBOX_OLDEST_DUE_AGE = Gauge(
    "notifier_outbox_oldest_due_age_seconds",
    "How long the oldest message that is due has been waiting (0: nothing due)",
    registry=REGISTRY,
)
STATE_STORE_UP = Gauge(
    "notifier_state_store_up",
    "1 if the state store answered the latest scrape's outbox query",
    registry=REGISTRY,
)
UP_SINCE = Gauge("notifier_start_timestamp_seconds", "When this process started", registry=REGISTRY)

VERDICTS = ("medical_question", "not_medical")
OUTBOX_STATES = ("pending", "retrying", "dead")


def initialise() -> None:
    """Create every labelled series at zero so that rules see them before the first event."""
    for template in TEMPLATE_NAMES:
        for counter in (EMAILS_QUEUED, EMAILS_SENT, EMAILS_RETRIED, EMAILS_DEAD):
            counter.labels(template)
    for verdict in VERDICTS:
        TRIAGE_VERDICTS.labels(verdict)
    for outcome in ("ok", "failed"):
        POLLS.labels(outcome)
    for state in OUTBOX_STATES:
        OUTBOX_MESSAGES.labels(state)


def exposition() -> bytes:
    """The registry in the Prometheus text format."""
    return prometheus_client.generate_latest(REGISTRY)


CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST

initialise()
