"""When a store fails: leases, durability, a comment store broken or failing for a while."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from notifier.demo.sink import SmtpSink
from notifier.service import Service
from notifier.state import Outbox
from tests.fault_helpers import (
    Scripted,
    status_of,
)
from tests.helpers import Blog, settings_for

# --- leases ------------------------------------------------------------------------


async def test_the_sqlite_outbox_is_durable_wal_and_synchronous_full(sqlite_state: str) -> None:
    from sqlalchemy import text

    box = Outbox(sqlite_state)
    try:
        await box.create()
        async with box._engine.connect() as conn:
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            synchronous = (await conn.execute(text("PRAGMA synchronous"))).scalar()
    finally:
        await box.aclose()
    assert (journal, synchronous) == ("wal", 2)  # 2 is FULL


# --- the comment store failing -------------------------------------------------------


async def test_a_broken_comment_store_keeps_the_service_up_and_misses_nothing(
    tmp_path: Path, sqlite_state: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The store's file turns to garbage for a while; meanwhile the blog keeps posting
    (to the copy it will be restored from), and queued mail still goes out."""
    path = tmp_path / "comments.db"
    blog = Blog(f"sqlite:///{path}")
    await blog.create()
    await blog.comment("Before the outage")
    await blog.aclose()

    async with SmtpSink(Scripted()) as server:
        service = Service(settings_for(server, f"sqlite:///{path}", sqlite_state))
        await service.open()
        try:
            await service.poller.poll()  # queued, not yet delivered
            good = path.read_bytes()
            path.write_bytes(b"this is not a database " * 500)

            report = await service.tick()
            assert report.problems and "comment store" in report.problems[0]
            assert report.delivery is not None and report.delivery.sent == 1
            assert "LAST POLL FAILED: cannot read the comment store" in await status_of(
                service.settings
            )

            # The blog keeps taking comments while we cannot read them.
            (tmp_path / "restore.db").write_bytes(good)
            meanwhile = Blog(f"sqlite:///{tmp_path}/restore.db")
            meanwhile.post_id = 1
            await meanwhile.comment("Posted during the outage")
            await meanwhile.comment("Also posted during the outage")
            await meanwhile.aclose()
            report = await service.tick()
            assert report.problems

            path.write_bytes((tmp_path / "restore.db").read_bytes())
            report = await service.tick()
            assert report.problems == []
            assert report.poll is not None and report.poll.comments == 2
        finally:
            await service.close()
    bodies = [str(r.message.get_body(("plain",)).get_content()) for r in server.received]
    assert len(bodies) == 3
    assert sum("during the outage" in b for b in bodies) == 2
    assert "LAST POLL FAILED" not in await status_of(service.settings)
    assert any(getattr(r, "action", None) == "poll_failed" for r in caplog.records)


@pytest.mark.postgres
async def test_a_comment_store_whose_queries_fail_recovers_when_access_returns(
    pg_url: str, sqlite_state: str
) -> None:
    """PostgreSQL: the reader loses its rights on the tables, then gets them back."""
    import uuid

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from notifier.db import create_engine

    blog = Blog(pg_url)
    await blog.create()
    role = f"notifier_reader_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")

    async def sql(statement: str) -> None:
        async with admin.connect() as conn:
            await conn.execute(text(statement))

    await sql(f"CREATE ROLE {role} LOGIN")
    await sql(f"GRANT SELECT ON posts, comments, comment_flags TO {role}")
    reader_url = make_url(pg_url).set(username=role).render_as_string(hide_password=False)
    try:
        await blog.comment("Before the outage")
        async with SmtpSink(Scripted()) as server:
            service = Service(settings_for(server, reader_url, sqlite_state))
            await service.open()
            try:
                await service.poller.poll()
                await sql(f"REVOKE SELECT ON comments FROM {role}")
                await blog.comment("Posted during the outage")

                report = await service.tick()
                assert report.problems and "permission denied" in report.problems[0]
                assert report.delivery is not None and report.delivery.sent == 1

                await sql(f"GRANT SELECT ON comments TO {role}")
                report = await service.tick()
                assert report.problems == []
                assert report.delivery is not None and report.delivery.sent == 1
            finally:
                await service.close()
        assert len(server.received) == 2
    finally:
        await blog.aclose()
        await sql(f"REVOKE ALL ON posts, comments, comment_flags FROM {role}")
        await sql(f"DROP ROLE {role}")
        await admin.dispose()
        logging.getLogger(__name__).debug("dropped %s", role)
