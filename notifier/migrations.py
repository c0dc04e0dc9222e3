"""Schema set-up and upgrades: an ordered list of steps, a version table, a lock.

Every start runs ``migrate``.  Under a lock that only one process holds at a
time (PostgreSQL: ``pg_advisory_xact_lock``; SQLite: ``BEGIN IMMEDIATE``;
MySQL/MariaDB: ``GET_LOCK``) it reads the schema's version from the
``notifier_schema`` table, applies the steps above it in order, records the new
version, and creates every table of the metadata that is still missing.  A new
table therefore needs no step; a change to an existing table does.

On PostgreSQL and SQLite all of that is one transaction, so replicas starting
together on an empty database queue on the lock: the first creates
everything, the others find it done.  (``metadata.create_all`` alone is not
safe there: two sessions creating the same table race on PostgreSQL's catalog
and one fails with a unique violation.)

A store made by a release from before the version table has its tables but no
version: it is at ``BASELINE``, and the steps after it are applied.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, event, inspect, select
from sqlalchemy import text as sql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notifier.db import create_engine

log = logging.getLogger(__name__)

# The schema of release 0.1.0, the last made without a version table.
BASELINE = 1

versions = Table(
    "notifier_schema",
    MetaData(),
    Column("component", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Step:
    """One change to an existing schema, applied once, in version order."""

    version: int
    description: str
    apply: Callable[[Connection], None]


@dataclass(frozen=True, slots=True)
class Migrated:
    """What ``migrate`` did: the version found (None: an empty database) and the one left."""

    found: int | None
    now: int
    applied: tuple[str, ...]


def latest(steps: Sequence[Step]) -> int:
    return max([BASELINE, *(s.version for s in steps)])


def lock_key(component: str) -> int:
    """A stable 63-bit key for PostgreSQL's advisory lock, one per component."""
    return zlib.crc32(f"notifier_schema:{component}".encode()) & 0x7FFF_FFFF_FFFF_FFFF


def immediate_transactions(engine: AsyncEngine) -> None:
    """Make ``engine.begin()`` on SQLite take the write lock at once (BEGIN IMMEDIATE).

    pysqlite opens transactions lazily, before the first write; a migration must
    hold the lock from its first read, or two processes could both read
    "version 1" and both apply step 2.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


async def migrate_url(
    url: str,
    *,
    component: str,
    metadata: MetaData,
    steps: Sequence[Step],
    marker: str,
    durable: bool = False,
) -> Migrated:
    """``migrate`` on an engine of its own for ``url``, disposed of afterwards."""
    engine = create_engine(url, durable=durable)
    if engine.dialect.name == "sqlite":
        immediate_transactions(engine)
    try:
        return await migrate(
            engine, component=component, metadata=metadata, steps=steps, marker=marker
        )
    finally:
        await engine.dispose()


async def migrate(
    engine: AsyncEngine,
    *,
    component: str,
    metadata: MetaData,
    steps: Sequence[Step],
    marker: str,
) -> Migrated:
    """Bring the schema of ``component`` up to date; ``marker`` is a table every
    release has created (its presence without a version means ``BASELINE``).

    On SQLite, ``engine`` must have been set up with ``immediate_transactions``.
    """
    dialect = engine.dialect.name
    if dialect in ("mysql", "mariadb"):
        # DDL commits by itself in MySQL: a named lock held by this session
        # serialises the runners instead of a transaction.
        async with engine.connect() as conn:
            await conn.execute(sql("SELECT GET_LOCK('notifier_schema', 60)"))
            await conn.commit()
            try:
                result = await _upgrade_in_transaction(
                    conn, component, metadata, steps, marker, dialect
                )
            finally:
                await conn.execute(sql("SELECT RELEASE_LOCK('notifier_schema')"))
                await conn.commit()
            return result
    async with engine.connect() as conn:
        return await _upgrade_in_transaction(conn, component, metadata, steps, marker, dialect)


async def _upgrade_in_transaction(
    conn: AsyncConnection,
    component: str,
    metadata: MetaData,
    steps: Sequence[Step],
    marker: str,
    dialect: str,
) -> Migrated:
    async with conn.begin():
        if dialect == "postgresql":
            # Held until this transaction ends, so never leaked by a crash.
            await conn.execute(
                sql("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(component)}
            )
        result: Migrated = await conn.run_sync(_upgrade, component, metadata, steps, marker)
    if result.applied or result.found != result.now:
        log.info(
            "%s schema: version %s -> %d%s",
            component,
            "none" if result.found is None else result.found,
            result.now,
            "".join(f"; {a}" for a in result.applied),
            extra={"action": "migrate", "component": component, "version": result.now},
        )
    return result


def _upgrade(
    conn: Connection, component: str, metadata: MetaData, steps: Sequence[Step], marker: str
) -> Migrated:
    versions.create(conn, checkfirst=True)
    found = conn.execute(
        select(versions.c.version).where(versions.c.component == component)
    ).scalar_one_or_none()
    target = latest(steps)
    applied: list[str] = []
    if found is None and not inspect(conn).has_table(marker):
        # An empty database: today's tables are the latest version.
        metadata.create_all(conn)
        _record(conn, component, None, target)
        return Migrated(None, target, ())
    current = BASELINE if found is None else int(found)
    if current > target:
        log.warning(
            "%s schema is at version %d, newer than this release knows (%d): "
            "running on it unchanged; upgrade notifier",
            component,
            current,
            target,
            extra={"action": "migrate", "component": component, "version": current},
        )
    for step in sorted(steps, key=lambda s: s.version):
        if step.version > current:
            step.apply(conn)
            applied.append(f"{step.version}: {step.description}")
    # Tables added since (by any feature) need no step: created when missing.
    metadata.create_all(conn, checkfirst=True)
    now = max(current, target)
    if found != now:
        _record(conn, component, found, now)
    return Migrated(current, now, tuple(applied))


def _record(conn: Connection, component: str, found: int | None, version: int) -> None:
    stamp = datetime.now(UTC).replace(tzinfo=None)
    if found is None:
        conn.execute(
            versions.insert().values(component=component, version=version, updated_at=stamp)
        )
    else:
        conn.execute(
            versions.update()
            .where(versions.c.component == component)
            .values(version=version, updated_at=stamp)
        )
