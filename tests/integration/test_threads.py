"""Moderator mail threads per post and says it is machine mail; InfoLine forwards do neither."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from notifier.demo.sink import SmtpSink
from notifier.service import run_once
from tests.helpers import INFOLINE, MODERATOR, Blog, settings_for, to

SITE = "https://blog.example.org"


@pytest.fixture
async def sqlite_blog(tmp_path: Path) -> AsyncIterator[Blog]:
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    yield blog
    await blog.aclose()


def references(message: EmailMessage) -> list[str]:
    return str(message["References"]).split()


def about(messages: list[EmailMessage], words: str) -> list[EmailMessage]:
    return [m for m in messages if words in str(m["Subject"])]


async def test_every_moderator_email_about_a_post_references_one_root_and_the_parent(
    sqlite_blog: Blog, smtp: SmtpSink, tmp_path: Path
) -> None:
    other_post = await sqlite_blog.post("Autumn seminar", f"{SITE}/p/2")
    first = await sqlite_blog.comment("First thoughts on this", author_name="Ann")
    await sqlite_blog.comment("Replying to Ann", author_name="Bob", parent_id=first)
    await sqlite_blog.flag(first, "abuse", note="rude")
    await sqlite_blog.comment("See you there", author_name="Cy", post_id=other_post)
    settings = settings_for(smtp, sqlite_blog.url, f"sqlite:///{tmp_path}/s1.db", site_url=SITE)

    assert await run_once(settings) == 0

    mail = to(smtp.received, MODERATOR)
    assert len(mail) == 4
    on_first_post = [m for m in mail if "Autumn seminar" not in str(m["Subject"])]
    roots = {references(m)[0] for m in on_first_post}
    assert len(roots) == 1
    [root] = roots
    assert root.startswith(f"<post-{sqlite_blog.post_id}.") and root.endswith("@blog.example.org>")
    for message in on_first_post:
        # Parsed as a mail client parses them: In-Reply-To is the last reference.
        assert message["In-Reply-To"] == references(message)[-1]
        assert message["Message-ID"] not in references(message)
        assert message.defects == []
    [reply] = about(on_first_post, "Bob")
    assert references(reply)[1].startswith(f"<comment-{first}.")
    assert len(references(reply)) == 2
    assert all(len(references(m)) == 1 for m in on_first_post if m is not reply)
    [seminar] = about(mail, "Autumn seminar")
    assert references(seminar)[0] != root
    assert references(seminar)[0].startswith(f"<post-{other_post}.")

    # The root is derived, not stored: a fresh state store threads onto the same root.
    smtp.received.clear()
    await sqlite_blog.comment("Later thoughts", author_name="Dee")
    settings = settings_for(smtp, sqlite_blog.url, f"sqlite:///{tmp_path}/s2.db", site_url=SITE)
    assert await run_once(settings) == 0
    later = about(to(smtp.received, MODERATOR), "Dee")
    assert [references(m)[0] for m in later] == [root]


async def test_moderator_mail_is_machine_mail_with_a_list_id_and_the_forward_is_not(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await sqlite_blog.comment("Should I ask about a second transplant?")
    await sqlite_blog.flag(comment, "medical_question")
    other = await sqlite_blog.comment("And is dex making me sleepless?")
    await sqlite_blog.flag(other, "medical_question")
    settings = settings_for(smtp, sqlite_blog.url, sqlite_state, site_url=SITE, triage="off")

    assert await run_once(settings) == 0

    moderator_mail = to(smtp.received, MODERATOR)
    assert len(moderator_mail) == 4
    for message in moderator_mail:
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Auto-Response-Suppress"] == "All"
        assert message["List-Id"] == "Myeloma Blog moderation <moderation.blog.example.org>"
    forwards = to(smtp.received, INFOLINE)
    assert len(forwards) == 2
    for forward in forwards:
        for name in (
            "Auto-Submitted",
            "X-Auto-Response-Suppress",
            "List-Id",
            "References",
            "In-Reply-To",
        ):
            assert name not in forward, name
    # Two questions on one post stay two tickets: different subjects, no shared ids.
    assert forwards[0]["Subject"] != forwards[1]["Subject"]


async def test_subjects_keep_the_post_and_add_the_name_as_text_and_an_excerpt(
    sqlite_blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await sqlite_blog.comment(
        "Lovely <i>news</i> — thank you for writing this up so clearly, it helped my family.",
        author_name="<b>Eve</b>\u202e",
        status="approved",
    )
    await sqlite_blog.comment("Second!", author_name="Finn")
    settings = settings_for(smtp, sqlite_blog.url, sqlite_state, site_url=SITE)

    assert await run_once(settings) == 0

    eve, finn = sorted(to(smtp.received, MODERATOR), key=lambda m: "Finn" in str(m["Subject"]))
    stable = "[Myeloma Blog] “Encouraging news about virotherapy” · "
    assert str(eve["Subject"]).startswith(stable + "New comment: Eve — “Lovely news")
    assert str(finn["Subject"]) == stable + "Please moderate: Finn — “Second!”"
    assert "<" not in str(eve["Subject"]) and "\u202e" not in str(eve["Subject"])
    assert str(eve["Subject"]).endswith("…”")
    assert len(str(eve["Subject"])) < len(stable) + 90
