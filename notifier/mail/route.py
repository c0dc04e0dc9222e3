"""Routing: who must hear about a new comment or a new flag.  Pure: no I/O.

| event            | to                                   | template         |
|------------------|--------------------------------------|------------------|
| comment posted   | moderators (pending/approved only)   | new_comment      |
| comment flagged  | moderators                           | flagged_comment  |
| medical question | InfoLine, Reply-To the commenter     | infoline_forward |
| acknowledgement  | the commenter (opt-in)               | commenter_ack    |

A medical question is a moderator's ``medical_question`` flag (always
forwarded) or a comment the triage recognises (forwarded when
NOTIFIER_TRIAGE=forward).  A comment the source marks as spam or trash mails
nobody: not when it is posted, not when it is flagged.

Every notification has an event key; (event key, recipient) is unique in the
outbox, so routing the same row twice can never send twice.  The InfoLine key
is per *comment*, not per flag: two moderators flagging one question, or a flag
arriving after the triage forwarded it, still forward it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from typing import Literal

from notifier.mail.addresses import checked_addr_spec, display_address, mailbox, mailbox_token
from notifier.models import Comment, CommentStatus, Flag, FlagReason
from notifier.triage import TriageResult

BY_MODERATOR = "a moderator"
BY_TRIAGE = "notifier's automatic triage"

NEW_COMMENT = "new_comment"
FLAGGED_COMMENT = "flagged_comment"
INFOLINE_FORWARD = "infoline_forward"
COMMENTER_ACK = "commenter_ack"
# Built by notifier.flow from many notifications at once, not routed here.
DIGEST = "digest"
REMINDER = "reminder"
TEMPLATE_NAMES = (NEW_COMMENT, FLAGGED_COMMENT, INFOLINE_FORWARD, COMMENTER_ACK, DIGEST, REMINDER)


@dataclass(frozen=True, slots=True)
class Recipients:
    """The configured mailboxes and what may be sent to them."""

    moderators: tuple[Address, ...]
    infoline: Address | None = None
    triage: Literal["off", "flag", "forward"] = "forward"
    ack_commenter: bool = False
    # Our own sender address: like the InfoLine and the moderators, never a
    # commenter's Reply-To (the InfoLine would answer itself) nor acknowledged.
    sender: Address | None = None

    def is_ours(self, addr_spec: str) -> bool:
        """True if ``addr_spec`` is a mailbox of ours, however it is spelt."""
        ours = [*self.moderators, self.infoline, self.sender]
        return mailbox(addr_spec) in {mailbox(a.addr_spec) for a in ours if a is not None}


@dataclass(frozen=True, slots=True)
class Notification:
    """One email to one recipient about one event, before rendering."""

    event_key: str
    template: str
    recipient: Address
    comment: Comment
    flag: Flag | None = None
    reply_to: Address | None = None
    # For the InfoLine: who sent the question ("a moderator"); for moderators:
    # whether the comment went to the InfoLine, so nobody answers it twice.
    forwarded: bool = False
    forwarded_by: str | None = None
    # The triage's verdict, when it thinks this is a medical question.
    triage: TriageResult | None = None


def commenter_address(comment: Comment) -> Address | None:
    """The commenter as a Reply-To address, or None when what they typed is not an address.

    The address alone, with no display name: a name would put the commenter's own
    words where a mail client shows who a message is from ("InfoLine Team",
    look-alike letters, a bidi override).  The body shows the name, labelled as
    the name they gave.
    """
    addr = checked_addr_spec(comment.author_email)
    return display_address("", addr) if addr else None


def reply_address(comment: Comment, recipients: Recipients) -> Address | None:
    """The forward's Reply-To: the commenter's checked address, unless it is one of ours."""
    address = commenter_address(comment)
    if address is None or recipients.is_ours(address.addr_spec):
        return None
    return address


def infoline_key(comment: Comment) -> str:
    return f"infoline:{comment.id}"


def ack_key(address: str, today: date) -> str:
    """One acknowledgement per *mailbox* per day (``+tag`` and Gmail dots are one
    mailbox); a token, not the address, so keys in logs name nobody."""
    return f"ack:{mailbox_token(address)}:{today.isoformat()}"


def _acknowledgement(comment: Comment, recipients: Recipients, today: date) -> list[Notification]:
    """The opt-in acknowledgement: only for a comment a moderator approved (or the
    site published), never a pending, held, spam or trashed one, so a stranger
    cannot make us mail whatever address they type before anyone has looked."""
    if not recipients.ack_commenter or comment.status != CommentStatus.APPROVED:
        return []
    address = reply_address(comment, recipients)
    if address is None:
        return []
    # No display name: the name is the commenter's free text.  The per-mailbox and
    # hourly caps are applied where the batch is enqueued (state.caps).
    local, _, domain = address.addr_spec.rpartition("@")
    recipient = Address(username=local, domain=domain.lower())
    return [Notification(ack_key(recipient.addr_spec, today), COMMENTER_ACK, recipient, comment)]


def _forward(
    comment: Comment,
    recipients: Recipients,
    today: date,
    *,
    by: str,
    flag: Flag | None = None,
    triage: TriageResult | None = None,
) -> list[Notification]:
    """The question to the InfoLine (Reply-To the commenter), and the opt-in acknowledgement."""
    if recipients.infoline is None:
        return []
    forward = Notification(
        infoline_key(comment),
        INFOLINE_FORWARD,
        recipients.infoline,
        comment,
        flag=flag,
        reply_to=reply_address(comment, recipients),
        forwarded=True,
        forwarded_by=by,
        triage=triage,
    )
    return [forward, *_acknowledgement(comment, recipients, today)]


def route_comment(
    comment: Comment,
    recipients: Recipients,
    *,
    triage: TriageResult | None = None,
    today: date,
) -> list[Notification]:
    """Notifications for a newly seen comment, given the triage's verdict on it."""
    if comment.status not in (CommentStatus.PENDING, CommentStatus.APPROVED):
        return []
    medical = triage if triage is not None and triage.medical_question else None
    forward = (
        medical is not None and recipients.triage == "forward" and recipients.infoline is not None
    )
    notes = [
        Notification(
            f"comment:{comment.id}",
            NEW_COMMENT,
            moderator,
            comment,
            forwarded=forward,
            forwarded_by=BY_TRIAGE if forward else None,
            triage=medical,
        )
        for moderator in recipients.moderators
    ]
    if forward:
        notes.extend(_forward(comment, recipients, today, by=BY_TRIAGE, triage=medical))
    return notes


def route_flag(flag: Flag, recipients: Recipients, *, today: date) -> list[Notification]:
    """Notifications for a newly seen flag: the moderators, and the InfoLine for a question."""
    comment = flag.comment
    if comment.is_junk:
        # Already dealt with (a spam wave flagged by readers must not mail anyone).
        return []
    forward = flag.reason == FlagReason.MEDICAL_QUESTION and recipients.infoline is not None
    notes = [
        Notification(
            f"flag:{flag.id}",
            FLAGGED_COMMENT,
            moderator,
            comment,
            flag=flag,
            forwarded=forward,
            forwarded_by=BY_MODERATOR if forward else None,
        )
        for moderator in recipients.moderators
    ]
    if forward:
        notes.extend(_forward(comment, recipients, today, by=BY_MODERATOR, flag=flag))
    return notes


HELD_NOTE = "This comment was approved and has been moved back to pending."


def route_hold(
    comment: Comment, occurrence: int, recipients: Recipients, *, now: datetime
) -> list[Notification]:
    """A comment put back on hold reaches the moderators as a flag would."""
    flag = Flag(
        id=occurrence,
        comment=comment,
        reason="held",
        note=HELD_NOTE,
        flagged_by=None,
        created_at=now,
    )
    return [
        Notification(
            f"held:{comment.id}:{occurrence}", FLAGGED_COMMENT, moderator, comment, flag=flag
        )
        for moderator in recipients.moderators
    ]
