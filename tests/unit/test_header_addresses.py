"""The one rule for addresses we write into headers, and the re-parse after building.

Property tests over hostile addresses and display names: every message the
poller would enqueue names exactly its intended recipient, at most one Reply-To
which is the commenter's checked address, and no header we did not write.
"""

from __future__ import annotations

import email.policy
from datetime import UTC, datetime
from email.headerregistry import Address
from email.parser import BytesParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.errors import MessageBuildError
from notifier.mail.addresses import checked_addr_spec, mailbox
from notifier.mail.compose import compose
from notifier.mail.render import Rendered, Renderer
from notifier.models import Comment, Flag, Post
from notifier.poll.poller import Poller
from tests.helpers import INFOLINE, MAIL_FROM, MODERATOR, settings_for
from tests.hostile_helpers import INJECTIONS

_SETTINGS = settings_for(
    None, "sqlite:///unused.db", "sqlite:///unused-state.db", ack_commenter="true"
)
_POLLER = Poller(_SETTINGS, None, None, Renderer(None))  # type: ignore[arg-type]
_NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
_READER = BytesParser(policy=email.policy.default)
_OURS = {"from", "to", "reply-to", "subject", "date", "message-id", "mime-version"}
_OURS |= {"content-type", "auto-submitted"}
# Moderator mail only: its thread per post and the headers of machine mail.
_MODERATORS_ONLY = {"references", "in-reply-to", "list-id", "x-auto-response-suppress"}
_OURS |= _MODERATORS_ONLY

# Local parts built from everything RFC 5322 and RFC 2047 make interesting.
_TRICKY = st.text(
    alphabet=st.sampled_from(list("aZ09.!#$%&'*+/=?^_`{|}~-\"(),:;<>@[\\] \t=?é\u202e")),
    min_size=1,
    max_size=30,
)
_ENCODED = st.builds(
    lambda charset, enc, text: f"=?{charset}?{enc}?{text}?=",
    st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", ""]),
    st.sampled_from(["b", "q", "B", "Q"]),
    st.text(alphabet=st.sampled_from(list("dmljdGltQHgub3JnPg==_=40<>,@ ")), max_size=30),
)
addresses = st.one_of(
    st.emails(),
    st.builds(lambda local, domain: f"{local}@{domain}", _TRICKY | _ENCODED, st.emails()),
    st.builds(lambda a, b: f"{a}, {b}", st.emails(), st.emails()),
    st.builds(lambda a: f"Ann <{a}>", st.emails()),
    st.sampled_from(INJECTIONS),
    st.text(max_size=60),
)
display_names = st.one_of(st.text(max_size=100), st.sampled_from(INJECTIONS), _ENCODED)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,
)
@given(email=addresses, name=display_names)
def test_every_message_has_exactly_its_recipient_and_the_checked_reply_to(
    email: str, name: str
) -> None:
    comment = Comment(
        7,
        Post(1, "Dosing", "https://b.org/p"),
        None,
        name,
        email,
        "Is my dose of melphalan safe?",
        "approved",
        _NOW,
    )
    flag = Flag(9, comment, "medical_question", None, "a moderator", _NOW)
    entries = _POLLER._entries(flag, 3, _NOW)
    checked = checked_addr_spec(email)
    assert {e.recipient for e in entries} >= {MODERATOR, INFOLINE}
    for entry in entries:
        assert entry.message is not None, entry.error
        message = _READER.parsebytes(entry.message)
        assert {name.lower() for name in message} <= _OURS
        if entry.recipient == INFOLINE:
            assert not {name.lower() for name in message} & _MODERATORS_ONLY
        assert len(message.keys()) == len({name.lower() for name in message})
        assert [a.addr_spec for a in message["To"].addresses] == [entry.recipient]
        assert [a.addr_spec for a in message["From"].addresses] == [MAIL_FROM]
        reply_to = message["Reply-To"]
        if entry.recipient == INFOLINE and checked is not None:
            assert [a.addr_spec for a in reply_to.addresses] == [checked]
            assert not reply_to.defects
        else:
            assert reply_to is None
        if entry.template == "commenter_ack":
            assert checked is not None and mailbox(entry.recipient) == mailbox(checked)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Ann.Lee@Example.ORG", "Ann.Lee@example.org"),
        ("o'brien+blog@example.ie", "o'brien+blog@example.ie"),
        ("ann@bücher.example", "ann@xn--bcher-kva.example"),
        ("=?utf-8?b?dmljdGltQHgub3JnPg==?=@evil.example", None),
        ("who?@example.org", None),
        ("bang!path@example.org", None),
        ("user%relay@example.org", None),
        ('"quoted"@example.org', None),
        ("a(comment)@example.org", None),
        ("ann@[127.0.0.1]", None),
        ("a@b.org, c@d.org", None),
        ("josé@example.org", None),
        ("ann@example.org\r\nBcc: x@y.org", None),
    ],
)
def test_one_rule_decides_which_addresses_may_go_into_a_header(
    typed: str, expected: str | None
) -> None:
    assert checked_addr_spec(typed) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Victim+1@X.org", "victim@x.org"),
        ("v.i.c.t.i.m+z@googlemail.com", "victim@gmail.com"),
        ("Vic.Tim@GMAIL.com", "victim@gmail.com"),
    ],
)
def test_spellings_of_one_mailbox_are_one_mailbox(a: str, b: str) -> None:
    assert mailbox(a) == mailbox(b)


def test_dots_count_outside_gmail() -> None:
    assert mailbox("vic.tim@x.org") != mailbox("victim@x.org")


def test_a_reply_to_the_reader_would_see_differently_is_refused() -> None:
    """Defence in depth: even an Address built around the rule is caught after building."""
    hostile = Address(
        display_name="Ann", username="=?utf-8?b?dmljdGltQHgub3JnPg==?=", domain="evil.example"
    )
    with pytest.raises(MessageBuildError, match="Reply-To"):
        compose(
            Rendered("Hi", "text", "<p>html</p>"),
            sender=Address(addr_spec=MAIL_FROM),
            recipient=Address(addr_spec=INFOLINE),
            reply_to=hostile,
            now=_NOW,
            auto_submitted=False,
        )
