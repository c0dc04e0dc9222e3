"""The security review's attacks, each through the real pipeline: a comment row in
a real store, the worker's once pass, a real SMTP server; assertions on what arrived."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import text

from notifier.db import create_engine
from notifier.demo.sink import SmtpSink
from notifier.service import Service, run_once
from tests.fault_helpers import outbox_rows
from tests.helpers import INFOLINE, MAIL_FROM, MODERATOR, Blog, parts, settings_for, to

QUESTION = "My mum's myeloma has relapsed. Should she ask about daratumumab before her next cycle?"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Blog]:
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    yield blog
    await blog.aclose()


def _reply_tos(message: EmailMessage) -> list[str]:
    headers = message.get_all("Reply-To") or []
    return [a.addr_spec for h in headers for a in h.addresses]


def _b64_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


# --- 1. an encoded word in the local part -----------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        _b64_word("victim@x.org>") + "@evil.example",
        _b64_word("a@x.org>, b@y.org, <c@z.org") + "@evil.example",
        "=?utf-8?q?victim=40x.org?=@evil.example",
    ],
)
async def test_an_encoded_word_in_the_local_part_never_becomes_a_reply_to(
    store: Blog, smtp: SmtpSink, sqlite_state: str, email: str
) -> None:
    comment = await store.comment(QUESTION, author_name="Ann", author_email=email)
    await store.flag(comment, "medical_question")

    assert await run_once(settings_for(smtp, store.url, sqlite_state)) == 0

    [forward] = to(smtp.received, INFOLINE)
    # The forward still goes (the question matters); it just has no Reply-To.
    assert _reply_tos(forward) == []
    for received in smtp.received:
        assert b"x.org" not in received.data.split(b"\r\n\r\n", 1)[0]


# --- 2. acknowledgements only for what a moderator approved ------------------------


async def test_only_an_approved_question_is_acknowledged(
    store: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    statuses = ["pending", "approved", "spam", "trash"]
    for status in statuses:
        comment = await store.comment(
            QUESTION, author_name="Ann", author_email=f"{status}@example.net", status=status
        )
        await store.flag(comment, "medical_question")
    for n in range(20):  # a flood of pending questions, each from another address
        await store.comment(QUESTION, author_email=f"victim{n}@example.net")

    assert await run_once(settings_for(smtp, store.url, sqlite_state, ack_commenter="true")) == 0

    acknowledged = [r.rcpt_tos[0] for r in smtp.received if r.rcpt_tos[0].endswith(".net")]
    assert acknowledged == ["approved@example.net"]


# --- 3. one mailbox, one acknowledgement a day; caps per domain and per hour --------


async def test_tags_dots_and_case_do_not_make_another_mailbox(
    store: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    spellings = [f"victim+{n}@x.org" for n in range(1, 30)] + [
        "Victim@X.org",
        "victim@x.org",
        "vic.tim@gmail.com",
        "V.I.C.T.I.M+blog@googlemail.com",
        "victim@gmail.com",
    ]
    for email in spellings:
        await store.comment(QUESTION, author_name="Vic", author_email=email, status="approved")
    settings = settings_for(smtp, store.url, sqlite_state, ack_commenter="true")

    assert await run_once(settings) == 0
    await store.comment(QUESTION, author_email="victim+again@x.org", status="approved")
    assert await run_once(settings) == 0

    acks = [r for r in smtp.received if r.rcpt_tos[0] not in (INFOLINE, MODERATOR)]
    domains = sorted(r.rcpt_tos[0].rpartition("@")[2].lower() for r in acks)
    assert domains == ["gmail.com", "x.org"]  # one per mailbox, whatever the spelling


async def test_a_replica_whose_clock_is_a_day_ahead_sends_no_second_acknowledgement(
    store: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    # "One a day" is the state store's day: a replica a day ahead must not think it is
    # tomorrow already and acknowledge the same mailbox again.
    settings = settings_for(smtp, store.url, sqlite_state, ack_commenter="true")
    await store.comment(QUESTION, author_email="reader@x.org", status="approved")
    assert await run_once(settings) == 0
    await store.comment(QUESTION + " Thanks.", author_email="reader@x.org", status="approved")
    ahead = Service(settings, clock=lambda: datetime.now(UTC) + timedelta(days=1))
    await ahead.open()
    try:
        await ahead.tick()
    finally:
        await ahead.close()
    assert await run_once(settings) == 0  # whatever the ahead replica queued goes now
    acks = [r for r in smtp.received if r.rcpt_tos[0] == "reader@x.org"]
    assert len(acks) == 1
    assert len(to(smtp.received, INFOLINE)) == 2  # both questions were still forwarded


async def test_caps_per_domain_and_per_hour_hold_acknowledgements_back_with_a_log_line(
    store: Blog, smtp: SmtpSink, sqlite_state: str, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(6):
        await store.comment(QUESTION, author_email=f"user{n}@a.example", status="approved")
    for n in range(3):
        await store.comment(QUESTION, author_email=f"user{n}@b.example", status="approved")
    settings = settings_for(
        smtp,
        store.url,
        sqlite_state,
        ack_commenter="true",
        ack_max_per_domain_per_hour="2",
        ack_max_per_hour="3",
    )

    with caplog.at_level(logging.INFO):
        assert await run_once(settings) == 0

    acks = [r.rcpt_tos[0] for r in smtp.received if r.rcpt_tos[0].endswith(".example")]
    assert sorted(a.rpartition("@")[2] for a in acks) == ["a.example", "a.example", "b.example"]
    capped = [r for r in caplog.records if getattr(r, "action", "") == "ack_capped"]
    assert capped and all("dropped" in r.getMessage() for r in capped)
    # Dropped, not delayed: nothing is left waiting.
    assert all(r.state == "sent" for r in await outbox_rows(sqlite_state))


# --- 4. no attacker text in the acknowledgement --------------------------------------


async def test_an_acknowledgement_carries_only_a_cleaned_first_name(
    store: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    spam = " Visit https://pills.evil.example now!" * 30_000  # about 1 MB
    post = await store.post("Buy pills at https://pills.evil.example", "https://blog.example.org/p")
    ann = await store.comment(
        QUESTION + spam,
        author_name="Ann" + spam,
        author_email="ann@example.net",
        status="approved",
        post_id=post,
    )
    bob = await store.comment(
        QUESTION,
        author_name="https://pills.evil.example",
        author_email="bob@example.net",
        status="approved",
    )
    for comment in (ann, bob):
        await store.flag(comment, "medical_question")

    assert await run_once(settings_for(smtp, store.url, sqlite_state, ack_commenter="true")) == 0

    [to_ann] = to(smtp.received, "ann@example.net")
    [to_bob] = to(smtp.received, "bob@example.net")
    for message, greeting in ((to_ann, "Hello Ann,"), (to_bob, "Hello there,")):
        text, _html = parts(message)
        assert greeting in text
        raw = message.as_bytes()
        assert len(raw) < 10_000
        assert b"pills" not in raw and b"evil" not in raw
        assert [a.display_name for a in message["To"].addresses] == [""]


# --- 6. our own addresses are never a Reply-To ---------------------------------------


@pytest.mark.parametrize(
    "email", [INFOLINE, INFOLINE.upper(), "infoline+loop@charity.example.org", MAIL_FROM, MODERATOR]
)
async def test_a_commenter_using_one_of_our_addresses_gets_no_reply_to_and_no_ack(
    store: Blog, smtp: SmtpSink, sqlite_state: str, email: str
) -> None:
    comment = await store.comment(QUESTION, author_email=email, status="approved")
    await store.flag(comment, "medical_question")

    assert await run_once(settings_for(smtp, store.url, sqlite_state, ack_commenter="true")) == 0

    [forward] = to(smtp.received, INFOLINE)
    assert _reply_tos(forward) == []
    assert {r.rcpt_tos[0] for r in smtp.received} <= {INFOLINE, MODERATOR}
    assert sum(r.rcpt_tos == [MODERATOR] for r in smtp.received) == 2  # comment, flag


# --- the InfoLine forward cap ----------------------------------------------------------


async def _an_hour_passes(state_url: str) -> None:
    """Due times are the state store's clock: move the waiting ones an hour nearer."""
    engine = create_engine(state_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE notifier_outbox SET next_attempt_at ="
                    " strftime('%Y-%m-%d %H:%M:%f000', next_attempt_at, '-1 hour')"
                    " WHERE state = 'pending'"
                )
            )
    finally:
        await engine.dispose()


async def test_forwards_over_the_hourly_cap_wait_in_order_and_moderators_get_one_notice(
    store: Blog, smtp: SmtpSink, sqlite_state: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(smtp, store.url, sqlite_state, infoline_max_per_hour="2")
    service = Service(settings)
    await service.open()
    try:
        for n in range(5):
            await store.comment(f"{QUESTION} ({n})")
        with caplog.at_level(logging.INFO):
            await service.tick()
        await store.comment(f"{QUESTION} (5)")
        await service.tick()  # the same capped hour: no second notice

        def forwarded() -> list[str]:
            return [
                str(parts(m)[0]).split("(")[-1].split(")")[0] for m in to(smtp.received, INFOLINE)
            ]

        # Oldest first, two an hour. Within an hour the two go out on separate connections
        # at once, so which of them the server sees first is not promised.
        assert sorted(forwarded()) == ["0", "1"]
        notices = [m for m in to(smtp.received, MODERATOR) if "are waiting" in m["Subject"]]
        assert len(notices) == 1
        assert any(getattr(r, "action", "") == "infoline_capped" for r in caplog.records)
        # Nothing was dropped: the rest go out in order, two an hour.
        await _an_hour_passes(sqlite_state)
        await service.tick()
        assert sorted(forwarded()[2:]) == ["2", "3"] and len(forwarded()) == 4
        await _an_hour_passes(sqlite_state)
        await service.tick()
        assert sorted(forwarded()[4:]) == ["4", "5"] and len(forwarded()) == 6
    finally:
        await service.close()
