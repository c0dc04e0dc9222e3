"""The state store's connection: its engines, one short transaction per call,
and every database error turned into a ``StateError``."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notifier.db import create_engine, parse_url, safe_url
from notifier.errors import StateError
from notifier.migrations import migrate_url
from notifier.state.dbtime import db_time
from notifier.state.schema import MARKER, STEPS, metadata

log = logging.getLogger(__name__)


def protect_sqlite_file(url: str) -> None:
    """Create the state file 0600 (and tighten an existing one); refuse a directory
    anyone may write to, where another user could swap the file for their own."""
    database = parse_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).absolute()
    directory = path.parent.stat()
    if directory.st_mode & stat.S_IWOTH:
        if not directory.st_mode & stat.S_ISVTX:
            raise StateError(
                f"state store at {safe_url(url)}: its directory {path.parent} is writable by "
                "every user; put it in a directory only notifier's user can write"
            )
        log.warning(
            "the state store's directory %s is world-writable (sticky): prefer a private one",
            path.parent,
            extra={"action": "state_file_mode"},
        )
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists() and name.stat().st_mode & 0o077:
            name.chmod(0o600)
            log.warning(
                "%s was readable by other users; now 0600",
                name,
                extra={"action": "state_file_mode"},
            )


class StateStore:
    """Async access to the state store.  Every method is one short transaction."""

    def __init__(self, url: str, *, engine: AsyncEngine | None = None) -> None:
        self.url = url
        self._engine = engine or create_engine(url, durable=True)
        # Delivery bookkeeping (claims, outcomes, leases) whose loss in a power cut
        # can only send a message again: no fsync per message.  What is enqueued,
        # and the cursor with it, is always written durably.
        self._relaxed = engine or create_engine(url, relaxed=True)
        self._dialect = self._engine.dialect.name

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._dialect

    async def aclose(self) -> None:
        await self._engine.dispose()
        if self._relaxed is not self._engine:
            await self._relaxed.dispose()

    def _error(self, exc: Exception) -> StateError:
        return StateError(f"state store at {safe_url(self.url)}: {type(exc).__name__}: {exc}")

    async def _run(self, work: Any, *, write: bool = True, relaxed: bool = False) -> Any:
        engine = self._relaxed if relaxed else self._engine
        try:
            async with engine.begin() if write else engine.connect() as conn:
                return await work(conn)
        except (SQLAlchemyError, OSError) as exc:
            raise self._error(exc) from exc

    async def now(self) -> datetime:
        """The state store's clock (aware UTC): every due time is measured with it."""

        async def work(conn: AsyncConnection) -> datetime:
            return await db_time(conn, self._dialect)

        result: datetime = await self._run(work, write=False)
        return result

    async def create(self) -> None:
        """Create the schema, or upgrade one made by an earlier release (idempotent).

        Under a lock (``notifier.migrations``): replicas starting together on an
        empty store all start.  A SQLite file is created readable by its owner
        only: it holds commenters' addresses and medical questions.
        """
        if self._dialect == "sqlite":
            protect_sqlite_file(self.url)
        try:
            await migrate_url(
                self.url,
                component="state",
                metadata=metadata,
                steps=STEPS,
                marker=MARKER,
                durable=True,
            )
        except (SQLAlchemyError, OSError) as exc:
            raise self._error(exc) from exc

    def _insert_ignore(self, table: Table, keys: list[str]) -> Any:
        if self._dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
