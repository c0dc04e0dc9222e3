"""Secrets hidden from everything notifier prints, however a URL is written.

``mask_url`` is the one function that makes a URL safe to show (``check``,
``once``, ``status``, logs and error messages).  It does not parse the URL as a
library would: a password with a raw ``@`` or ``/`` in it breaks parsers, and a
parser that gives up or splits in the wrong place prints part of the password.
It masks generously instead: everything before the last ``@`` is user
information, and only the user name before its first ``:`` is shown.
"""

from __future__ import annotations

import re

MASK = "***"
# Query parameters whose values are secrets (matched inside the key, any case).
_SECRET_KEYS = ("pass", "pwd", "secret", "token", "key", "auth", "credential", "signature")
_QUERY_PAIR = re.compile(r"([^&;=]*)=([^&;]*)")


def _mask_query(query: str) -> str:
    def hide(match: re.Match[str]) -> str:
        key = match.group(1)
        secret = any(word in key.lower() for word in _SECRET_KEYS)
        return f"{key}={MASK}" if secret else match.group(0)

    return _QUERY_PAIR.sub(hide, query)


def mask_url(value: str) -> str:
    """``value`` with any password, credential or secret query value replaced by ***."""
    scheme, separator, rest = value.partition("://")
    if not separator:
        scheme, rest = "", value
    # The last "@" anywhere: a password may hold "@", "/", "?" or "#" unescaped.
    # An "@" in a path or query masks too much, which is the safe way to be wrong.
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _password = rest[:at].partition(":")
        # A lone user name in an http URL is often a token: hide it too.
        shown = f"{user}:{MASK}" if colon and user and "/" not in user else MASK
        rest = f"{shown}{rest[at:]}"
    start = at + 1 if at >= 0 else 0
    cut = min((i for i in (rest.find("?", start), rest.find("#", start)) if i >= 0), default=-1)
    if cut >= 0:
        query, hash_mark, fragment = rest[cut:].partition("#")
        rest = rest[:cut] + _mask_query(query) + (hash_mark + MASK if fragment else hash_mark)
    return f"{scheme}{separator}{rest}"


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
# Userinfo may hold spaces (application passwords do): up to an "@" before any "/".
_USERINFO_IN_TEXT = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^@/\n]*)@")


def mask_text(text: str) -> str:
    """``text`` with every URL in it masked (error messages that quote a URL)."""

    def userinfo(match: re.Match[str]) -> str:
        user, colon, _ = match.group(2).partition(":")
        shown = f"{user}:{MASK}" if colon and user and " " not in user else MASK
        return f"{match.group(1)}{shown}@"

    text = _USERINFO_IN_TEXT.sub(userinfo, text)
    return _URL_IN_TEXT.sub(lambda match: mask_url(match.group(0)), text)


def without_credentials(url: str) -> str:
    """``url`` with any ``user:password@`` removed (for links and requests).

    The userinfo ends at the last "@" before any query or fragment (a password may
    hold a raw "@" or "/"); a base URL has no other "@".
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, end)
    return f"{scheme}{separator}{rest[at + 1 :]}"
