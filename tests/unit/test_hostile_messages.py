"""Whatever the public types into a comment, every email built from it is well-formed.

No server: the poller builds the messages it would enqueue.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.mail.addresses import checked_addr_spec
from notifier.mail.render import Renderer
from notifier.models import Comment, Flag, Post
from notifier.poll.poller import Poller
from tests.helpers import INFOLINE, settings_for
from tests.hostile_helpers import ENCODED_WORD_INJECTION, INJECTIONS, assert_well_formed

# --- the property: anything in, a good message or a dead letter out ----------------

_SETTINGS = settings_for(None, "sqlite:///unused.db", "sqlite:///unused-state.db")
_POLLER = Poller(_SETTINGS, None, None, Renderer(None))  # type: ignore[arg-type]
_NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

hostile_text = st.text()  # every code point but surrogates, controls and NUL included
names = st.one_of(hostile_text, st.sampled_from(INJECTIONS))
emails = st.one_of(st.none(), st.emails(), hostile_text, st.sampled_from(INJECTIONS))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,
)
@given(
    name=names,
    email=emails,
    body=hostile_text,
    title=hostile_text,
    note=st.one_of(st.none(), hostile_text),
    status=st.sampled_from(["pending", "approved"]),
)
def test_any_comment_becomes_well_formed_messages_or_dead_letters(
    name: str, email: str | None, body: str, title: str, note: str | None, status: str
) -> None:
    post = Post(id=1, title=title, url="https://blog.example.org/p/1")
    comment = Comment(
        id=7,
        post=post,
        parent_id=None,
        author_name=name,
        author_email=email,
        body=body,
        status=status,
        created_at=_NOW,
    )
    flag = Flag(9, comment, "medical_question", note, "a moderator", _NOW)
    entries = _POLLER._entries(comment, 3, _NOW) + _POLLER._entries(flag, 3, _NOW)
    assert entries
    commenter = checked_addr_spec(email)
    for entry in entries:
        if entry.message is None:
            # Only a MessageBuildError may stop a message (templates are fine here).
            assert entry.error is not None and entry.error.startswith("cannot build the email")
            continue
        expected_reply = commenter if entry.recipient == INFOLINE else None
        message = assert_well_formed(entry.message, entry.recipient, expected_reply)
        assert message["Message-ID"] == entry.message_id


def test_a_message_with_non_ascii_text_is_seven_bit() -> None:
    comment = Comment(
        7, Post(1, "¡Hola!", "https://b.org/p"), None, "José", None, "ça va", "pending", _NOW
    )
    [entry, *_] = _POLLER._entries(comment, 3, _NOW)
    assert entry.message is not None
    entry.message.decode("ascii")


def test_an_encoded_word_in_a_name_cannot_inject_a_header() -> None:
    """CPython < 3.11.10 decodes RFC 2047 words in header values it is given and
    writes a decoded CR LF out raw (CVE-2024-6923).  Composing must not rely on it."""
    comment = Comment(
        7,
        Post(1, "Dosing", "https://blog.example.org/p/1"),
        None,
        ENCODED_WORD_INJECTION,
        "ann@example.net",
        "Is my dose of melphalan safe?",
        "pending",
        _NOW,
    )
    flag = Flag(9, comment, "medical_question", None, "a moderator", _NOW)
    for entry in _POLLER._entries(flag, 3, _NOW):
        if entry.message is not None:
            expected = "ann@example.net" if entry.recipient == INFOLINE else None
            assert_well_formed(entry.message, entry.recipient, expected)
