"""Comments and flags read straight from a WordPress database (MySQL/MariaDB).

``WordPressSource`` implements ``CommentSource`` over WordPress's own tables,
``{prefix}comments``, ``{prefix}posts`` and ``{prefix}commentmeta``, read-only.
What a row means (statuses, links, which meta rows are flags, and the limits of
reading flags from meta) is in ``wordpress_mapping``, shared with the REST
source; here ``flag_reason``'s rules are also written in SQL so that LIMIT
counts flags, not meta rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
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
from notifier.models import Comment, Flag, FlagReason, IdRange
from notifier.sources.limits import (
    DEFAULT_BODY_CHARS,
    EMAIL_CHARS,
    NAME_CHARS,
    NOTE_CHARS,
    TITLE_CHARS,
    cut,
)
from notifier.sources.wordpress_mapping import (
    FALSY,
    NUMERIC_SQL,
    comment_from_row,
    flag_note,
    flag_reason,
    map_status,
    text,
    type_filter_values,
)


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
        max_body_chars: int = DEFAULT_BODY_CHARS,
    ) -> None:
        self._url = url
        self._body_chars = max_body_chars
        self._site_url = site_url.rstrip("/")
        self._engine = engine or create_engine(url)
        self._comments, self._posts, self._meta = _tables(table_prefix)
        self._types = type_filter_values(comment_types)
        self._flag_keys = [key for key in dict.fromkeys(flag_meta_keys) if key != medical_meta_key]
        self._threshold = flag_threshold
        self._medical_key = medical_meta_key

    def _comment_columns(self) -> list[Any]:
        # Commenter-written fields are cut by the database (sources.limits).
        c, p = self._comments.c, self._posts.c
        written = {
            "comment_author": NAME_CHARS,
            "comment_author_email": EMAIL_CHARS,
            "comment_content": self._body_chars,
        }
        return [
            *(cut(col, written[col.name]) if col.name in written else col for col in c),
            cut(p.post_title, TITLE_CHARS),
        ]

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
        numeric = value.regexp_match(NUMERIC_SQL)
        truthy = and_(meta.c.meta_value.is_not(None), func.lower(value).not_in(list(FALSY)))
        earlier = self._meta.alias("earlier")
        earlier_value = func.trim(earlier.c.meta_value)
        reached_before = exists().where(
            earlier.c.comment_id == meta.c.comment_id,
            earlier.c.meta_key == meta.c.meta_key,
            earlier.c.meta_id < meta.c.meta_id,
            earlier_value.regexp_match(NUMERIC_SQL),
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
            select(
                m.c.meta_id,
                cut(m.c.meta_key, NOTE_CHARS),
                cut(m.c.meta_value, NOTE_CHARS),
                *self._comment_columns(),
            )
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
