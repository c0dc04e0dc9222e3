"""Hostile names and the checks a well-formed message must pass.

Shared by the unit and the integration tests of hostile input.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

INJECTIONS = [
    "Ann\r\nBcc: victim@example.org",
    "Ann\nCc: victim@example.org",
    "Ann\rTo: victim@example.org",
    "Ann\r\n\r\nFake body",
    'Ann" <evil@example.org>, "Bob',
    "=?utf-8?q?Ann=0D=0ABcc:_victim@example.org?=",
    "Ann\x00Bcc: victim@example.org",
    "Ann\u2028Bcc: victim@example.org",
    "Ann\x85Bcc: victim@example.org",
]


def assert_well_formed(
    data: bytes, recipient: str, reply_to: str | None, *, check_reply: bool = True
) -> EmailMessage:
    """The checks a mail server and a mail reader would make, and ours: one To, no Bcc."""
    assert data.endswith(b"\r\n")
    for line in data[:-2].split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line, "a line end that is not CRLF"
        assert len(line) <= 998, "a line longer than RFC 5322 allows"
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    # Names first: an injected header may not even parse.
    names = [name.lower() for name in message]
    assert names.count("to") == 1 and "cc" not in names and "bcc" not in names, names
    for single in ("from", "subject", "date", "message-id", "reply-to"):
        assert names.count(single) <= 1, names
    assert [d for d in message.defects] == []
    assert [a.addr_spec for a in message["To"].addresses] == [recipient]
    if not check_reply:
        pass
    elif reply_to is None:
        assert "reply-to" not in names
    else:
        assert [a.addr_spec for a in message["Reply-To"].addresses] == [reply_to]
    assert message.get_body(("plain",)) is not None
    return message


ENCODED_WORD_INJECTION = "=??Q?=0D=0AReply-To:_attacker@evil.example?="
