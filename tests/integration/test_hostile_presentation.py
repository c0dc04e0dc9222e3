"""Issue 11, items 7-9, through the real pipeline (comment row -> once -> SMTP server).

Names are shown as data, the plain-text part quotes the comment so it cannot
pass for our own lines, and links point only at the configured site.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from notifier.demo.sink import SmtpSink
from notifier.service import run_once
from tests.helpers import INFOLINE, MODERATOR, Blog, parts, readable, settings_for, to

SITE = "https://blog.example.org"
INVISIBLE = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u200b\u2060\ufeff"


@pytest.fixture
async def sqlite_blog(tmp_path: Path) -> AsyncIterator[Blog]:
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    yield blog
    await blog.aclose()


async def forwarded(blog: Blog, smtp: SmtpSink, state: str, **comment: str) -> None:
    """A comment flagged as a medical question: mail to the moderators and the InfoLine."""
    body = comment.pop("body", "Is it safe to fly after a stem cell transplant?")
    comment_id = await blog.comment(body, **comment)  # type: ignore[arg-type]
    await blog.flag(comment_id, "medical_question")
    assert await run_once(settings_for(smtp, blog.url, state, site_url=SITE, triage="off")) == 0
    assert to(smtp.received, INFOLINE) and to(smtp.received, MODERATOR)


# --- 7: names shown as data ---------------------------------------------------------


async def test_bidi_controls_and_invisible_characters_are_stripped_from_names(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    # U+202E would show "Ann" + "enilofnI" reversed: "Ann InfoLine".
    await forwarded(
        sqlite_blog,
        smtp,
        sqlite_state,
        author_name="Ann\u202eenilofnI\u2066\u200b Team\u2069\u200f\ufeff",
        author_email="ann@example.com",
    )
    for received in smtp.received:
        seen = readable(received.message)
        assert not any(ch in seen for ch in INVISIBLE), received.rcpt_tos
        assert "Name given: AnnenilofnI Team" in parts(received.message)[0]


async def test_a_staff_like_name_is_labelled_as_the_commenters_and_never_a_reply_to_name(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    # "InfoLine Team" with Cyrillic І, і, Т, е, а: look-alikes are real letters and stay,
    # but nothing presents them as who the mail is from.
    await forwarded(
        sqlite_blog,
        smtp,
        sqlite_state,
        author_name="ІnfoLіne Теаm",
        author_email="victim@example.org",
    )
    [forward] = to(smtp.received, INFOLINE)
    [reply_to] = forward["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == ("", "victim@example.org")
    for message in [forward, *to(smtp.received, MODERATOR)]:
        text, html = parts(message)
        assert "Name given: ІnfoLіne Теаm" in text
        assert "Name given: <span" in html and "ІnfoLіne Теаm</span>" in html


# --- 8: the text part quotes the comment ----------------------------------------------

IMITATION = """Thanks!
----------------------------------------------------------------------
It has been forwarded to the InfoLine, which will answer the commenter by email.
Approve: https://blog.example.org.evil.example/wp-admin/comment.php?action=approve&c=1
Moderation screen: https://blog.example.org.evil.example/wp-admin/
"""
IMITATION += "\n-- \nnotifier"  # a signature separator, trailing space and all


async def test_a_body_imitating_the_template_stays_inside_the_quote(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    padded = IMITATION + " " * 150 + "Trash:   https://evil.example/t " + "x" * 300
    await forwarded(sqlite_blog, smtp, sqlite_state, body=padded, author_email="m@example.com")
    for received in smtp.received:
        text = parts(received.message)[0]
        lines = text.splitlines()
        for line in lines:
            if "evil.example" in line or line.startswith("-----") or "xxxxx" in line:
                assert line.startswith("> "), line
            assert len(line) <= 998
        # Every line of the comment, blank ones included, is quoted.
        start = lines.index("> Thanks!")
        end = max(i for i, line in enumerate(lines) if "xxxxx" in line)
        assert all(line.startswith(">") for line in lines[start : end + 1])
        assert "> -- " in lines or ">-- " in lines or "> --" in lines
        assert all(len(line) <= 74 for line in lines[start : end + 1])


# --- 9: links only to the configured site -------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://blog.example.org.evil.example/p/1",
        "https://evil.example/p/1",
        "https://blog.example.org@evil.example/p/1",
        "https://evil.example\\@blog.example.org/p/1",
        "https://blog.example.org:8443/p/1",
    ],
)
async def test_a_post_url_on_another_host_is_not_a_link(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    post = await sqlite_blog.post("Treatment news", url)
    comment = await sqlite_blog.comment("Is this for me?", post_id=post)
    await sqlite_blog.flag(comment, "medical_question")
    assert await run_once(settings_for(smtp, sqlite_blog.url, sqlite_state, site_url=SITE)) == 0

    assert len(smtp.received) == 3
    for received in smtp.received:
        text, html = parts(received.message)
        assert "Treatment news" in text and "Treatment news" in html
        assert "evil.example" not in text + html and ":8443" not in text + html
        assert "href" not in html.split("Treatment news")[0][-200:]
    refused = [r for r in caplog.records if getattr(r, "action", "") == "link_refused"]
    assert len(refused) == 2  # the comment and its flag, each said once


async def test_a_post_url_on_the_site_is_a_link_and_without_a_site_nothing_is(
    sqlite_blog: Blog, smtp: SmtpSink, tmp_path: Path
) -> None:
    post = await sqlite_blog.post("Treatment news", "https://BLOG.example.org/p/9")
    await sqlite_blog.comment("Is this for me?", post_id=post)
    settings = settings_for(smtp, sqlite_blog.url, f"sqlite:///{tmp_path}/a.db", site_url=SITE)
    assert await run_once(settings) == 0
    text, html = parts(smtp.received[0].message)
    assert 'href="https://BLOG.example.org/p/9"' in html and "https://BLOG.example.org/p/9" in text

    smtp.received.clear()
    assert await run_once(settings_for(smtp, sqlite_blog.url, f"sqlite:///{tmp_path}/b.db")) == 0
    text, html = parts(smtp.received[0].message)
    assert "Treatment news" in html and "href" not in html and "example.org/p/9" not in text
