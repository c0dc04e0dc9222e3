"""Pure parts of the digests and reminders: schedules, settings, routing, staleness."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from notifier.errors import ConfigError
from notifier.flow.digest import digest_context
from notifier.flow.items import flow_item, still_open
from notifier.flow.schedule import DailyDigest, burst_digest_due, next_daily
from notifier.mail.addresses import parse_address
from notifier.mail.render import Renderer
from notifier.mail.route import NEW_COMMENT, Notification, Recipients, route_flag
from notifier.models import Comment, Flag, Post
from notifier.settings import load_settings
from notifier.state.flow import QueuedItem

BASE = {"NOTIFIER_MAIL_FROM": "n@example.org", "NOTIFIER_MODERATORS": "ann@x.org, Bob <bob@y.org>"}


def test_a_daily_digest_is_due_at_the_next_local_time() -> None:
    now = datetime(2026, 11, 2, 7, 59, tzinfo=UTC)
    assert next_daily(now, time(8, 0), "Europe/London") == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    later = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert next_daily(later, time(8, 0), "Europe/London") == datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    # New York is five hours behind UTC in November.
    assert next_daily(now, time(8, 0), "America/New_York") == datetime(
        2026, 11, 2, 13, 0, tzinfo=UTC
    )


def test_a_daily_digest_comes_once_on_the_days_the_clocks_change() -> None:
    # London springs forward at 01:00 UTC on 29 March 2026 (01:30 local does not exist)
    # and falls back at 01:00 UTC on 25 October 2026 (01:30 local happens twice).
    for day in (
        datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
        datetime(2026, 10, 24, 12, 0, tzinfo=UTC),
    ):
        first = next_daily(day, time(1, 30), "Europe/London")
        second = next_daily(first, time(1, 30), "Europe/London")
        assert timedelta(hours=22) <= second - first <= timedelta(hours=26)
        assert first.date() != second.date()


def test_burst_digests_come_at_the_window_end_and_a_window_apart() -> None:
    t0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    window = timedelta(minutes=10)
    assert burst_digest_due(t0, None, window) == t0 + window
    # The previous digest went at t0 + 10 min: the next is not before t0 + 20 min.
    assert burst_digest_due(t0 + timedelta(minutes=1), t0 + window, window) == t0 + 2 * window


def test_digest_only_reads_address_time_and_zone() -> None:
    settings = load_settings(
        {
            **BASE,
            "NOTIFIER_DIGEST_ONLY": "BOB@y.org 08:00 America/New_York, ann@x.org 18:30",
            "NOTIFIER_TIMEZONE": "Europe/Paris",
        }
    )
    assert settings.digest_only == [
        DailyDigest("bob@y.org", time(8, 0), "America/New_York"),
        DailyDigest("ann@x.org", time(18, 30), "Europe/Paris"),
    ]
    assert load_settings(BASE).digest_only == []


def test_bad_digest_settings_are_all_named_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                **BASE,
                "NOTIFIER_DIGEST_ONLY": (
                    "bob@y.org 8 o'clock, carol@z.org 08:00, ann@x.org 25:00 Mars/Olympus"
                ),
                "NOTIFIER_TIMEZONE": "Atlantis/Capital",
                "NOTIFIER_DIGEST_AFTER": "0",
                "NOTIFIER_DIGEST_WINDOW": "-1",
                "NOTIFIER_REMIND_AFTER": "soon",
            }
        )
    text = str(caught.value)
    for variable in (
        "NOTIFIER_DIGEST_ONLY",
        "NOTIFIER_TIMEZONE",
        "NOTIFIER_DIGEST_AFTER",
        "NOTIFIER_DIGEST_WINDOW",
        "NOTIFIER_REMIND_AFTER",
    ):
        assert variable in text
    assert "8 o'clock" in text and "25:00" in text and "Mars/Olympus" in text


def test_a_digest_only_address_must_be_a_moderator() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, "NOTIFIER_DIGEST_ONLY": "carol@z.org 08:00"})
    assert "NOTIFIER_DIGEST_ONLY" in str(caught.value)
    assert "carol@z.org" in str(caught.value)


def _comment(status: str) -> Comment:
    return Comment(
        id=7,
        post=Post(1, "A post", "https://blog.example.org/p/1"),
        parent_id=None,
        author_name="Eve",
        author_email="eve@example.net",
        body="Buy now",
        status=status,
        created_at=datetime(2026, 11, 2, tzinfo=UTC),
    )


@pytest.mark.parametrize("status", ["spam", "trash"])
def test_a_flag_on_a_spammed_or_trashed_comment_mails_nobody(status: str) -> None:
    recipients = Recipients(
        moderators=(parse_address("ann@x.org"),), infoline=parse_address("info@x.org")
    )
    for reason in ("abuse", "medical_question"):
        flag = Flag(1, _comment(status), reason, None, "reader", datetime(2026, 11, 2, tzinfo=UTC))
        assert route_flag(flag, recipients, today=datetime(2026, 11, 2).date()) == []


@pytest.mark.parametrize(
    ("then", "now", "open_"),
    [
        ("pending", "pending", True),
        ("pending", "approved", False),
        ("pending", "spam", False),
        ("pending", "trash", False),
        ("pending", None, False),  # deleted
        ("approved", "approved", True),  # a flag on a comment kept as it is
        ("approved", "pending", False),  # put on hold: its own notification
        ("approved", "trash", False),
    ],
)
def test_an_item_is_still_open_while_its_comment_is_where_it_was(
    then: str, now: str | None, open_: bool
) -> None:
    assert still_open(then, now) is open_


def _digest_item(number: int, name: str, links: dict[str, str]) -> QueuedItem:
    comment = replace(_comment("pending"), id=number, author_name=name, moderation_links=links)
    note = Notification(f"comment:{number}", NEW_COMMENT, parse_address("ann@x.org"), comment)
    flow = flow_item(note, site_name="Myeloma Blog", site_url="https://blog.example.org")
    assert flow is not None
    at = datetime(2026, 11, 2, 6, number, tzinfo=UTC)
    return QueuedItem(number, note.event_key, number, "pending", flow.item, at)


def test_a_digest_lists_each_comment_with_its_moderation_links_and_escapes_names() -> None:
    base = "https://blog.example.org/wp-admin/comment.php?c="
    items = [
        _digest_item(1, "Tom", {"spam": f"{base}1&action=spam", "trash": "javascript:alert(1)"}),
        _digest_item(2, "<b>Eve</b>", {"approve": f"{base}2&action=approve"}),
    ]
    context = digest_context(
        "Myeloma Blog",
        items,
        left_out=0,
        checked=True,
        part=1,
        parts=1,
        daily=None,
        pending_count=None,
        now=datetime(2026, 11, 2, 6, 10, tzinfo=UTC),
    )
    rendered = Renderer().render("digest", context)
    assert rendered.subject == "[Myeloma Blog] Digest: 2 comments, 0 flags"
    assert f"Approve: {base}2&action=approve" in rendered.text
    assert f"Spam:    {base}1&action=spam" in rendered.text
    assert f'href="{base}2&amp;action=approve"' in rendered.html
    assert "javascript:" not in rendered.text + rendered.html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in rendered.html and "<b>Eve</b>" not in rendered.html
    # Newest first: Eve's came a minute after Tom's.
    assert rendered.text.index("Eve") < rendered.text.index("Tom")
