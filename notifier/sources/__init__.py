"""Build the comment source that the settings name.  The one place sources are wired."""

from __future__ import annotations

from notifier.errors import ConfigError
from notifier.settings import Settings
from notifier.source import CommentSource, NativeSource
from notifier.source_wordpress import WordPressSource
from notifier.source_wordpress_rest import WordPressRestSource


def build_source(settings: Settings) -> CommentSource:
    """The CommentSource for ``NOTIFIER_SOURCE_KIND``."""
    if settings.source_kind == "native":
        return NativeSource(settings.source_url)
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
        )
    raise NotImplementedError(f"source kind {settings.source_kind!r} is not built yet")
