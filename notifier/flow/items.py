"""Items: a moderator notification as a digest or a reminder lists it.

A snapshot is taken when the notification is made (JSON in the state store),
from the same cleaned context the single emails use: a digest can be built
without the comment store, which is asked only whether each item is still
pending.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from notifier.mail.render import ModeratorMail, build_context
from notifier.mail.route import FLAGGED_COMMENT, NEW_COMMENT, Notification
from notifier.models import CommentStatus, FlagReason
from notifier.state.flow import FlowItem

# A digest lists many comments: the beginning of each is enough to decide.
ITEM_EXCERPT = 300
DIGESTIBLE = (NEW_COMMENT, FLAGGED_COMMENT)


def kind_of(event_key: str) -> str:
    """``comment``, ``flag`` or ``held``: the event key's prefix."""
    return event_key.split(":", 1)[0]


def flow_item(
    note: Notification,
    *,
    site_name: str,
    site_url: str | None = None,
    moderator_mail: ModeratorMail = "full",
) -> FlowItem | None:
    """The digest/reminder view of ``note``, or None if it is never digested (InfoLine...).

    The same context as the single email's: links only to the site, and only what
    NOTIFIER_MODERATOR_MAIL lets moderators' mail carry.
    """
    if note.template not in DIGESTIBLE:
        return None
    context = build_context(
        note,
        site_name=site_name,
        pending_count=None,
        site_url=site_url,
        moderator_mail=moderator_mail,
    )
    comment = context["comment"]
    body = comment["body"]
    cut = None if body is None else body[:ITEM_EXCERPT].rstrip()
    item = {
        "kind": kind_of(note.event_key),
        "comment": {
            "id": comment["id"],
            "author_name": comment["author_name"],
            "author_email": comment["author_email"],
            "status": comment["status"],
            "created_at": note.comment.created_at.isoformat(),
            "excerpt": cut,
            "excerpt_truncated": cut is not None and len(cut) < comment["body_length"],
        },
        "post": context["post"],
        "links": context["links"],
        "flag": (
            {
                "reason": context["flag"]["reason"],
                "reason_label": context["flag"]["reason_label"],
                "note": context["flag"]["note"],
                "flagged_by": context["flag"]["flagged_by"],
            }
            if context["flag"]
            else None
        ),
        "forwarded": note.forwarded,
        "triage": bool(context["triage"]),
    }
    # Pending comments wait for a moderator; a flag waits for one unless it
    # is a medical question, which the InfoLine answers.
    watch = note.comment.status == CommentStatus.PENDING or (
        note.flag is not None and note.flag.reason != FlagReason.MEDICAL_QUESTION
    )
    return FlowItem(note.comment.id, note.comment.status, json.dumps(item), watch)


def item_context(text: str, *, at: datetime) -> dict[str, Any]:
    """A stored item for a template: its times as datetimes again."""
    item: dict[str, Any] = json.loads(text)
    item["comment"]["created_at"] = datetime.fromisoformat(item["comment"]["created_at"])
    item["at"] = at
    return item


def still_open(status_then: str, status_now: str | None) -> bool:
    """An item still needs a moderator if its comment is where it was.

    A pending comment approved, spammed, trashed or deleted since is done; so is
    a flag whose comment was moved anywhere (kept as it is: one reminder only).
    """
    if status_now is None or status_now in (CommentStatus.SPAM, CommentStatus.TRASH):
        return False
    return status_now == status_then


def counts(items: list[dict[str, Any]]) -> dict[str, int]:
    """How many comments, flags and holds a list holds."""
    result = {"comment": 0, "flag": 0, "held": 0}
    for item in items:
        result[item["kind"]] = result.get(item["kind"], 0) + 1
    result["total"] = len(items)
    return result
