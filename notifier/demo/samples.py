"""The sample data shipped with notifier: the demo's store, previews and template checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from functools import cache
from importlib.resources import files
from typing import Any

from notifier.flow.digest import digest_context
from notifier.flow.items import flow_item
from notifier.flow.remind import reminder_context
from notifier.mail.render import build_context
from notifier.mail.route import (
    BY_MODERATOR,
    BY_TRIAGE,
    COMMENTER_ACK,
    DIGEST,
    FLAGGED_COMMENT,
    INFOLINE_FORWARD,
    NEW_COMMENT,
    REMINDER,
    Notification,
    commenter_address,
)
from notifier.models import Comment, Flag, Post
from notifier.sources.wordpress_mapping import moderation_links
from notifier.state.flow import QueuedItem
from notifier.triage import triage

SAMPLE_TIME = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
# The sample posts' site: previews show the links a WordPress site would get.
SAMPLE_SITE_URL = "https://blog.example.org"


@cache
def demo_data() -> dict[str, Any]:
    """The shipped sample posts, comments and flags."""
    data: dict[str, Any] = json.loads(
        files("notifier.demo").joinpath("demo_data.json").read_text(encoding="utf-8")
    )
    return data


def sample_comment(index: int = 0) -> Comment:
    data = demo_data()
    raw = data["comments"][index]
    post = next(p for p in data["posts"] if p["id"] == raw["post"])
    return Comment(
        id=index + 1,
        post=Post(id=post["id"], title=post["title"], url=post["url"]),
        parent_id=None,
        author_name=raw["author_name"],
        author_email=raw["author_email"],
        body=raw["body"],
        status=raw["status"],
        created_at=SAMPLE_TIME + timedelta(minutes=index),
        moderation_links=moderation_links(SAMPLE_SITE_URL, index + 1),
    )


def sample_notification(template: str) -> Notification:
    """A realistic notification for ``template``, for previews and checks."""
    comment = sample_comment(0)
    flag_data = demo_data()["flags"][0]
    flag = Flag(
        id=1,
        comment=comment,
        reason=flag_data["reason"],
        note=flag_data["note"],
        flagged_by=flag_data["flagged_by"],
        created_at=SAMPLE_TIME + timedelta(hours=1),
    )
    moderator = Address(addr_spec="moderators@example.org")
    verdict = triage(comment.body, comment.author_name)
    if template == NEW_COMMENT:
        return Notification(
            "comment:1",
            NEW_COMMENT,
            moderator,
            comment,
            forwarded=True,
            forwarded_by=BY_TRIAGE,
            triage=verdict,
        )
    if template == FLAGGED_COMMENT:
        return Notification(
            "flag:1",
            FLAGGED_COMMENT,
            moderator,
            comment,
            flag=flag,
            forwarded=True,
            forwarded_by=BY_MODERATOR,
        )
    recipient = commenter_address(comment) or moderator
    if template == INFOLINE_FORWARD:
        return Notification(
            "infoline:1",
            INFOLINE_FORWARD,
            Address(addr_spec="infoline@example.org"),
            comment,
            reply_to=recipient,
            forwarded=True,
            forwarded_by=BY_TRIAGE,
            triage=verdict,
        )
    return Notification("ack:1", COMMENTER_ACK, recipient, comment)


def sample_items(site_name: str) -> list[QueuedItem]:
    """A new comment and a flag, as a digest or a reminder lists them."""
    items = []
    for number, template in enumerate((NEW_COMMENT, FLAGGED_COMMENT), start=1):
        note = sample_notification(template)
        flow = flow_item(note, site_name=site_name, site_url=SAMPLE_SITE_URL)
        assert flow is not None
        at = SAMPLE_TIME + timedelta(minutes=number)
        items.append(
            QueuedItem(number, note.event_key, flow.comment_id, flow.status, flow.item, at)
        )
    return items


def sample_contexts(site_name: str) -> dict[str, dict[str, Any]]:
    """Template contexts for every shipped template name."""
    contexts = {
        name: build_context(
            sample_notification(name),
            site_name=site_name,
            pending_count=3,
            site_url=SAMPLE_SITE_URL,
        )
        for name in (NEW_COMMENT, FLAGGED_COMMENT, INFOLINE_FORWARD, COMMENTER_ACK)
    }
    items = sample_items(site_name)
    contexts[DIGEST] = digest_context(
        site_name,
        items,
        left_out=1,
        checked=True,
        part=1,
        parts=1,
        daily=None,
        pending_count=3,
        now=SAMPLE_TIME + timedelta(minutes=10),
    )
    contexts[REMINDER] = reminder_context(site_name, items, remind_after=86400, pending_count=3)
    return contexts
