"""Routing: who must hear about a new comment or a new flag.  Pure: no I/O.

| event            | to                                   | template         |
|------------------|--------------------------------------|------------------|
| comment posted   | moderators (pending/approved only)   | new_comment      |
| comment flagged  | moderators                           | flagged_comment  |
| medical question | InfoLine, Reply-To the commenter     | infoline_forward |

Every notification has an event key; (event key, recipient) is unique in the
outbox, so routing the same row twice can never send twice.  The InfoLine key
is per *comment*, not per flag: two moderators flagging one question, or a flag
arriving after the triage forwarded it, still forward it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address

from notifier.addresses import checked_addr_spec, display_address
from notifier.models import Comment, CommentStatus, Flag, FlagReason

NEW_COMMENT = "new_comment"
FLAGGED_COMMENT = "flagged_comment"
INFOLINE_FORWARD = "infoline_forward"
COMMENTER_ACK = "commenter_ack"
TEMPLATE_NAMES = (NEW_COMMENT, FLAGGED_COMMENT, INFOLINE_FORWARD, COMMENTER_ACK)


@dataclass(frozen=True, slots=True)
class Recipients:
    """The configured mailboxes."""

    moderators: tuple[Address, ...]
    infoline: Address | None = None


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


def commenter_address(comment: Comment) -> Address | None:
    """The commenter as a Reply-To address, or None when what they typed is not an address."""
    addr = checked_addr_spec(comment.author_email)
    return display_address(comment.author_name, addr) if addr else None


def infoline_key(comment: Comment) -> str:
    return f"infoline:{comment.id}"


def route_comment(comment: Comment, recipients: Recipients) -> list[Notification]:
    """Notifications for a newly seen comment."""
    if comment.status not in (CommentStatus.PENDING, CommentStatus.APPROVED):
        return []
    return [
        Notification(f"comment:{comment.id}", NEW_COMMENT, moderator, comment)
        for moderator in recipients.moderators
    ]


def route_flag(flag: Flag, recipients: Recipients) -> list[Notification]:
    """Notifications for a newly seen flag: the moderators, and the InfoLine for a question."""
    comment = flag.comment
    forward = (
        flag.reason == FlagReason.MEDICAL_QUESTION
        and recipients.infoline is not None
        and not comment.is_junk
    )
    notes = [
        Notification(
            f"flag:{flag.id}",
            FLAGGED_COMMENT,
            moderator,
            comment,
            flag=flag,
            forwarded=forward,
            forwarded_by="a moderator" if forward else None,
        )
        for moderator in recipients.moderators
    ]
    if forward and recipients.infoline is not None:
        notes.append(
            Notification(
                infoline_key(comment),
                INFOLINE_FORWARD,
                recipients.infoline,
                comment,
                flag=flag,
                reply_to=commenter_address(comment),
                forwarded=True,
                forwarded_by="a moderator",
            )
        )
    return notes
