"""retry re-addresses after a fix; first start without tables, or with a store down."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from notifier.demo.sink import RecordingHandler, SmtpSink
from tests.e2e.service_process import ServiceProcess, notifier, sqlite_blog
from tests.helpers import INFOLINE, MODERATOR, Blog, environment_for

NEW_MODERATOR = "new-moderator@blog.example.org"
NEW_INFOLINE = "helpline@charity.example.org"

blog = pytest.fixture(sqlite_blog, name="blog")


class RefusesOldAddresses(RecordingHandler):
    """The mail server of a charity whose moderator and InfoLine mailboxes moved."""

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address in (MODERATOR, INFOLINE):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def _dead_ids(state: Path) -> dict[str, int]:
    with sqlite3.connect(state) as db:
        rows = db.execute(
            "SELECT template, id FROM notifier_outbox WHERE state = 'dead'"
        ).fetchall()
    return {template: int(row_id) for template, row_id in rows}


async def test_retry_sends_to_the_addresses_the_settings_name_now(
    tmp_path: Path, blog: Blog
) -> None:
    question = await blog.comment("Is numbness in my feet from Velcade? Should I tell my nurse?")
    await blog.flag(question, "medical_question")
    state = tmp_path / "state.db"
    handler = RefusesOldAddresses()
    async with SmtpSink(handler) as smtp:
        env = environment_for(smtp, blog.url, f"sqlite:///{state}")
        assert (await notifier("once", env=env))[0] == 1
        dead = _dead_ids(state)
        assert {"new_comment", "flagged_comment", "infoline_forward"} <= dead.keys()

        # The operator fixes the addresses, then retries as the README says.
        env["NOTIFIER_MODERATORS"] = NEW_MODERATOR
        env["NOTIFIER_INFOLINE_ADDRESS"] = NEW_INFOLINE
        code, out, err = await notifier("retry", *map(str, dead.values()), env=env)
        assert code == 0, out + err
        assert f"re-addressed from {INFOLINE} to {NEW_INFOLINE}" in out
        assert f"re-addressed from {MODERATOR} to {NEW_MODERATOR}" in out
        assert (await notifier("once", env=env))[0] == 0, "retried mail did not go"

    assert sorted(r for m in handler.received for r in m.rcpt_tos) == [
        NEW_INFOLINE,
        NEW_MODERATOR,
        NEW_MODERATOR,
    ]
    forward = next(r for r in handler.received if r.rcpt_tos == [NEW_INFOLINE]).message
    assert forward["To"] == NEW_INFOLINE
    assert "Velcade" in forward.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert all(r.message["To"] == r.rcpt_tos[0] for r in handler.received)


async def test_retry_explains_every_id_it_cannot_retry(
    tmp_path: Path, blog: Blog, smtp: SmtpSink
) -> None:
    await blog.comment("Hello")
    state = tmp_path / "state.db"
    env = environment_for(smtp, blog.url, f"sqlite:///{state}")
    assert (await notifier("once", env=env))[0] == 0
    with sqlite3.connect(state) as db:
        sent_id = db.execute("SELECT id FROM notifier_outbox").fetchone()[0]
        db.execute(
            "INSERT INTO notifier_outbox (event_key, recipient, template, state, attempts,"
            " created_at, next_attempt_at, updated_at, last_error) VALUES"
            " ('comment:99', 'x@example.org', 'new_comment', 'dead', 0, '2026-01-01',"
            " '2026-01-01', '2026-01-01', 'template ''new_comment.txt.j2'': boom')"
        )
        never_built = db.execute("SELECT max(id) FROM notifier_outbox").fetchone()[0]
    code, out, _ = await notifier("retry", "424242", str(sent_id), str(never_built), env=env)
    assert code == 1
    assert "#424242: no such message" in out
    assert f"#{sent_id}: not a dead letter: already sent" in out
    assert f"#{never_built}: never built (template 'new_comment.txt.j2': boom)" in out
    assert "requeued 0 dead letter(s)" in out


async def test_first_start_without_tables_says_to_run_init_source_in_one_line(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    store = tmp_path / "comments.db"
    sqlite3.connect(store).close()  # a database, but no comment tables
    env = environment_for(smtp, f"sqlite:///{store}", f"sqlite:///{tmp_path}/state.db")
    env["NOTIFIER_START_FROM"] = "now"
    code, _, err = await notifier("run", env=env)
    assert code == 1
    lines = [line for line in err.splitlines() if "init-source" in line]
    assert len(lines) == 1 and "run `notifier init-source`" in lines[0]
    assert "[SQL" not in err and "Traceback" not in err


@pytest.mark.postgres
async def test_a_store_down_at_first_start_is_retried_until_it_answers(
    pg_url: str, tmp_path: Path, smtp: SmtpSink
) -> None:
    from tests.conftest import PG_ADMIN
    from tests.e2e.test_metrics_and_health import _allow_connections

    blog = Blog(pg_url)
    await blog.create()
    await blog.aclose()
    database = pg_url.rsplit("/", 1)[1]
    env = environment_for(smtp, pg_url, f"sqlite:///{tmp_path}/state.db", poll_interval="0.3")
    env["NOTIFIER_START_FROM"] = "now"  # the first start must read where "now" is
    await _allow_connections(PG_ADMIN, database, False)
    try:
        async with ServiceProcess(env) as service:
            await service.wait_for_line(lambda s: "action=start_failed" in s)
            await _allow_connections(PG_ADMIN, database, True)
            await service.wait_for_line(lambda s: "action=start" in s and "running" in s)
            blog = Blog(pg_url)
            await blog.comment("Posted once the store was back", post_id=1)
            await blog.aclose()
            await asyncio.wait_for(smtp.handler.arrived.wait(), 30)
        assert service.returncode == 0
    finally:
        await _allow_connections(PG_ADMIN, database, True)
    assert [r.rcpt_tos for r in smtp.received] == [[MODERATOR]]


async def test_config_prints_effective_settings_from_env_dotenv_and_secret_files(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        "NOTIFIER_SITE_NAME='Dotenv Blog'\nNOTIFIER_MODERATORS=jo@example.org\n"
    )
    secret = tmp_path / "smtp_password"
    secret.write_text("Hunter2-secret\n")
    env = {
        "NOTIFIER_MAIL_FROM": "notifier@example.org",
        "NOTIFIER_MODERATORS": "env@example.org",
        "NOTIFIER_SMTP_USERNAME": "notifier",
        "NOTIFIER_SMTP_PASSWORD_FILE": str(secret),
    }
    code, out, err = await notifier("config", env=env, cwd=tmp_path)
    assert code == 0, err
    lines = {line.split("=", 1)[0]: line for line in out.splitlines()}
    assert "Hunter2-secret" not in out
    assert lines["NOTIFIER_SMTP_PASSWORD"].split("#")[1].strip() == f"file {secret}"
    assert "NOTIFIER_SMTP_PASSWORD=********" in out
    assert "Dotenv Blog" in lines["NOTIFIER_SITE_NAME"] and "# .env" in lines["NOTIFIER_SITE_NAME"]
    assert "env@example.org" in lines["NOTIFIER_MODERATORS"]  # the environment wins
    assert "# default" in lines["NOTIFIER_POLL_INTERVAL"]

    env["NOTIFIER_SMTP_PASSWORD"] = "also-given"
    code, out, err = await notifier("config", env=env, cwd=tmp_path)
    assert code == 2
    assert "NOTIFIER_SMTP_PASSWORD and NOTIFIER_SMTP_PASSWORD_FILE: set one of them" in err
    assert "also-given" not in err + out
