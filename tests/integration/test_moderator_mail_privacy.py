"""NOTIFIER_MODERATOR_MAIL: what moderators' email leaves out, checked in what arrived."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from notifier.demo.sink import SmtpSink
from notifier.service import run_once
from tests.helpers import INFOLINE, MODERATOR, Blog, readable, settings_for, to

SITE = "https://blog.example.org"
NAME = "Zebulon Quarrington"
EMAIL = "zebulon.q@example.net"
OPENING = "My consultant says my paraprotein is rising again"
ENDING = "and that is my whole story, end of the long comment."
BODY = f"{OPENING}. Should I ask about daratumumab? " + "More detail here. " * 40 + ENDING
NOTE = "Reader note: please forward this to the nurses"


@pytest.fixture
async def sqlite_blog(tmp_path: Path) -> AsyncIterator[Blog]:
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    yield blog
    await blog.aclose()


async def deliver(blog: Blog, smtp: SmtpSink, state: str, mode: str | None) -> None:
    comment = await blog.comment(BODY, author_name=NAME, author_email=EMAIL)
    await blog.flag(comment, "medical_question", note=NOTE, by="Reader Quentin")
    overrides = {"site_url": SITE, "triage": "off"}
    if mode is not None:
        overrides["moderator_mail"] = mode
    assert await run_once(settings_for(smtp, blog.url, state, **overrides)) == 0


async def test_minimal_sends_moderators_no_text_no_name_no_address(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await deliver(sqlite_blog, smtp, sqlite_state, "minimal")

    moderator_mail = to(smtp.received, MODERATOR)
    assert len(moderator_mail) == 2  # the comment and its flag
    for message in moderator_mail:
        seen = readable(message)
        for secret in (NAME, "Zebulon", EMAIL, OPENING, "daratumumab", NOTE, "Quentin"):
            assert secret not in seen, secret
        raw = next(r.data for r in smtp.received if r.message is message)
        assert b"Zebulon" not in raw and b"zebulon" not in raw
        # What is left: the post, the counts and the links.
        assert "Encouraging news about virotherapy" in seen
        assert "1 comment awaiting moderation" in seen
        assert f"{SITE}/p/1" in seen
    [flagged] = [m for m in moderator_mail if "flagged" in str(m["Subject"])]
    assert "forwarded to the InfoLine" in " ".join(readable(flagged).split())
    # The InfoLine always gets the question, whoever it is from.
    [forward] = to(smtp.received, INFOLINE)
    seen = readable(forward)
    assert NAME in seen and EMAIL in seen and ENDING in " ".join(seen.replace("> ", "").split())


async def test_excerpt_sends_a_name_and_a_short_excerpt_but_no_address(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await deliver(sqlite_blog, smtp, sqlite_state, "excerpt")

    for message in to(smtp.received, MODERATOR):
        seen = readable(message)
        assert NAME in seen and OPENING in seen
        assert EMAIL not in seen and ENDING not in seen
        assert "only an excerpt is shown" in " ".join(seen.split())
    [forward] = to(smtp.received, INFOLINE)
    assert EMAIL in readable(forward) and "story, end of the long" in readable(forward)


async def test_full_is_the_default_and_sends_everything(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await deliver(sqlite_blog, smtp, sqlite_state, None)

    for message in to(smtp.received, MODERATOR):
        seen = readable(message)
        assert NAME in seen and EMAIL in seen and "story, end of the long" in seen


def test_an_unknown_mode_is_a_configuration_error() -> None:
    from notifier.errors import ConfigError

    with pytest.raises(ConfigError, match="NOTIFIER_MODERATOR_MAIL"):
        settings_for(None, "sqlite:///x.db", "sqlite:///y.db", moderator_mail="names-only")
