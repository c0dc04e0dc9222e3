"""Subjects arrive exactly as written, whatever their language, and never carry markup."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address

from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.mail.addresses import clean_header_text
from notifier.mail.clean import clean_line, snippet, strip_markup
from notifier.mail.compose import compose
from notifier.mail.render import Rendered

_NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def arrived_subject(subject: str) -> str:
    composed = compose(
        Rendered(subject, "text\n", "<p>html</p>"),
        sender=Address(addr_spec="notifier@blog.example.org"),
        recipient=Address(addr_spec="moderators@blog.example.org"),
        reply_to=None,
        now=_NOW,
        auto_submitted=True,
    )
    assert max(len(line) for line in composed.data.split(b"\r\n")) <= 78
    return str(message_from_bytes(composed.data, policy=policy.default)["Subject"])


def test_spaces_between_non_ascii_words_survive_folding() -> None:
    # Python's own folder dropped the space before "“We" (CPython gh-144156).
    subject = (
        "[Myeloma Blog] “Our autumn patient and family seminar” · Please moderate: "
        "carer_from_leeds — “We came last year and it was the first time my husband…”"
    )
    assert arrived_subject(subject) == subject


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=150))
def test_any_cleaned_subject_arrives_unchanged(text: str) -> None:
    subject = clean_header_text("[Blog] “" + text + "” · Ann — “Zoë…”", limit=200)
    assert arrived_subject(subject) == subject


def test_names_lose_markup_and_invisible_characters_but_keep_their_letters() -> None:
    assert strip_markup(clean_line("<b>Eve</b>", 100)) == "Eve"
    assert clean_line("Ann\u202eenilofnI\u2066\u200b\u2069", 100) == "AnnenilofnI"
    # Look-alike letters are letters; joiners that emoji and Persian names need stay.
    assert clean_line("ІnfoLіne Теаm", 100) == "ІnfoLіne Теаm"
    assert clean_line("👩\u200d⚕️ Mina\u200cdokht", 100) == "👩\u200d⚕️ Mina\u200cdokht"
    assert clean_line("Z" + "\u0301" * 40, 100) == "Z" + "\u0301" * 3
    assert snippet("Testing <b>bold</b> and\n\n<script>x</script> more words here", 20) == (
        "Testing bold and x…"
    )
