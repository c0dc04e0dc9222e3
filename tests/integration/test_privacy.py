"""What notifier keeps about commenters, who can read it, and for how long."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from notifier.db import create_engine
from notifier.demo.sink import SmtpSink
from notifier.errors import StateError
from notifier.service import Service, run_once
from tests.fault_helpers import outbox_rows
from tests.helpers import Blog, settings_for

QUESTION = "My dad's myeloma is back. Should he ask about daratumumab before his next cycle?"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Blog]:
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    yield blog
    await blog.aclose()


async def test_the_state_store_is_readable_by_its_owner_only(
    store: Blog, smtp: SmtpSink, tmp_path: Path
) -> None:
    state = tmp_path / "private" / "state.db"
    state.parent.mkdir()
    await store.comment(QUESTION, author_email="dad@example.net")
    old_umask = os.umask(0o022)
    try:
        assert await run_once(settings_for(smtp, store.url, f"sqlite:///{state}")) == 0
    finally:
        os.umask(old_umask)

    for path in state.parent.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


async def test_an_existing_state_file_others_can_read_is_tightened(
    store: Blog, smtp: SmtpSink, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    state.touch(mode=0o644)
    state.chmod(0o644)
    assert await run_once(settings_for(smtp, store.url, f"sqlite:///{state}")) == 0
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


async def test_a_world_writable_directory_is_refused(
    store: Blog, smtp: SmtpSink, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(StateError, match="writable by every user"):
        await run_once(settings_for(smtp, store.url, f"sqlite:///{shared}/state.db"))
    assert not (shared / "state.db").exists()


async def _age_rows(state_url: str, *, days: int) -> None:
    engine = create_engine(state_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE notifier_outbox SET updated_at ="
                    f" strftime('%Y-%m-%d %H:%M:%f000', updated_at, '-{days} days')"
                )
            )
    finally:
        await engine.dispose()


async def test_sent_and_dead_mail_is_purged_after_the_retention_period(
    store: Blog, smtp: SmtpSink, sqlite_state: str, tmp_path: Path
) -> None:
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "new_comment.subject.j2").write_text(
        "{% if 'explode' in comment.body %}{{ comment.no_such_field }}{% endif %}New comment\n"
    )
    now = [datetime(2026, 1, 1, 9, 0, tzinfo=UTC)]
    settings = settings_for(
        smtp, store.url, sqlite_state, templates_dir=str(overrides), retention_days="30"
    )
    service = Service(settings, clock=lambda: now[0])
    await service.open()
    try:
        await store.comment("Thank you for this post", author_email="dad@example.net")
        await store.comment("This one makes the template explode")
        await service.tick()
        assert sorted(r.state for r in await outbox_rows(sqlite_state)) == ["dead", "sent"]

        # Ages are the state store's clock: make the rows 29 days old.
        await _age_rows(sqlite_state, days=29)
        now[0] += timedelta(hours=2)  # the purge runs at most hourly
        await service.tick()
        assert len(await outbox_rows(sqlite_state)) == 2  # not yet

        await _age_rows(sqlite_state, days=2)
        await store.comment("A new comment, kept")
        now[0] += timedelta(hours=2)
        await service.tick()
    finally:
        await service.close()
    rows = await outbox_rows(sqlite_state)
    assert [r.state for r in rows] == ["sent"]
    assert b"A new comment, kept" in rows[0].message


async def test_a_commenters_address_is_not_logged_at_info(
    store: Blog, smtp: SmtpSink, sqlite_state: str, caplog: pytest.LogCaptureFixture
) -> None:
    comment = await store.comment(
        QUESTION, author_email="Dad.Private@example.net", status="approved"
    )
    await store.flag(comment, "medical_question")

    with caplog.at_level(logging.INFO):
        assert (
            await run_once(settings_for(smtp, store.url, sqlite_state, ack_commenter="true")) == 0
        )

    assert [r for r in smtp.received if r.rcpt_tos == ["Dad.Private@example.net"]]
    ours = [r for r in caplog.records if r.name.startswith("notifier")]
    assert any(getattr(r, "event", "").startswith("ack:") for r in ours)
    for record in ours:  # the test's own SMTP server logs what it receives
        line = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        assert "private" not in line.lower(), line
