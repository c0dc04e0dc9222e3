"""The state store's tables: the outbox, the cursors, the service's bookkeeping
and the workers' heartbeats; and the steps that upgrade a store made by an
earlier release (``STEPS``, run by ``notifier.migrations``).

Times are stored as naive UTC, the same on SQLite and PostgreSQL.  A new table
needs no step (it is created when missing); a change to an existing table needs
one, appended to ``STEPS`` with the next version number.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Connection

from notifier.migrations import Step

PENDING = "pending"
SENT = "sent"
DEAD = "dead"

metadata = MetaData()
_Id = BigInteger().with_variant(Integer, "sqlite")

outbox = Table(
    "notifier_outbox",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("event_key", String(200), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("template", String(40), nullable=False),
    Column("comment_id", BigInteger),
    Column("message_id", String(250)),
    Column("message", LargeBinary),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_expires_at", DateTime),
    Column("sent_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
    Column("last_error", Text),
    UniqueConstraint("event_key", "recipient", name="uq_notifier_outbox_event_recipient"),
    # Claims look for due pending rows; status and purge look by state and age.
    # With id in the index a claim (ORDER BY next_attempt_at, id LIMIT n) reads n
    # entries and stops, instead of sorting every due row (O(backlog) per claim).
    Index("ix_notifier_outbox_due", "state", "next_attempt_at", "id"),
    Index("ix_notifier_outbox_state_updated", "state", "updated_at"),
)
# Heartbeats renew, and a stopping worker gives back, every claim of one worker.
by_lease_owner = Index("ix_notifier_outbox_lease_owner", outbox.c.lease_owner)

cursors = Table(
    "notifier_cursors",
    metadata,
    Column("stream", String(40), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("gaps", Text, nullable=False, default="[]"),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

service_meta = Table(
    "notifier_meta",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)


# Acknowledgements sent, for their caps (state.caps): a token of the mailbox, never
# the address.  Kept two days: the caps look back a day at most.
acks = Table(
    "notifier_acks",
    metadata,
    Column("mailbox", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("domain", String(255), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_notifier_acks_created", "created_at"),
)


workers = Table(
    "notifier_workers",
    metadata,
    Column("worker_id", String(100), primary_key=True),
    Column("host", String(200)),
    Column("pid", Integer),
    Column("started_at", DateTime, nullable=False),
    # The database's time at the worker's last heartbeat.
    Column("heartbeat_at", DateTime, nullable=False),
)


def _index_claims_by_owner(conn: Connection) -> None:
    by_lease_owner.create(conn, checkfirst=True)


# Version 1 is release 0.1.0's schema (notifier.migrations.BASELINE).
STEPS = (Step(2, "index the outbox by lease owner, for heartbeats", _index_claims_by_owner),)
# A table every release has created: its presence without a version means version 1.
MARKER = outbox.name


# Site models trained by `notifier triage learn` (the newest row is the one in use).
triage_models = Table(
    "notifier_triage_models",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("model", LargeBinary, nullable=False),  # notifier.triage.model file bytes
    Column("summary", Text, nullable=False),  # what it was trained on and how it scored
    Column("created_at", DateTime, nullable=False),
)


def naive(value: datetime) -> datetime:
    """The state store keeps naive UTC: the same on SQLite and PostgreSQL."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
