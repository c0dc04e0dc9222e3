"""The comment sources: where comments and flags are read from.

``CommentSource`` is the protocol every store implements (``native``,
``wordpress_db``, ``wordpress_rest``); ``build_source`` is the one place the
source the settings name is wired.  A source only ever reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from notifier.errors import ConfigError
from notifier.models import Comment, Flag, IdRange
from notifier.settings import Settings
from notifier.sources.native import NativeSource
from notifier.sources.wordpress_db import WordPressSource
from notifier.sources.wordpress_rest import WordPressRestSource


class CommentSource(Protocol):
    """What the worker needs from a comment store.  Every method only reads."""

    async def head(self) -> tuple[int, int]:
        """The highest comment id and the highest flag id now in the store (0 if none)."""
        ...

    async def comments(self, after: int, gaps: Sequence[IdRange], limit: int) -> list[Comment]:
        """Comments with id > ``after`` or inside one of ``gaps``, by increasing id."""
        ...

    async def flags(self, after: int, gaps: Sequence[IdRange], limit: int) -> list[Flag]:
        """Flags with id > ``after`` or inside one of ``gaps``, by increasing id."""
        ...

    async def pending_count(self) -> int:
        """How many comments await moderation."""
        ...

    async def check(self) -> str:
        """Reach the store and its tables; return a one-line description or raise SourceError."""
        ...

    async def aclose(self) -> None: ...


def build_source(settings: Settings) -> CommentSource:
    """The CommentSource for ``NOTIFIER_SOURCE_KIND``."""
    if settings.source_kind == "native":
        return NativeSource(settings.source_url, max_body_chars=settings.max_body_chars)
    if settings.source_kind == "wordpress":
        if settings.site_url is None:  # load_settings() refuses this; Settings() alone may not
            raise ConfigError(["NOTIFIER_SITE_URL: required with NOTIFIER_SOURCE_KIND=wordpress"])
        return WordPressSource(
            settings.source_url,
            site_url=settings.site_url,
            table_prefix=settings.wp_table_prefix,
            comment_types=settings.wp_comment_types,
            flag_meta_keys=settings.wp_flag_meta_keys,
            flag_threshold=settings.wp_flag_threshold,
            medical_meta_key=settings.wp_medical_meta_key,
            max_body_chars=settings.max_body_chars,
        )
    if settings.source_kind == "wordpress-rest":
        if settings.wp_username is None or settings.wp_app_password is None:
            raise ConfigError(
                ["NOTIFIER_WP_USERNAME and NOTIFIER_WP_APP_PASSWORD: both are required"]
            )
        return WordPressRestSource(
            # NOTIFIER_SOURCE_URL is the site's base URL for this kind.
            settings.source_url,
            username=settings.wp_username,
            app_password=settings.wp_app_password.get_secret_value(),
            comment_types=settings.wp_comment_types,
            flag_meta_keys=settings.wp_flag_meta_keys,
            flag_threshold=settings.wp_flag_threshold,
            medical_meta_key=settings.wp_medical_meta_key,
            max_body_chars=settings.max_body_chars,
            max_response_bytes=settings.rest_max_response_bytes,
        )
    raise NotImplementedError(f"source kind {settings.source_kind!r} is not built yet")
