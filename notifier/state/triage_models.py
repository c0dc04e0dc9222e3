"""Site triage models in the state store: saved by `notifier triage learn`, read by the worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.state.schema import aware, naive, triage_models
from notifier.state.store import StateStore

# Older models are kept for comparison, a few at most.
_KEEP = 5


@dataclass(frozen=True, slots=True)
class SavedModel:
    id: int
    model: bytes
    summary: str
    created_at: datetime | None


class TriageModels(StateStore):
    """The site's triage models, newest first."""

    async def save_triage_model(self, model: bytes, summary: str, now: datetime) -> int:
        async def work(conn: AsyncConnection) -> int:
            result = await conn.execute(
                insert(triage_models).values(model=model, summary=summary, created_at=naive(now))
            )
            key = result.inserted_primary_key
            new_id = int(key[0]) if key else 0
            keep = select(triage_models.c.id).order_by(triage_models.c.id.desc()).limit(_KEEP)
            await conn.execute(
                delete(triage_models).where(triage_models.c.id.not_in(keep.scalar_subquery()))
            )
            return new_id

        result: int = await self._run(work)
        return result

    async def latest_triage_model(self) -> SavedModel | None:
        async def work(conn: AsyncConnection) -> SavedModel | None:
            row = (
                await conn.execute(
                    select(triage_models).order_by(triage_models.c.id.desc()).limit(1)
                )
            ).first()
            if row is None:
                return None
            return SavedModel(row.id, bytes(row.model), row.summary, aware(row.created_at))

        result: SavedModel | None = await self._run(work, write=False)
        return result
