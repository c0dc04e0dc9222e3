"""Links in our emails point only at the configured site (NOTIFIER_SITE_URL).

A post's URL comes from the comment store, and on some sites from whoever can
write there; a moderator who trusts our emails should never be one click away
from a look-alike host (``https://blog.example.org.evil.example/…``).  So a link
is rendered only when its host and port are the site's, with no user name or
password in it; anything else is shown as plain text by the templates, or not
at all.  Without NOTIFIER_SITE_URL no link is rendered.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Characters a browser may read differently from us (a backslash is a slash to
# a browser, not to urlsplit), or that could end an HTML attribute or a line.
_UNSAFE = re.compile(r"[\s\\\"'<>`\x00-\x1f\x7f]")


def _origin(url: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.hostname.lower().rstrip("."), (None if port == default else port)


def site_link(url: str | None, site_url: str | None) -> str | None:
    """``url`` if it is an http(s) link to the site at ``site_url``, else None."""
    if not url or not site_url:
        return None
    url = url.strip()
    if _UNSAFE.search(url) or len(url) > 2000:
        return None
    mine = _origin(url)
    return url if mine is not None and mine == _origin(site_url.strip()) else None


def site_host(site_url: str | None) -> str | None:
    """The host name of NOTIFIER_SITE_URL, or None."""
    origin = _origin(site_url.strip()) if site_url else None
    return origin[0] if origin else None
