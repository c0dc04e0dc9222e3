"""Text the public wrote, made fit to show: names and titles as one line of data, bodies as lines.

A commenter writes the name, the email, the body and on some sites the post
title.  None of it may pass for our own words: invisible format characters
(bidi overrides and isolates, zero-width spaces, tag characters) are removed so
``"Ann\\u202eenilofnI"`` cannot render as something it is not, markup never
reaches a subject, and stacked combining marks cannot spill over the lines
around them.  Look-alike letters (Cyrillic "а" for Latin "a") are real letters
of real names and stay: the templates label a name as the commenter's own
("Name given: …") instead of pretending to recognise it.
"""

from __future__ import annotations

import re
import unicodedata

# C0 controls except TAB and LF, DEL, C1 controls, the Unicode line and
# paragraph separators: none belongs in a comment shown in an email.
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
# Explicit embeddings, overrides and isolates reorder the text that follows
# them, so a body could make a line read backwards.  The marks right-to-left
# text needs (U+200E/U+200F/U+061C) are left in bodies.
_BIDI_EMBEDDING = re.compile("[\u202a-\u202e\u2066-\u2069]")
_MARKUP = re.compile(r"<[^<>]*>")
# Joiners stay: emoji sequences and Persian and Indic names need them.
_KEPT_FORMAT = frozenset("\u200c\u200d")
# More combining marks than any script needs on one letter ("Zalgo" text).
_MAX_MARKS = 3


def clean_body(text: str) -> str:
    """Comment text with its lines kept and what is unprintable or reordering removed."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _limit_marks(_BIDI_EMBEDDING.sub("", _BODY_CONTROL.sub("", text)))


def clean_line(text: str, limit: int) -> str:
    """One line of data (a name, a title, a note's author): nothing invisible, at most ``limit``."""
    text = clean_body(text)
    text = "".join(ch for ch in text if ch in _KEPT_FORMAT or unicodedata.category(ch) != "Cf")
    return shorten(" ".join(text.split()), limit)


def strip_markup(text: str) -> str:
    """``<b>Eve</b>`` becomes ``Eve``: for subjects, where markup is never wanted."""
    return " ".join(_MARKUP.sub(" ", text).split())


def snippet(text: str, limit: int) -> str:
    """A short one-line excerpt for a subject: markup removed, cut at a word."""
    return shorten(strip_markup(clean_line(text, limit * 4)), limit)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a space when one is near, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _limit_marks(text: str) -> str:
    if not any(unicodedata.combining(ch) for ch in text):
        return text
    out = []
    run = 0
    for ch in text:
        run = run + 1 if unicodedata.combining(ch) else 0
        if run <= _MAX_MARKS:
            out.append(ch)
    return "".join(out)
