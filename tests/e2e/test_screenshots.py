"""Every template's HTML as a person sees it: headless Chromium at 390 and 1280 px.

The screenshots go to .artifacts/screenshots/ (ignored by git) for a person to
look at; the test asserts what can be measured: the phone viewport is honoured
(the page has its viewport meta) and nothing sticks out sideways, with the
sample data and with hostile data (long unbroken words, URLs, names, titles).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from notifier.demo.samples import sample_contexts
from notifier.mail.render import Renderer
from notifier.mail.route import TEMPLATE_NAMES
from tests.browser import Browser, find_chromium, in_ci

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (390, 1280)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    found = find_chromium()
    if isinstance(found, str):
        if in_ci():
            pytest.fail(f"headless Chromium is required under CI: {found}")
        pytest.skip(f"headless Chromium is not available: {found}")
    with Browser(*found) as b:
        yield b


def hostile(context: dict[str, Any]) -> dict[str, Any]:
    """The sample context with every field as long and unbreakable as a commenter can make it."""
    context = copy.deepcopy(context)
    word = "Supercalifragilistic" * 12
    for item in context.get("items", []):  # digests and reminders list many
        item["comment"].update(
            author_name="N" * 100,
            author_email="a.very.long.local.part.indeed" * 3 + "@example.org",
            excerpt=f"{word}\nhttps://blog.example.org/{'x' * 300}",
        )
        item["post"].update(title=word[:200], url="https://blog.example.org/" + "p" * 300)
        if item.get("flag"):
            item["flag"].update(note=word, flagged_by="F" * 100)
    if "comment" not in context:
        return context
    context["comment"].update(
        author_name="N" * 100,
        author_email="a.very.long.local.part.indeed" * 3 + "@example.org",
        reply_to="a.very.long.local.part.indeed" * 3 + "@example.org",
        body=f"{word}\nhttps://blog.example.org/{'x' * 300}\n{'🎗️' * 80}\n\tindented\t\ttabs",
    )
    context["post"].update(title=word[:200], url="https://blog.example.org/" + "p" * 300)
    if context.get("flag"):
        context["flag"].update(note=word, flagged_by="F" * 100)
    if context.get("triage"):
        context["triage"]["reasons"] = [word, word]
    return context


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_template_fits_a_phone_and_a_desktop(browser: Browser, name: str) -> None:
    renderer = Renderer()
    sample = sample_contexts("Myeloma Blog")[name]
    for variant, context in (("sample", sample), ("hostile", hostile(sample))):
        html = renderer.render(name, context).html
        for width in WIDTHS:
            shot = browser.shoot(html, width, f"{name}-{variant}-{width}")
            assert shot.path.stat().st_size > 5_000, f"{shot.path} looks empty"
            # A page without its viewport meta is laid out 980 px wide on a phone.
            assert shot.viewport == width, f"{name}: laid out at {shot.viewport}px"
            assert shot.overflow == [], f"{name} ({variant}) at {width}px: {shot.overflow}"
