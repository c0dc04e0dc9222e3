"""Compose: rendered parts and addresses become the exact bytes we will send.

Headers are built only with ``email.message.EmailMessage`` and
``email.headerregistry.Address`` from cleaned text, so nothing a commenter
typed can add a header or a recipient.  The built bytes are then parsed again,
as a mail reader would, and compared with what we meant to send (``_verify``):
a mismatch is a MessageBuildError, so that notification becomes a dead letter
and the others flow on.  The result is fixed at enqueue: a retry sends the same
bytes with the same ``Message-ID``.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from typing import Any

from notifier.errors import MessageBuildError
from notifier.mail.addresses import clean_header_text
from notifier.mail.folding import SMTP_7BIT
from notifier.mail.render import Rendered
from notifier.mail.threads import ModeratorHeaders, verify_thread

# Lines are folded at 78 and end in CRLF, as SMTP wants them; no raw 8-bit
# (policy.SMTP alone would send short non-ASCII bodies as 8bit).
_POLICY: email.policy.EmailPolicy = SMTP_7BIT
# The headers we write, each exactly once; anything else means an injection.
_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
# Parses as a mail reader does: encoded words decoded, addresses as it sees them.
_READER = BytesParser(policy=email.policy.default)


@dataclass(frozen=True, slots=True)
class Composed:
    message_id: str
    data: bytes


def compose(
    rendered: Rendered,
    *,
    sender: Address,
    recipient: Address,
    reply_to: Address | None,
    now: datetime,
    auto_submitted: bool,
    moderator: ModeratorHeaders | None = None,
) -> Composed:
    """Build the message, or raise MessageBuildError saying why it cannot be built.

    ``moderator``: the thread and list headers of moderator mail (never given for
    the InfoLine, whose help desk would suspend or merge such mail).
    """
    try:
        msg = EmailMessage(policy=_POLICY)
        msg["From"] = sender
        msg["To"] = recipient
        if reply_to is not None:
            msg["Reply-To"] = reply_to
        msg["Subject"] = clean_header_text(rendered.subject, limit=200) or "(no subject)"
        msg["Date"] = format_datetime(now)
        message_id = make_msgid(domain=sender.domain or "notifier.invalid")
        msg["Message-ID"] = message_id
        if auto_submitted:
            # RFC 3834: stops vacation auto-replies to the service's own mail.  Not set
            # on InfoLine forwards, which helpdesk systems might then drop.
            msg["Auto-Submitted"] = "auto-generated"
        if moderator is not None:
            # Exchange's own way of saying "no out-of-office replies to this".
            msg["X-Auto-Response-Suppress"] = "All"
            msg["List-Id"] = moderator.list_id
            if moderator.references:
                msg["In-Reply-To"] = moderator.in_reply_to
                msg["References"] = " ".join(moderator.references)
        msg.set_content(rendered.text)
        # base64: the styled HTML has long lines, and quoted-printable encoding it in
        # Python costs more than rendering it (a poll renders hundreds at once).
        msg.add_alternative(rendered.html, subtype="html", cte="base64")
        data = msg.as_bytes(policy=_POLICY)
    except (ValueError, TypeError, UnicodeError, IndexError) as exc:
        raise MessageBuildError(f"cannot build the email: {type(exc).__name__}: {exc}") from exc
    if moderator is not None:
        verify_thread(data, moderator)
    expected = set(_HEADERS) | (moderator.header_names if moderator is not None else set())
    if reply_to is not None:
        expected.add("reply-to")
    if auto_submitted:
        expected.add("auto-submitted")
    _verify(data, expected, sender=sender, recipient=recipient, reply_to=reply_to)
    return Composed(message_id=message_id, data=data)


def _addresses(message: Any, name: str) -> list[str] | None:
    """The addr-specs a reader finds in header ``name``; None if it is absent or defective."""
    header = message[name]
    if header is None:
        return None
    if header.defects or any(group.display_name is not None for group in header.groups):
        raise MessageBuildError(f"the built email's {name} does not parse cleanly: not sent")
    return [address.addr_spec for address in header.addresses]


def _verify(
    data: bytes,
    expected: set[str],
    *,
    sender: Address,
    recipient: Address,
    reply_to: Address | None,
) -> None:
    """Check the bytes say what we meant, as a mail reader will read them.

    Exactly the header names we wrote, each once; To is exactly the one
    recipient, From is us, Reply-To is exactly the one address we chose (or
    absent).  A defence in depth against injection through the email library
    itself, which has had such bugs (CVE-2024-6923, encoded words in addr-specs).
    """
    head, separator, _ = data.partition(b"\r\n\r\n")
    if not separator:
        raise MessageBuildError("the built email has no header/body boundary")
    if b"\r" in head.replace(b"\r\n", b"") or b"\n" in head.replace(b"\r\n", b""):
        raise MessageBuildError("a bare CR or LF in the built headers: not sent")
    # Headers only: the body is ours, and parsing it would double the cost.
    message = _READER.parsebytes(data, headersonly=True)
    names = sorted(name.lower() for name in message)
    if names != sorted(expected):
        raise MessageBuildError(f"unexpected headers in the built email: {names}")
    if _addresses(message, "To") != [recipient.addr_spec]:
        raise MessageBuildError("the built email's To is not its one recipient")
    if _addresses(message, "From") != [sender.addr_spec]:
        raise MessageBuildError("the built email's From is not our sender")
    wanted = None if reply_to is None else [reply_to.addr_spec]
    if _addresses(message, "Reply-To") != wanted:
        raise MessageBuildError(
            "the built email's Reply-To is not the commenter's one checked address: not sent"
        )
