"""Each route of the README's table, end to end: store -> notifier once -> SMTP server.

Runs with the native store on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

from notifier.demo.sink import SmtpSink
from notifier.service import run_once
from tests.helpers import (
    INFOLINE,
    MAIL_FROM,
    MODERATOR,
    MODERATOR_2,
    Blog,
    parts,
    prose,
    settings_for,
    to,
)


async def test_new_pending_comment_reaches_every_moderator(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await blog.comment("What a hopeful article.", author_name="Tom", status="pending")
    settings = settings_for(smtp, blog.url, sqlite_state, moderators=f"{MODERATOR},{MODERATOR_2}")

    assert await run_once(settings) == 0

    assert sorted(r for m in smtp.received for r in m.rcpt_tos) == sorted([MODERATOR, MODERATOR_2])
    message = to(smtp.received, MODERATOR)[0]
    assert message["From"].addresses[0].addr_spec == MAIL_FROM
    assert "Please moderate" in message["Subject"]
    assert "Encouraging news about virotherapy" in message["Subject"]
    text, html = parts(message)
    assert "https://blog.example.org/p/1" not in text + html  # no NOTIFIER_SITE_URL: no links
    for body in (text, html):
        assert "What a hopeful article." in body
        assert "Tom" in body and "tom@example.net" in body
        assert "pending" in body
    assert "1 comment awaiting moderation" in text
    assert smtp.received[0].mail_from == MAIL_FROM


async def test_flag_reaches_moderators_with_reason_and_note(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await blog.comment("You are all fools.", status="approved")
    settings = settings_for(smtp, blog.url, sqlite_state)
    assert await run_once(settings) == 0
    smtp.received.clear()

    await blog.flag(comment, "abuse", note="Insults other readers", by="reader")
    assert await run_once(settings) == 0

    [message] = to(smtp.received, MODERATOR)
    assert "flagged (abusive)" in message["Subject"]
    text, html = parts(message)
    assert "Insults other readers" in text and "Insults other readers" in html
    assert "You are all fools." in text
    assert not to(smtp.received, INFOLINE)


async def test_medical_question_flag_forwards_to_infoline_with_reply_to_commenter(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await blog.comment(
        "My light chains doubled, should I push for treatment now?",
        author_name="Raj Patel",
        author_email="raj@example.com",
        status="approved",
    )
    await blog.flag(comment, "medical_question", note="please forward")

    # With the triage off, only the moderator's flag can forward it.
    assert await run_once(settings_for(smtp, blog.url, sqlite_state, triage="off")) == 0

    [forward] = to(smtp.received, INFOLINE)
    assert forward["Reply-To"].addresses[0].addr_spec == "raj@example.com"
    # The address alone: the name the commenter typed is shown as theirs, in the body.
    assert forward["Reply-To"].addresses[0].display_name == ""
    assert "Raj Patel" in forward["Subject"]
    text, html = parts(forward)
    assert "Name given: Raj Patel" in text
    assert "My light chains doubled" in text and "My light chains doubled" in html
    assert "please forward" in text
    assert "sent to you by a moderator" in prose(text)
    assert "Auto-Submitted" not in forward  # helpdesks may drop auto-submitted mail
    # The moderators hear about the comment and the flag, and that it was forwarded.
    moderator_mail = to(smtp.received, MODERATOR)
    assert len(moderator_mail) == 2
    flagged = next(m for m in moderator_mail if "flagged" in m["Subject"])
    assert "forwarded to the InfoLine" in prose(parts(flagged)[0])


async def test_two_medical_flags_forward_the_question_once(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await blog.comment("Is melphalan safe at 80?", status="approved")
    await blog.flag(comment, "medical_question")
    await blog.flag(comment, "medical_question", by="another moderator")

    assert await run_once(settings_for(smtp, blog.url, sqlite_state)) == 0

    assert len(to(smtp.received, INFOLINE)) == 1
    assert len(to(smtp.received, MODERATOR)) == 3  # the comment and each flag


async def test_spam_and_trash_mail_nobody_even_when_flagged(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    spam = await blog.comment("Cheap Revlimid, no prescription!", status="spam")
    trash = await blog.comment("Should I stop my Velcade?", status="trash")
    await blog.flag(spam, "medical_question")
    await blog.flag(trash, "medical_question")

    assert await run_once(settings_for(smtp, blog.url, sqlite_state)) == 0

    # The source has dealt with them already: a flagged spam wave must not
    # become a mail wave, to the moderators or to the InfoLine.
    assert smtp.received == []


async def test_invalid_commenter_address_still_forwards_without_reply_to(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await blog.comment(
        "Is it normal to feel this tired on dex?", author_email="not an address", status="pending"
    )
    await blog.flag(comment, "medical_question")

    assert await run_once(settings_for(smtp, blog.url, sqlite_state)) == 0

    [forward] = to(smtp.received, INFOLINE)
    assert "Reply-To" not in forward
    assert "did not leave a valid email address" in prose(parts(forward)[0])


async def test_without_infoline_address_nothing_is_forwarded_and_moderators_are_told(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await blog.comment("Should I go back on Revlimid?", status="approved")
    await blog.flag(comment, "medical_question")
    settings = settings_for(smtp, blog.url, sqlite_state, infoline_address="")

    assert await run_once(settings) == 0

    assert not to(smtp.received, INFOLINE)
    flagged = next(m for m in to(smtp.received, MODERATOR) if "flagged" in m["Subject"])
    assert "forwarding is not configured" in prose(parts(flagged)[0])
