"""The schema: set up under a lock, upgraded from the previous release, rows kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from notifier.db import create_engine
from notifier.migrations import BASELINE, latest, versions
from notifier.sources.native import STEPS as NATIVE_STEPS
from notifier.sources.native import create_schema
from notifier.state import Outbox
from notifier.state.schema import STEPS
from tests.fault_helpers import outbox_rows
from tests.helpers import Blog

DATA = Path(__file__).parent.parent / "data"


async def _schema_of_release_0_1_0(url: str, dialect: str) -> None:
    """The store as release 0.1.0 made it, with a queued message, a sent one and a cursor."""
    script = (DATA / f"state_schema_0.1.0_{dialect}.sql").read_text()
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in script.split(";"):
                lines = [ln for ln in statement.splitlines() if not ln.startswith("--")]
                if "".join(lines).strip():
                    await conn.execute(text("\n".join(lines)))
            now = datetime(2026, 11, 1, 9, 0)
            for key, state in (("comment:1", "pending"), ("comment:2", "sent")):
                await conn.execute(
                    text(
                        "INSERT INTO notifier_outbox (event_key, recipient, template, message, "
                        "state, attempts, created_at, next_attempt_at, updated_at) VALUES "
                        "(:key, 'm@example.org', 'new_comment', :message, :state, 0, "
                        ":now, :now, :now)"
                    ),
                    {"key": key, "message": b"data", "state": state, "now": now},
                )
            await conn.execute(
                text(
                    "INSERT INTO notifier_cursors (stream, position, gaps, version, updated_at) "
                    "VALUES ('comments', 2, '[]', 3, :now)"
                ),
                {"now": now},
            )
    finally:
        await engine.dispose()


async def _version(url: str, component: str) -> int | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            value = (
                await conn.execute(
                    select(versions.c.version).where(versions.c.component == component)
                )
            ).scalar_one_or_none()
            return None if value is None else int(value)
    finally:
        await engine.dispose()


async def _tables_and_indexes(url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:

            def look(sync_conn: object) -> tuple[set[str], set[str]]:
                inspector = inspect(sync_conn)
                tables = set(inspector.get_table_names())
                indexes = {i["name"] for i in inspector.get_indexes("notifier_outbox")}
                return tables, {str(name) for name in indexes}

            return await conn.run_sync(look)
    finally:
        await engine.dispose()


async def test_a_store_made_by_the_previous_release_is_upgraded_on_start_and_keeps_its_rows(
    state_url: str,
) -> None:
    url = state_url
    dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
    await _schema_of_release_0_1_0(url, dialect)
    tables, indexes = await _tables_and_indexes(url)
    assert "notifier_workers" not in tables and "ix_notifier_outbox_lease_owner" not in indexes

    box = Outbox(url)
    try:
        await box.create()
        await box.create()  # a second start changes nothing
        cursor = await box.load_cursor("comments")
        stats = await box.stats(datetime.now(UTC))
    finally:
        await box.aclose()

    assert await _version(url, "state") == latest(STEPS) > BASELINE
    tables, indexes = await _tables_and_indexes(url)
    assert {"notifier_workers", "notifier_schema"} <= tables  # new tables: created when missing
    assert "ix_notifier_outbox_lease_owner" in indexes  # step 2 applied
    rows = await outbox_rows(url)
    assert [(r.event_key, r.state) for r in rows] == [
        ("comment:1", "pending"),
        ("comment:2", "sent"),
    ]
    assert cursor is not None and (cursor.position, cursor.version) == (2, 3)
    assert (stats.pending, stats.sent) == (1, 1)


async def test_an_empty_store_is_created_at_the_latest_version(sqlite_state: str) -> None:
    box = Outbox(sqlite_state)
    try:
        await box.create()
    finally:
        await box.aclose()
    assert await _version(sqlite_state, "state") == latest(STEPS)
    tables, indexes = await _tables_and_indexes(sqlite_state)
    assert {"notifier_outbox", "notifier_cursors", "notifier_meta", "notifier_workers"} <= tables
    assert "ix_notifier_outbox_lease_owner" in indexes


@pytest.mark.postgres
async def test_ten_workers_setting_up_an_empty_postgresql_store_at_once_all_succeed(
    pg_url: str,
) -> None:
    boxes = [Outbox(pg_url) for _ in range(10)]
    try:
        results = await asyncio.gather(*(b.create() for b in boxes), return_exceptions=True)
    finally:
        await asyncio.gather(*(b.aclose() for b in boxes))
    assert [r for r in results if r is not None] == []
    assert await _version(pg_url, "state") == latest(STEPS)


async def test_the_native_store_is_versioned_too_and_a_release_0_1_0_store_keeps_its_comments(
    store_url: str,
) -> None:
    # A store made by 0.1.0's init-source: the tables, no version table.
    blog = Blog(store_url)
    try:
        from notifier.sources.native import metadata

        async with blog.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        blog.post_id = await blog.post("A post", "https://blog.example.org/p/1")
        await blog.comment("Posted before the upgrade")
        await create_schema(store_url)
        await create_schema(store_url)
        async with blog.engine.connect() as conn:
            bodies = (await conn.execute(text("SELECT body FROM comments"))).scalars().all()
    finally:
        await blog.aclose()
    assert bodies == ["Posted before the upgrade"]
    assert await _version(store_url, "native") == latest(NATIVE_STEPS) == BASELINE
