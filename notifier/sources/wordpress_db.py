"""Comments and flags read straight from a WordPress database (MySQL/MariaDB).

``WordPressSource`` implements ``CommentSource`` over WordPress's own tables,
``{prefix}comments``, ``{prefix}posts`` and ``{prefix}commentmeta``, read-only.
The mapping rules live here as small functions, shared with the REST source so
both say the same about the same comment.

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

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    and_,
    cast,
    exists,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from notifier.db import create_engine, safe_url
from notifier.errors import SourceError
from notifier.models import Comment, CommentStatus, Flag, FlagReason, IdRange, Post

# --- the mapping, shared with source_wordpress_rest ------------------------------------------

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
_FALSY = frozenset({"", "0", "false", "no", "off"})
_REASON_WORDS = frozenset(
    {FlagReason.ABUSE, FlagReason.SPAM, FlagReason.OFF_TOPIC, FlagReason.MEDICAL_QUESTION}
)
_NUMERIC_SQL = r"^-?[0-9]+(\.[0-9]+)?$"
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
    return value is not None and value.strip(" ").lower() not in _FALSY


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


# --- the database source ---------------------------------------------------------------------


def _tables(prefix: str) -> tuple[Table, Table, Table]:
    """The columns we read of WordPress's tables; WordPress owns the real DDL."""
    metadata = MetaData()
    comments = Table(
        f"{prefix}comments",
        metadata,
        Column("comment_ID", BigInteger, primary_key=True),
        Column("comment_post_ID", BigInteger),
        Column("comment_author", Text),
        Column("comment_author_email", String(100)),
        Column("comment_date", DateTime),
        Column("comment_date_gmt", DateTime),
        Column("comment_content", Text),
        Column("comment_approved", String(20)),
        Column("comment_type", String(20)),
        Column("comment_parent", BigInteger),
    )
    posts = Table(
        f"{prefix}posts",
        metadata,
        Column("ID", BigInteger, primary_key=True),
        Column("post_title", Text),
    )
    commentmeta = Table(
        f"{prefix}commentmeta",
        metadata,
        Column("meta_id", BigInteger, primary_key=True),
        Column("comment_id", BigInteger),
        Column("meta_key", String(255)),
        Column("meta_value", Text),
    )
    return comments, posts, commentmeta


def _id_filter(column: Any, after: int, gaps: Sequence[IdRange]) -> ColumnElement[bool]:
    return or_(column > after, *(column.between(low, high) for low, high in gaps))


class WordPressSource:
    """Reads comments and flags from a WordPress database through SQLAlchemy Core."""

    def __init__(
        self,
        url: str,
        *,
        site_url: str,
        table_prefix: str = "wp_",
        comment_types: Sequence[str] = ("comment",),
        flag_meta_keys: Sequence[str] = (),
        flag_threshold: int = 1,
        medical_meta_key: str = "notifier_medical_question",
        engine: AsyncEngine | None = None,
    ) -> None:
        self._url = url
        self._site_url = site_url.rstrip("/")
        self._engine = engine or create_engine(url)
        self._comments, self._posts, self._meta = _tables(table_prefix)
        self._types = type_filter_values(comment_types)
        self._flag_keys = [key for key in dict.fromkeys(flag_meta_keys) if key != medical_meta_key]
        self._threshold = flag_threshold
        self._medical_key = medical_meta_key

    def _comment_columns(self) -> list[Any]:
        c, p = self._comments, self._posts
        return [*c.c, p.c.post_title]

    def _joined(self) -> Any:
        # An outer join: a comment whose post is gone is still a comment.
        return self._comments.outerjoin(
            self._posts, self._comments.c.comment_post_ID == self._posts.c.ID
        )

    def _of_types(self) -> ColumnElement[bool]:
        return self._comments.c.comment_type.in_(self._types)

    def _flag_condition(self, meta: Any) -> ColumnElement[bool]:
        """The rules of ``flag_reason`` in SQL, so LIMIT counts flags, not meta rows."""
        value = func.trim(meta.c.meta_value)
        numeric = value.regexp_match(_NUMERIC_SQL)
        truthy = and_(meta.c.meta_value.is_not(None), func.lower(value).not_in(list(_FALSY)))
        earlier = self._meta.alias("earlier")
        earlier_value = func.trim(earlier.c.meta_value)
        reached_before = exists().where(
            earlier.c.comment_id == meta.c.comment_id,
            earlier.c.meta_key == meta.c.meta_key,
            earlier.c.meta_id < meta.c.meta_id,
            earlier_value.regexp_match(_NUMERIC_SQL),
            cast(earlier_value, Numeric(30, 6)) >= self._threshold,
        )
        conditions = [and_(meta.c.meta_key == self._medical_key, truthy)]
        if self._flag_keys:
            conditions.append(
                and_(
                    meta.c.meta_key.in_(self._flag_keys),
                    or_(
                        and_(not_(numeric), truthy),
                        and_(
                            numeric,
                            cast(value, Numeric(30, 6)) >= self._threshold,
                            not_(reached_before),
                        ),
                    ),
                )
            )
        return or_(*conditions)

    async def _rows(self, statement: Any) -> list[Any]:
        try:
            async with self._engine.connect() as conn:
                return list((await conn.execute(statement)).mappings().all())
        except (SQLAlchemyError, OSError) as exc:
            raise SourceError(
                f"cannot read the WordPress database at {safe_url(self._url)}: {exc}"
            ) from exc

    async def head(self) -> tuple[int, int]:
        c, m = self._comments, self._meta
        rows = await self._rows(
            select(
                select(func.coalesce(func.max(c.c.comment_ID), 0))
                .where(self._of_types())
                .scalar_subquery()
                .label("comment_id"),
                select(func.coalesce(func.max(m.c.meta_id), 0))
                .where(self._flag_condition(m))
                .scalar_subquery()
                .label("flag_id"),
            )
        )
        return int(rows[0]["comment_id"]), int(rows[0]["flag_id"])

    async def comments(self, after: int, gaps: Sequence[IdRange], limit: int) -> list[Comment]:
        c = self._comments
        statement = (
            select(*self._comment_columns())
            .select_from(self._joined())
            .where(self._of_types(), _id_filter(c.c.comment_ID, after, gaps))
            .order_by(c.c.comment_ID)
            .limit(limit)
        )
        return [comment_from_row(row, self._site_url) for row in await self._rows(statement)]

    async def flags(self, after: int, gaps: Sequence[IdRange], limit: int) -> list[Flag]:
        m = self._meta
        statement = (
            select(m.c.meta_id, m.c.meta_key, m.c.meta_value, *self._comment_columns())
            .select_from(self._joined().join(m, m.c.comment_id == self._comments.c.comment_ID))
            .where(self._of_types(), self._flag_condition(m), _id_filter(m.c.meta_id, after, gaps))
            .order_by(m.c.meta_id)
            .limit(limit)
        )
        read_at = datetime.now(UTC)
        flags = []
        for row in await self._rows(statement):
            key, value = text(row["meta_key"]), text(row["meta_value"])
            # SQL already chose the events; this only names their reason.
            reason = flag_reason(
                key,
                value,
                flag_keys=self._flag_keys,
                medical_key=self._medical_key,
                threshold=self._threshold,
            )
            flags.append(
                Flag(
                    id=int(row["meta_id"]),
                    comment=comment_from_row(row, self._site_url),
                    reason=reason or FlagReason.OTHER,
                    note=flag_note(key, value),
                    flagged_by=None,
                    created_at=read_at,
                )
            )
        return flags

    async def pending_count(self) -> int:
        c = self._comments
        rows = await self._rows(
            select(func.count().label("n"))
            .select_from(c)
            .where(c.c.comment_approved == "0", self._of_types())
        )
        return int(rows[0]["n"])

    async def statuses(self, ids: Sequence[int]) -> dict[int, str]:
        """The current status of each comment in ``ids`` that still exists."""
        c = self._comments
        found: dict[int, str] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), 1000):
            rows = await self._rows(
                select(c.c.comment_ID, c.c.comment_approved).where(
                    c.c.comment_ID.in_(unique[start : start + 1000])
                )
            )
            found.update(
                {int(row["comment_ID"]): map_status(text(row["comment_approved"])) for row in rows}
            )
        return found

    async def check(self) -> str:
        await self.head()
        return f"WordPress database at {safe_url(self._url)} (tables {self._comments.name}, …)"

    async def aclose(self) -> None:
        await self._engine.dispose()
