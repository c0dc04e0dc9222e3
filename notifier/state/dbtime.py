"""The database's clock, as SQL.

Every lease, heartbeat and due time is written and compared with the state
store's own clock, never a worker's: replicas whose clocks disagree still agree
on which claims are live.  PostgreSQL: ``now()`` (the transaction's start) as
naive UTC.  SQLite: its own ``'now'``, written exactly as SQLAlchemy writes a
``DateTime`` (``YYYY-MM-DD HH:MM:SS.ffffff``), so that stored times and the
clock compare correctly as the strings SQLite keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement


def db_now(dialect: str, plus_seconds: float = 0.0) -> ColumnElement[datetime]:
    """The database's time now, ``plus_seconds`` later (or earlier, if negative)."""
    if dialect == "postgresql":
        now: ColumnElement[Any] = type_coerce(func.timezone("UTC", func.now()), DateTime)
        if plus_seconds:
            now = now + timedelta(seconds=plus_seconds)
        return type_coerce(now, DateTime)
    # SQLite's %f is seconds with three decimals; three zeros make the six digits
    # SQLAlchemy writes, so "...:05.120000" and a stored "...:05.119999" compare right.
    stamp = func.strftime("%Y-%m-%d %H:%M:%f", "now", f"{plus_seconds:+.3f} seconds")
    return type_coerce(stamp.concat("000"), DateTime)


async def db_time(conn: AsyncConnection, dialect: str) -> datetime:
    """The database's time now, read on ``conn`` (aware UTC)."""
    value: datetime = (await conn.execute(select(db_now(dialect)))).scalar_one()
    return value if value.tzinfo else value.replace(tzinfo=UTC)
