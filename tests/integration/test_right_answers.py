"""The answers an operator relies on: counts, check's verdict on the relay, template names."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from notifier import commands
from notifier.demo.sink import RecordingHandler, SmtpSink
from notifier.errors import TemplateError
from notifier.poll.detect import Cursor
from notifier.service import Service
from notifier.state import Outbox
from tests.helpers import MAIL_FROM, Blog, settings_for


async def test_the_poll_counts_the_emails_it_queued_on_every_state_store(
    blog: Blog, smtp: SmtpSink, state_url: str
) -> None:
    first = await blog.comment("Should I ask about Revlimid dosing before my next cycle?")
    await blog.comment("Thanks for the post")
    await blog.flag(first, "abuse")
    service = Service(settings_for(smtp, blog.url, state_url))
    await service.open()
    try:
        report = await service.poller.poll()
        # 2 new_comment + 1 infoline_forward (the triage) + 1 flagged_comment
        assert (report.comments, report.flags, report.enqueued) == (2, 1, 4)
        assert await service.outbox.undelivered() == 4
        assert (await service.poller.poll()).enqueued == 0  # nothing new, nothing counted
    finally:
        await service.close()


class LosesTheRace(Outbox):
    """A state store where another poll moves the cursor just before this one commits."""

    rival: Service | None = None

    async def commit_batch(
        self,
        stream: str,
        old: Cursor,
        new: Cursor,
        entries: Any,
        now: datetime,
        **options: Any,
    ) -> tuple[bool, list[str]]:
        if self.rival is not None:
            rival, self.rival = self.rival, None
            await rival.poller.poll()
        return await super().commit_batch(stream, old, new, entries, now, **options)


async def test_a_poll_that_loses_the_cursor_race_counts_nothing_it_dropped(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    for n in range(3):
        await blog.comment(f"Comment {n}")
    settings = settings_for(smtp, blog.url, sqlite_state)
    loser = Service(settings, outbox=LosesTheRace(sqlite_state))
    rival = Service(settings)
    await loser.open()
    await rival.open()
    try:
        assert isinstance(loser.outbox, LosesTheRace)
        loser.outbox.rival = rival
        report = await loser.poller.poll()
        assert report.conflicts == 1
        assert (report.comments, report.enqueued) == (0, 0)
        assert await loser.outbox.undelivered() == 3  # the rival's rows, once
    finally:
        await loser.close()
        await rival.close()


class RecordsCommands(RecordingHandler):
    def __init__(self, mail_reply: str = "250 OK") -> None:
        super().__init__()
        self.mail_reply = mail_reply
        self.mail_from: list[str] = []
        self.resets = 0

    async def handle_MAIL(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        self.mail_from.append(address)
        if self.mail_reply.startswith("250"):
            envelope.mail_from = address
        return self.mail_reply

    async def handle_RSET(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.resets += 1
        return "250 OK"


async def _check(handler: RecordsCommands, tmp_path: Path, sqlite_state: str) -> str:
    blog = Blog(f"sqlite:///{tmp_path}/store.db")
    await blog.create()
    await blog.aclose()
    async with SmtpSink(handler) as smtp:
        out = io.StringIO()
        await commands.check(settings_for(smtp, blog.url, sqlite_state), out)
    return out.getvalue()


async def test_check_offers_our_sender_then_resets_and_sends_nothing(
    tmp_path: Path, sqlite_state: str
) -> None:
    handler = RecordsCommands()
    out = await _check(handler, tmp_path, sqlite_state)
    assert "ok    SMTP 127.0.0.1:" in out
    assert f"accepts MAIL FROM:<{MAIL_FROM}>" in out, out
    assert handler.mail_from == [MAIL_FROM] and handler.resets == 1
    assert handler.received == []


async def test_check_fails_against_a_relay_that_requires_a_login_we_do_not_have(
    tmp_path: Path, sqlite_state: str
) -> None:
    out = await _check(RecordsCommands("530 5.7.0 Authentication required"), tmp_path, sqlite_state)
    assert "FAIL  SMTP 127.0.0.1" in out
    assert "Authentication required" in out


async def test_check_fails_when_the_relay_refuses_our_sender(
    tmp_path: Path, sqlite_state: str
) -> None:
    out = await _check(RecordsCommands("553 5.7.1 Sender not owned by you"), tmp_path, sqlite_state)
    assert "FAIL  SMTP 127.0.0.1" in out and "refuses our sender" in out


async def test_a_misspelt_template_override_is_an_error_naming_the_expected_names(
    tmp_path: Path, sqlite_state: str
) -> None:
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "new_coment.txt.j2").write_text("Typo in the name: never used")
    (overrides / ".keep").write_text("")  # hidden files are not templates
    settings = settings_for(
        None, f"sqlite:///{tmp_path}/c.db", sqlite_state, templates_dir=str(overrides)
    )
    service = Service(settings)
    try:
        with pytest.raises(TemplateError) as raised:
            service.check_templates()
    finally:
        await service.close()
    message = str(raised.value)
    assert "new_coment.txt.j2" in message and "new_comment.txt.j2" in message
    assert ".keep" not in message
