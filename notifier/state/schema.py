"""The state store's tables: the outbox, the cursors and the service's bookkeeping.

Times are stored as naive UTC, the same on SQLite and PostgreSQL.
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


def naive(value: datetime) -> datetime:
    """The state store keeps naive UTC: the same on SQLite and PostgreSQL."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
