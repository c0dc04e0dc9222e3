"""The shared layout: a whole HTML document, and a text part that reads in a terminal."""

from __future__ import annotations

import pytest

from notifier.demo.samples import sample_contexts
from notifier.mail.render import Renderer
from notifier.mail.route import TEMPLATE_NAMES


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_html_part_is_a_document_with_a_viewport(name: str) -> None:
    html = Renderer().render(name, sample_contexts("Myeloma Blog")[name]).html
    assert html.startswith("<!DOCTYPE html>")
    assert "<head>" in html and '<meta charset="utf-8">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "max-width:600px" in html
    assert "<style" not in html  # inline styles only: what Gmail keeps


@pytest.mark.parametrize("name", ["new_comment", "flagged_comment", "infoline_forward"])
def test_text_parts_keep_blocks_apart_and_lines_short(name: str) -> None:
    text = Renderer().render(name, sample_contexts("Myeloma Blog")[name]).text
    lines = text.splitlines()
    # Only a line holding one long URL may pass 72 columns.
    assert all(len(line) <= 72 or "https://" in line for line in lines), text
    assert "\n\n\n" not in text and not text.startswith("\n")
    if "Why:" in text:
        why = next(i for i, line in enumerate(lines) if line.startswith("Why:"))
        end = next(i for i in range(why, len(lines)) if not lines[i])
        assert lines[end - 1].endswith(("neuropathy", "."))  # the reasons, then a blank line
    # The action comes before the comment, the comment before the details.
    quote = next(i for i, line in enumerate(lines) if line.startswith("Name given:"))
    assert lines.index(next(line for line in lines if line.startswith("Posted:"))) > quote
    if name != "infoline_forward":
        assert next(i for i, line in enumerate(lines) if line.startswith("Approve:")) < quote
        assert "FORWARDED TO THE INFOLINE" in text.split("Name given:", 1)[0]


def test_a_minimal_digest_carries_no_name_address_or_text() -> None:
    from datetime import UTC, datetime

    from notifier.demo.samples import SAMPLE_SITE_URL, sample_notification
    from notifier.flow.digest import digest_context
    from notifier.flow.items import flow_item
    from notifier.state.flow import QueuedItem

    items = []
    for number, template in enumerate(("new_comment", "flagged_comment"), start=1):
        note = sample_notification(template)
        flow = flow_item(note, site_name="Blog", site_url=SAMPLE_SITE_URL, moderator_mail="minimal")
        assert flow is not None
        at = datetime(2026, 11, 2, 9, number, tzinfo=UTC)
        items.append(QueuedItem(number, note.event_key, 1, "pending", flow.item, at))
    context = digest_context(
        "Blog",
        items,
        left_out=0,
        checked=True,
        part=1,
        parts=1,
        daily=None,
        pending_count=2,
        now=datetime(2026, 11, 2, 9, 10, tzinfo=UTC),
    )
    rendered = Renderer().render("digest", context)
    seen = rendered.subject + rendered.text + rendered.html
    secrets = ("Helen", "helen.m@example.com", "diagnosed", "Specific treatment", "moderator:jo")
    for secret in secrets:
        assert secret not in seen, secret
    assert "None" not in rendered.text and "None" not in rendered.html
    assert "What's new in treatment" in rendered.text
    assert "does not send the comment's text" in rendered.text
    assert f"{SAMPLE_SITE_URL}/wp-admin/comment.php?action=approve" in rendered.text
