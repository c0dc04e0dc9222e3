"""The triage inside the worker: unflagged questions reach the InfoLine, with reasons."""

from __future__ import annotations

import re

from notifier.demo.sink import SmtpSink
from notifier.service import run_once
from tests.helpers import INFOLINE, MODERATOR, Blog, parts, prose, quoted, settings_for, to

QUESTION = (
    "got my news of relapse today after 3 years on revlemid maintenance. "
    "just wanted to know if the new drugs would get me back to remission"
)
THANKS = "Thank you so much for this post, it gives us all hope. Keep up the good work!"


async def test_an_unflagged_medical_question_reaches_the_infoline_with_its_reasons(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await blog.comment(QUESTION, author_name="Linda", author_email="linda@example.com")
    await blog.comment(THANKS, author_name="Tom")

    assert await run_once(settings_for(smtp, blog.url, sqlite_state)) == 0

    [forward] = to(smtp.received, INFOLINE)
    text, html = parts(forward)
    assert "remission" in text
    assert "automatic triage" in prose(text) and "No moderator has read it yet" in prose(text)
    assert 'Revlimid ("revlemid")' in prose(text) and "relapse" in text
    assert "Revlimid (&#34;revlemid&#34;)" in html or "Revlimid (&quot;revlemid&quot;)" in html
    assert forward["Reply-To"].addresses[0].addr_spec == "linda@example.com"
    # The InfoLine gets what it needs to answer, not moderation data.
    assert "Status" not in text and "pending" not in text

    moderator_mail = to(smtp.received, MODERATOR)
    assert len(moderator_mail) == 2
    about_question = next(m for m in moderator_mail if "remission" in quoted(parts(m)[0]))
    assert "FORWARDED TO THE INFOLINE" in parts(about_question)[0]
    about_thanks = next(m for m in moderator_mail if "Keep up the good work" in quoted(parts(m)[0]))
    assert "INFOLINE" not in parts(about_thanks)[0]


async def test_triage_flag_mode_marks_the_moderators_mail_and_forwards_nothing(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await blog.comment(QUESTION)
    assert await run_once(settings_for(smtp, blog.url, sqlite_state, triage="flag")) == 0

    assert not to(smtp.received, INFOLINE)
    [message] = to(smtp.received, MODERATOR)
    text, html = parts(message)
    assert "LOOKS LIKE A MEDICAL QUESTION - NOT FORWARDED" in text
    assert "not forwarded" in html


async def test_triage_off_leaves_forwarding_to_moderators(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await blog.comment(QUESTION)
    settings = settings_for(smtp, blog.url, sqlite_state, triage="off")
    assert await run_once(settings) == 0
    assert not to(smtp.received, INFOLINE)
    assert "MEDICAL" not in parts(to(smtp.received, MODERATOR)[0])[0]

    await blog.flag(comment, "medical_question")
    assert await run_once(settings) == 0
    assert len(to(smtp.received, INFOLINE)) == 1


async def test_a_threshold_above_every_score_forwards_nothing(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await blog.comment(QUESTION)
    settings = settings_for(smtp, blog.url, sqlite_state, triage_threshold="1.0")
    assert await run_once(settings) == 0
    assert not to(smtp.received, INFOLINE)


async def test_the_commenter_is_acknowledged_once_a_day_when_asked_for(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    # Published comments: a pending one is never acknowledged (test_abuse).
    await blog.comment(
        QUESTION, author_name="Linda", author_email="Linda@Example.com", status="approved"
    )
    await blog.comment(
        "Should I ask my oncologist about daratumumab for my father?",
        author_name="Linda",
        author_email="linda@example.com",
        status="approved",
    )
    await blog.comment(
        QUESTION, author_name="No address", author_email="linda at home", status="approved"
    )
    spam = await blog.comment(QUESTION, author_email="spam@example.com", status="spam")
    await blog.flag(spam, "medical_question")
    settings = settings_for(smtp, blog.url, sqlite_state, ack_commenter="true")

    assert await run_once(settings) == 0

    assert len(to(smtp.received, INFOLINE)) == 3
    acks = [r for r in smtp.received if any("linda" in t.lower() for t in r.rcpt_tos)]
    assert len(acks) == 1
    text, _ = parts(acks[0].message)
    assert "InfoLine" in text and "answer you by email" in text
    assert "not posted on the blog" in text
    assert not [r for r in smtp.received if "spam@example.com" in r.rcpt_tos]


async def test_no_acknowledgement_unless_asked_for(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await blog.comment(QUESTION, author_email="linda@example.com")
    assert await run_once(settings_for(smtp, blog.url, sqlite_state)) == 0
    assert not [r for r in smtp.received if "linda@example.com" in r.rcpt_tos]


async def test_the_forward_says_the_language_even_when_a_moderator_flagged_it(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await blog.comment(
        "¿Puedo tomar ibuprofeno con la lenalidomida? Mi médico no contesta.",
        author_name="Lucía",
        author_email="lucia@example.org",
        status="approved",
    )
    await blog.flag(comment, "medical_question")
    assert await run_once(settings_for(smtp, blog.url, sqlite_state, triage="off")) == 0

    [forward] = to(smtp.received, INFOLINE)
    text, html = parts(forward)
    assert re.search(r"^Language: +Spanish\r?$", text, re.M)
    assert re.search(r">Language</td><td[^>]*>Spanish</td>", html)


async def test_an_unflagged_portuguese_question_is_forwarded_with_its_language(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await blog.comment(
        "minha mãe está com muita sede e confusa, o cálcio deu 12. podemos esperar o médico?",
        author_name="Ana",
        author_email="ana@example.org",
    )
    assert await run_once(settings_for(smtp, blog.url, sqlite_state)) == 0

    [forward] = to(smtp.received, INFOLINE)
    text = parts(forward)[0]
    assert re.search(r"^Language: +Portuguese\r?$", text, re.M)
    assert "written in Portuguese" in text
