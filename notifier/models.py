"""The values that flow through the pipeline.  Plain, immutable, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class CommentStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    SPAM = "spam"
    TRASH = "trash"


class FlagReason(StrEnum):
    MEDICAL_QUESTION = "medical_question"
    ABUSE = "abuse"
    SPAM = "spam"
    OFF_TOPIC = "off_topic"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Post:
    id: int
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    post: Post
    parent_id: int | None
    author_name: str
    author_email: str | None
    body: str
    status: str
    created_at: datetime
    # Links a source can build from its own configured base URL (WordPress's
    # approve/spam/trash screens); empty for the native store.
    moderation_links: dict[str, str] = field(default_factory=dict)

    @property
    def is_junk(self) -> bool:
        """Spam and trash are never forwarded to the InfoLine nor acknowledged."""
        return self.status in (CommentStatus.SPAM, CommentStatus.TRASH)


@dataclass(frozen=True, slots=True)
class Flag:
    id: int
    comment: Comment
    reason: str
    note: str | None
    flagged_by: str | None
    created_at: datetime


IdRange = tuple[int, int]
"""An inclusive range of ids, ``(low, high)``."""
