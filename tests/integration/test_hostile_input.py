"""Whatever the public types into a comment, a poll survives it and every email is well-formed."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.demo.sink import SmtpSink
from notifier.mail.addresses import checked_addr_spec
from notifier.service import Service, run_once
from tests.fault_helpers import outbox_rows
from tests.helpers import INFOLINE, MODERATOR, Blog, settings_for
from tests.hostile_helpers import ENCODED_WORD_INJECTION, INJECTIONS, assert_well_formed

# --- hostile rows in a real store, through a real poll and a real SMTP server --------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Blog]:
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    yield blog
    await blog.aclose()


def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


async def test_text_that_is_not_utf8_in_the_store_is_read_with_replacement_characters(
    store: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    # SQLite keeps whatever bytes it is given; another program wrote these.
    with sqlite3.connect(_sqlite_path(store.url)) as raw:
        raw.execute(
            "INSERT INTO comments (post_id, author_name, author_email, body, status, created_at)"
            " VALUES (1, CAST(x'416e6eff' AS TEXT), 'ann@example.net',"
            " CAST(x'4d7920c328ff20646f63746f7220736169647300' AS TEXT), 'pending', ?)",
            (datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "),),
        )
    await store.comment("A normal comment after the broken one")

    assert await run_once(settings_for(smtp, store.url, sqlite_state)) == 0

    bodies = [str(r.message.get_body(("plain",)).get_content()) for r in smtp.received]
    assert len(bodies) == 2
    # Several connections: arrival order is not posting order.
    broken = next(b for b in bodies if "doctor said" in b)
    assert "My \ufffd(\ufffd doctor said" in broken
    assert "Ann\ufffd" in broken
    assert any("A normal comment after the broken one" in b for b in bodies)


async def test_huge_binary_right_to_left_and_injecting_comments_all_arrive_well_formed(
    store: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    huge = ("Is this dose safe? " * 20 + "\n") * 12_000 + "x" * 300_000  # about 4.8 MB
    cases = [
        (huge, "Tom", "tom@example.net"),
        ("NUL\x00 and controls \x01\x07\x1b[31m\x7f\x9b here\r\nand\rthere", "Nul\x00l", None),
        ("هل يمكنني تناول هذا الدواء؟ \u202eevil\u202c 🙂👩‍⚕️🧬", "سارة 🌸", "sara@example.net"),
        ("Hello", INJECTIONS[0], "not an address"),
        ("Hello", INJECTIONS[4], "ann@example.net\r\nBcc: victim@example.org"),
    ]
    for body, name, email in cases:
        comment = await store.comment(body, author_name=name, author_email=email)
        await store.flag(comment, "medical_question")

    assert await run_once(settings_for(smtp, store.url, sqlite_state)) == 0

    # Each comment: a new-comment and a flag email to the moderators, a forward to the InfoLine.
    assert len(smtp.received) == 3 * len(cases)
    reply_tos = []
    for received in smtp.received:
        [recipient] = received.rcpt_tos
        assert recipient in (MODERATOR, INFOLINE)
        message = assert_well_formed(received.data, recipient, reply_to=None, check_reply=False)
        assert len(received.data) < 1_000_000  # excerpts, not megabytes
        if recipient == INFOLINE:
            reply_tos.append(
                message["Reply-To"].addresses[0].addr_spec if message["Reply-To"] else None
            )
        else:
            assert message["Reply-To"] is None
    # Reply-To only where the commenter typed a real address; the forward goes anyway.
    expected = [checked_addr_spec(email) for _body, _name, email in cases]
    assert sorted(reply_tos, key=str) == sorted(expected, key=str)
    assert expected.count(None) == 3


async def test_a_notification_that_cannot_be_built_is_a_dead_letter_and_the_rest_flow_on(
    store: Blog, smtp: SmtpSink, sqlite_state: str, tmp_path: Path
) -> None:
    overrides = tmp_path / "templates"
    overrides.mkdir()
    # A site's own subject template with a bug that only some comments reach.
    (overrides / "new_comment.subject.j2").write_text(
        "{% if 'explode' in comment.body %}{{ comment.no_such_field }}{% endif %}New comment\n"
    )
    await store.comment("Before")
    await store.comment("This one makes the template explode")
    await store.comment("After")
    settings = settings_for(smtp, store.url, sqlite_state, templates_dir=str(overrides))

    assert await run_once(settings) == 1  # says that something could not be built

    rows = await outbox_rows(sqlite_state)
    assert [r.state for r in rows] == ["sent", "dead", "sent"]
    assert "no_such_field" in rows[1].last_error
    assert len(smtp.received) == 2


async def test_a_row_the_source_cannot_read_does_not_stop_delivery(
    store: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    settings = settings_for(smtp, store.url, sqlite_state)
    service = Service(settings)
    await service.open()
    try:
        await store.comment("Queued before the bad row")
        await service.poller.poll()
        with sqlite3.connect(_sqlite_path(store.url)) as raw:
            raw.execute(
                "INSERT INTO comments (post_id, author_name, body, status, created_at)"
                " VALUES (1, 'x', 'y', 'pending', 'not a date')"
            )
        report = await service.tick()
    finally:
        await service.close()
    assert report.problems  # said loudly, every poll, until someone fixes the row
    assert report.delivery is not None and report.delivery.sent == 1
    assert len(smtp.received) == 1


async def test_a_name_built_to_inject_through_encoded_words_is_sent_harmless(
    store: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await store.comment(
        "Is my dose of melphalan safe?",
        author_name=ENCODED_WORD_INJECTION,
        author_email="ann@example.net",
    )
    await store.flag(comment, "medical_question")
    await store.comment("The next comment flows on")

    await run_once(settings_for(smtp, store.url, sqlite_state))

    for received in smtp.received:
        [recipient] = received.rcpt_tos
        expected = "ann@example.net" if recipient == INFOLINE else None
        assert_well_formed(received.data, recipient, expected)
    assert any(
        "The next comment flows on" in r.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for r in smtp.received
    )
    assert [r for r in await outbox_rows(sqlite_state) if r.state == "dead"] == []
    [forward] = [r for r in smtp.received if r.rcpt_tos == [INFOLINE]]
    assert len(forward.message.get_all("Reply-To")) == 1
