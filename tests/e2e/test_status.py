"""``notifier status`` as a monitoring plugin: exit 0 OK, 1 warning, 2 critical, 3 unknown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from notifier.demo.sink import RecordingHandler, SmtpSink
from tests.e2e.service_process import notifier, sqlite_blog
from tests.helpers import MODERATOR, Blog, environment_for

blog = pytest.fixture(sqlite_blog, name="blog")


async def status(env: dict[str, str]) -> tuple[int, str, dict[str, Any]]:
    code, out, err = await notifier("status", env=env)
    json_code, json_out, _ = await notifier("status", "--json", env=env)
    assert json_code == code, (out, json_out)
    return code, out + err, json.loads(json_out)


async def test_a_missing_state_store_is_unknown_names_the_path_and_is_not_created(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "mistyped-state.db"
    env = environment_for(None, f"sqlite:///{tmp_path}/comments.db", f"sqlite:///{missing}")
    code, out, report = await status(env)
    assert code == 3
    assert str(missing) in out and out.startswith("notifier UNKNOWN")
    assert report["status"] == "UNKNOWN"
    assert not missing.exists()


async def test_all_well_is_0(blog: Blog, smtp: SmtpSink, sqlite_state: str) -> None:
    await blog.comment("Hello")
    env = environment_for(smtp, blog.url, sqlite_state)
    assert (await notifier("once", env=env))[0] == 0
    code, out, report = await status(env)
    assert code == 0, out
    assert out.startswith("notifier OK")
    assert report["counts"]["sent"] == 1 and report["problems"] == []


async def test_dead_letters_are_a_warning(blog: Blog, sqlite_state: str) -> None:
    class Refuses(RecordingHandler):
        async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
            return "550 5.1.1 mailbox unavailable"

    await blog.comment("Hello")
    async with SmtpSink(Refuses()) as smtp:
        env = environment_for(smtp, blog.url, sqlite_state)
        assert (await notifier("once", env=env))[0] == 1
    code, out, report = await status(env)
    assert code == 1, out
    assert report["counts"]["dead"] == 1
    assert report["dead_letters"][0]["recipient"] == MODERATOR
    assert "550" in report["dead_letters"][0]["error"]


async def test_an_unreachable_relay_is_a_warning(blog: Blog, sqlite_state: str) -> None:
    await blog.comment("Hello")
    smtp = SmtpSink()
    await smtp.start()
    await smtp.stop()  # a port nobody listens on now
    env = environment_for(smtp, blog.url, sqlite_state)
    assert (await notifier("once", env=env))[0] == 1
    code, out, report = await status(env)
    assert code == 1, out
    assert "SMTP UNREACHABLE" in out
    assert "cannot reach the SMTP server" in report["smtp_unreachable"]


class WantsLogin(RecordingHandler):
    """A relay that wants a login we do not have: 530 to MAIL FROM."""

    async def handle_MAIL(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        return "530 5.7.0 Authentication required"


async def test_paused_delivery_is_critical(blog: Blog, sqlite_state: str) -> None:
    await blog.comment("Hello")
    async with SmtpSink(WantsLogin()) as smtp:
        env = environment_for(smtp, blog.url, sqlite_state)
        assert (await notifier("once", env=env))[0] == 1
    code, out, report = await status(env)
    assert code == 2, out
    assert "DELIVERY PAUSED" in out and report["delivery_paused"]


async def test_failing_polls_are_critical(
    tmp_path: Path, smtp: SmtpSink, sqlite_state: str
) -> None:
    store = tmp_path / "comments.db"
    blog = Blog(f"sqlite:///{store}")
    await blog.create()
    await blog.aclose()
    env = environment_for(smtp, blog.url, sqlite_state)
    assert (await notifier("once", env=env))[0] == 0
    store.write_bytes(b"this is not a database any more" * 100)
    assert (await notifier("once", env=env))[0] == 1
    code, out, report = await status(env)
    assert code == 2, out
    assert "LAST POLL FAILED" in out and report["poll_error"]
