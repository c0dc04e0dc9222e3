"""What a message looks like on arrival: headers, both MIME parts, hostile input made harmless."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.demo.sink import SmtpSink
from notifier.service import run_once
from tests.helpers import INFOLINE, MODERATOR, Blog, parts, settings_for, to


@pytest.fixture
async def sqlite_blog(tmp_path: Path) -> Blog:
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    yield blog  # type: ignore[misc]
    await blog.aclose()


async def test_a_name_with_a_line_break_adds_no_header_and_no_recipient(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await sqlite_blog.comment(
        "Should I ask about a second transplant?",
        author_name="Ann\r\nBcc: victim@example.com",
        author_email="ann@example.com",
    )
    await sqlite_blog.flag(comment, "medical_question")

    assert await run_once(settings_for(smtp, sqlite_blog.url, sqlite_state)) == 0

    assert {r for m in smtp.received for r in m.rcpt_tos} == {MODERATOR, INFOLINE}
    for received in smtp.received:
        raw_headers = received.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
        names = [line.split(":", 1)[0] for line in raw_headers.split("\r\n") if line[:1] != " "]
        assert "Bcc" not in names
        assert "Bcc" not in received.message
        assert len(received.message.get_all("To")) == 1
    [forward] = to(smtp.received, INFOLINE)
    reply_to = forward["Reply-To"].addresses
    assert [a.addr_spec for a in reply_to] == ["ann@example.com"]
    assert "\n" not in reply_to[0].display_name and "\r" not in reply_to[0].display_name


async def test_html_and_script_in_names_and_bodies_are_shown_as_text(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await sqlite_blog.comment(
        "Testing <b>bold</b> and <script>alert('x')</script> and "
        '<a href="javascript:alert(1)">click</a>',
        author_name="Sam <script>alert(1)</script>",
        author_email="sam@example.com",
    )
    assert await run_once(settings_for(smtp, sqlite_blog.url, sqlite_state)) == 0

    [message] = smtp.received
    text, html = parts(message.message)
    assert "<script>" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert 'href="javascript:' not in html
    # The text part shows exactly what was written.
    assert "Testing <b>bold</b> and <script>alert('x')</script>" in text


async def test_a_post_link_that_is_not_http_is_not_a_link(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    post = await sqlite_blog.post("Bad link", "javascript:alert(document.cookie)")
    await sqlite_blog.comment("Hello", post_id=post)
    assert await run_once(settings_for(smtp, sqlite_blog.url, sqlite_state)) == 0
    text, html = parts(smtp.received[0].message)
    assert "javascript:" not in html and "javascript:" not in text


async def test_a_long_comment_is_cut_for_moderators_with_a_note_but_not_for_the_infoline(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    body = "My question is long. " * 400 + "THE END"
    comment = await sqlite_blog.comment(body, status="approved")
    await sqlite_blog.flag(comment, "medical_question")
    assert await run_once(settings_for(smtp, sqlite_blog.url, sqlite_state)) == 0

    new_comment = next(m for m in to(smtp.received, MODERATOR) if "flagged" not in m["Subject"])
    text, html = parts(new_comment)
    assert "THE END" not in text and "only the beginning is shown" in text
    assert f"{len(body)} characters" in html
    [forward] = to(smtp.received, INFOLINE)
    assert "THE END" in parts(forward)[0]


async def test_every_message_has_date_message_id_and_both_parts(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await sqlite_blog.comment("Émile here — with ünïcödé, emoji 🎗️ and עברית text")
    await sqlite_blog.flag(comment, "medical_question")
    assert await run_once(settings_for(smtp, sqlite_blog.url, sqlite_state)) == 0
    assert len(smtp.received) == 3
    ids = set()
    for received in smtp.received:
        message = received.message
        assert message["Date"] is not None
        assert message["Message-ID"].endswith("@blog.example.org>")
        ids.add(message["Message-ID"])
        text, html = parts(message)
        assert "🎗️" in text and "עברית" in html
        assert max(len(line) for line in received.data.split(b"\r\n")) <= 998
    assert len(ids) == 3


async def test_a_template_in_the_override_folder_is_used(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str, tmp_path: Path
) -> None:
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "new_comment.subject.j2").write_text(
        "MODERATE: {{ comment.author_name }} on {{ post.title }}"
    )
    await sqlite_blog.comment("Hello", author_name="Tom")
    settings = settings_for(smtp, sqlite_blog.url, sqlite_state, templates_dir=str(overrides))

    assert await run_once(settings) == 0

    assert smtp.received[0].message["Subject"] == (
        "MODERATE: Tom on Encouraging news about virotherapy"
    )
    # The parts not overridden still come from the shipped templates.
    assert "Tom" in parts(smtp.received[0].message)[0]


async def test_a_broken_override_template_stops_start_up_before_anything_is_sent(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str, tmp_path: Path
) -> None:
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "flagged_comment.txt.j2").write_text("{{ comment.no_such_field }}")
    await sqlite_blog.comment("Hello")
    settings = settings_for(smtp, sqlite_blog.url, sqlite_state, templates_dir=str(overrides))

    from notifier.errors import TemplateError

    with pytest.raises(TemplateError, match=r"flagged_comment\.txt\.j2"):
        await run_once(settings)
    assert smtp.received == []


async def test_reply_to_is_an_address_every_mail_client_can_answer(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    idn = await sqlite_blog.comment("Should I ask about CAR-T?", author_email="ana@exämple.org")
    utf8_local = await sqlite_blog.comment("Is dex safe?", author_email="josé@example.com")
    await sqlite_blog.flag(idn, "medical_question")
    await sqlite_blog.flag(utf8_local, "medical_question")
    settings = settings_for(smtp, sqlite_blog.url, sqlite_state, triage="off")
    assert await run_once(settings) == 0

    forwards = {
        parts(m)[0].split("Email given:", 1)[1].split()[0]: m for m in to(smtp.received, INFOLINE)
    }
    # An internationalised domain in its ASCII form; no encoded words in an address.
    assert forwards["ana@exämple.org"]["Reply-To"].addresses[0].addr_spec == (
        "ana@xn--exmple-cua.org"
    )
    assert (
        b"=?"
        not in next(r.data.split(b"\r\n\r\n")[0] for r in smtp.received if b"xn--exmple" in r.data)
        .split(b"Reply-To:")[1]
        .split(b"\r\n")[0]
    )
    # A non-ASCII local part cannot be a Reply-To: left out, and the body says so.
    assert "Reply-To" not in forwards["josé@example.com"]
