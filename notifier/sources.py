"""Build the comment source that the settings name.  The one place sources are wired."""

from __future__ import annotations

from notifier.settings import Settings
from notifier.source import CommentSource, NativeSource


def build_source(settings: Settings) -> CommentSource:
    """The CommentSource for ``NOTIFIER_SOURCE_KIND``."""
    if settings.source_kind == "native":
        return NativeSource(settings.source_url)
    raise NotImplementedError(f"source kind {settings.source_kind!r} is not built yet")
