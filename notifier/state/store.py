"""The state store's connection: its engines, one short transaction per call,
and every database error turned into a ``StateError``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notifier.db import create_engine, safe_url
from notifier.errors import StateError
from notifier.state.schema import metadata


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

    async def create(self) -> None:
        """Create the tables if they do not exist (idempotent)."""

        async def work(conn: AsyncConnection) -> None:
            await conn.run_sync(metadata.create_all)

        await self._run(work)

    def _insert_ignore(self, table: Table, keys: list[str]) -> Any:
        if self._dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
