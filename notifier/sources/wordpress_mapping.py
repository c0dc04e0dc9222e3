"""The WordPress mapping rules, shared by the database and the REST sources so
both say the same about the same comment: statuses, links, dates, text, flags.

Flags are comment meta rows, read by increasing ``meta_id`` (the flag id):

* a row of a key in ``wp_flag_meta_keys`` is a flag; a numeric value counts
  readers' reports, and only the row whose value first reaches
  ``wp_flag_threshold`` (for that comment and key) is the flag event;
* a truthy row of ``wp_medical_meta_key`` is a ``medical_question`` flag.

Limitations, because WordPress keeps no history of meta:

* a meta row updated in place keeps its ``meta_id``.  A counter that reaches the
  threshold after the worker's cursor has passed its row (because a later flag
  was read) is never seen; nor is a value changed after it was read;
* meta rows carry no time, so a flag's ``created_at`` is when it was read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from notifier.models import Comment, CommentStatus, FlagReason, Post

# comment_approved in the database, and the names the REST API gives the same states.
_STATUSES = {
    "0": CommentStatus.PENDING,
    "hold": CommentStatus.PENDING,
    "1": CommentStatus.APPROVED,
    "approved": CommentStatus.APPROVED,
    "approve": CommentStatus.APPROVED,
    "spam": CommentStatus.SPAM,
    "trash": CommentStatus.TRASH,
    # A comment whose post went to the trash: hidden with it.
    "post-trashed": CommentStatus.TRASH,
}
FALSY = frozenset({"", "0", "false", "no", "off"})
_REASON_WORDS = frozenset(
    {FlagReason.ABUSE, FlagReason.SPAM, FlagReason.OFF_TOPIC, FlagReason.MEDICAL_QUESTION}
)
NUMERIC_SQL = r"^-?[0-9]+(\.[0-9]+)?$"
_NUMERIC = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_NOTE_MAX = 200


def map_status(value: str) -> str:
    """The model status of a WordPress comment status.

    An unknown (plugin-defined) status maps to pending: a moderator would rather
    hear about a comment in an odd state than have it pass unseen.
    """
    return _STATUSES.get(value.strip().lower(), CommentStatus.PENDING)


def type_filter_values(types: Iterable[str]) -> list[str]:
    """comment_type values to match: WordPress before 5.5 stored plain comments as ''."""
    values = list(dict.fromkeys(types))
    if "comment" in values:
        values.append("")
    return values


def post_link(site_url: str, post_id: int) -> str:
    """A link that works whatever the permalink structure."""
    return f"{site_url.rstrip('/')}/?p={post_id}"


def moderation_links(site_url: str, comment_id: int) -> dict[str, str]:
    """The wp-admin screens a moderator uses; WordPress asks them to confirm each action."""
    admin = f"{site_url.rstrip('/')}/wp-admin"
    links = {
        action: f"{admin}/comment.php?action={action}&c={comment_id}"
        for action in ("approve", "spam", "trash")
    }
    links["moderate"] = f"{admin}/edit-comments.php?comment_status=moderated"
    return links


def as_number(value: str | None) -> Decimal | None:
    """The value as a number if the SQL's REGEXP would call it one, else None."""
    # SQL TRIM() strips spaces only, so strip(" ") rather than strip().
    stripped = (value or "").strip(" ")
    return Decimal(stripped) if _NUMERIC.fullmatch(stripped) else None


def is_truthy(value: str | None) -> bool:
    return value is not None and value.strip(" ").lower() not in FALSY


def flag_reason(
    key: str,
    value: str | None,
    *,
    flag_keys: Sequence[str],
    medical_key: str,
    threshold: int,
    prior_max: Decimal | float | None = None,
) -> str | None:
    """The flag reason a meta row stands for, or None if it is no flag event.

    ``prior_max`` is the highest numeric value an earlier row of the same
    comment and key held: a counter row is the event only when it first reaches
    the threshold.  The database source applies the same rules in SQL
    (``_flag_condition``); keep the two in step.
    """
    if key == medical_key:
        return FlagReason.MEDICAL_QUESTION if is_truthy(value) else None
    if key not in flag_keys:
        return None
    number = as_number(value)
    if number is not None:
        reached = number >= threshold
        already = prior_max is not None and Decimal(str(prior_max)) >= threshold
        return FlagReason.OTHER if reached and not already else None
    if not is_truthy(value):
        return None
    word = (value or "").strip().lower()
    return word if word in _REASON_WORDS else FlagReason.OTHER


def flag_note(key: str, value: str | None) -> str:
    note = f"{key}={(value or '').strip()}"
    return note if len(note) <= _NOTE_MAX else note[: _NOTE_MAX - 1] + "…"


def utc(value: Any, fallback: Any = None) -> datetime:
    """A UTC datetime from WordPress's dates.

    comment_date_gmt can be the zero date (imports, some plugins); then the local
    comment_date is the best we have, and the epoch the last resort.
    """
    for candidate in (value, fallback):
        if isinstance(candidate, datetime):
            return (
                candidate.replace(tzinfo=UTC)
                if candidate.tzinfo is None
                else candidate.astimezone(UTC)
            )
        if isinstance(candidate, str) and candidate and not candidate.startswith("0000"):
            try:
                return utc(datetime.fromisoformat(candidate))
            except ValueError:
                continue
    return datetime.fromtimestamp(0, UTC)


def text(value: Any) -> str:
    """Text from the store, whatever it really holds (bytes that are not UTF-8 included)."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def comment_from_row(row: Mapping[str, Any], site_url: str) -> Comment:
    """A Comment from a row of the comments query (column names as in ``_comment_columns``)."""
    comment_id = int(row["comment_ID"])
    post_id = int(row["comment_post_ID"])
    parent = int(row["comment_parent"] or 0)
    return Comment(
        id=comment_id,
        post=Post(id=post_id, title=text(row["post_title"]), url=post_link(site_url, post_id)),
        # WordPress writes 0 for "no parent".
        parent_id=parent or None,
        author_name=text(row["comment_author"]),
        author_email=text(row["comment_author_email"]) or None,
        body=text(row["comment_content"]),
        status=map_status(text(row["comment_approved"])),
        created_at=utc(row["comment_date_gmt"], row.get("comment_date")),
        moderation_links=moderation_links(site_url, comment_id),
    )
