"""What an acknowledgement may say: nothing the commenter wrote but a first name.

The commenter's address is whatever a stranger typed, so the acknowledgement
goes to a mailbox that may not be theirs.  It carries no text of the comment,
its name, or the post's title (some sites let readers write those): only a
first name made of letters, and what we wrote ourselves.
"""

from __future__ import annotations

import unicodedata
from typing import Any

FIRST_NAME_MAX = 20
NO_NAME = "there"


def first_name(name: str | None) -> str:
    """The first word of ``name`` if it is letters only and short, else "there"."""
    words = unicodedata.normalize("NFC", name or "").split()
    word = words[0] if words else ""
    if not word or len(word) > FIRST_NAME_MAX or not word.isalpha():
        return NO_NAME
    return word


def ack_context(author_name: str | None, *, site_name: str) -> dict[str, Any]:
    """The whole context of the commenter_ack templates (site overrides get no more)."""
    return {"site_name": site_name, "first_name": first_name(author_name)}
