"""The WordPress mapping rules on rows written here, and the REST source against a
mock transport: no server."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from notifier.errors import SourceError
from notifier.sources.wordpress_mapping import (
    as_number,
    comment_from_row,
    flag_reason,
    map_status,
    type_filter_values,
)
from notifier.sources.wordpress_rest import WordPressRestSource, _windows
from tests.wp_helpers import FLAG_KEYS, MEDICAL_KEY, THRESHOLD

SITE_URL = "https://blog.example.org"


def _row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "comment_ID": 42,
        "comment_post_ID": 7,
        "comment_author": "Ann",
        "comment_author_email": "ann@example.org",
        "comment_date": datetime(2024, 5, 1, 14, 0),
        "comment_date_gmt": datetime(2024, 5, 1, 12, 0),
        "comment_content": "Is this dose normal?",
        "comment_approved": "0",
        "comment_type": "comment",
        "comment_parent": 0,
        "post_title": "Living with myeloma",
    }
    row.update(overrides)
    return row


def test_a_database_row_becomes_a_pending_comment_with_links() -> None:
    comment = comment_from_row(_row(), SITE_URL + "/")

    assert comment.id == 42
    assert comment.status == "pending"
    assert comment.parent_id is None
    assert comment.post.title == "Living with myeloma"
    assert comment.post.url == "https://blog.example.org/?p=7"
    assert comment.created_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert comment.moderation_links == {
        "approve": "https://blog.example.org/wp-admin/comment.php?action=approve&c=42",
        "spam": "https://blog.example.org/wp-admin/comment.php?action=spam&c=42",
        "trash": "https://blog.example.org/wp-admin/comment.php?action=trash&c=42",
        "moderate": "https://blog.example.org/wp-admin/edit-comments.php?comment_status=moderated",
    }


def test_a_reply_keeps_its_parent_and_a_blank_email_is_none() -> None:
    comment = comment_from_row(_row(comment_parent=40, comment_author_email=""), SITE_URL)

    assert comment.parent_id == 40
    assert comment.author_email is None


def test_a_zero_gmt_date_falls_back_to_the_local_date() -> None:
    comment = comment_from_row(_row(comment_date_gmt="0000-00-00 00:00:00"), SITE_URL)

    assert comment.created_at == datetime(2024, 5, 1, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored", "status"),
    [
        ("0", "pending"),
        ("1", "approved"),
        ("spam", "spam"),
        ("trash", "trash"),
        ("post-trashed", "trash"),
        ("hold", "pending"),  # the REST API's names
        ("approved", "approved"),
        ("some-plugin-state", "pending"),
    ],
)
def test_wordpress_statuses_map_to_model_statuses(stored: str, status: str) -> None:
    assert map_status(stored) == status


def test_plain_comments_include_the_empty_type_of_old_wordpress() -> None:
    assert type_filter_values(["comment"]) == ["comment", ""]
    assert type_filter_values(["review"]) == ["review"]


@pytest.mark.parametrize(
    ("key", "value", "prior_max", "reason"),
    [
        ("notifier_flag", "abuse", None, "abuse"),
        ("notifier_flag", " Off_Topic ", None, "off_topic"),
        ("notifier_flag", "yes", None, "other"),
        ("notifier_flag", "no", None, None),
        ("notifier_flag", "", None, None),
        ("notifier_flag_count", "1", None, None),
        ("notifier_flag_count", "2", None, "other"),
        ("notifier_flag_count", "3", Decimal(2), None),  # reached already: not a new event
        ("notifier_flag_count", "3", 1.0, "other"),
        (MEDICAL_KEY, "1", None, "medical_question"),
        (MEDICAL_KEY, "0", None, None),
        ("unrelated_key", "abuse", None, None),
    ],
)
def test_meta_rows_map_to_flag_reasons(
    key: str, value: str, prior_max: Decimal | float | None, reason: str | None
) -> None:
    assert (
        flag_reason(
            key,
            value,
            flag_keys=FLAG_KEYS,
            medical_key=MEDICAL_KEY,
            threshold=THRESHOLD,
            prior_max=prior_max,
        )
        == reason
    )


def test_numbers_are_what_the_sql_regexp_calls_numbers() -> None:
    assert as_number(" 12 ") == Decimal(12)
    assert as_number("-1.5") == Decimal("-1.5")
    assert as_number(".5") is None
    assert as_number("1e3") is None
    assert as_number(None) is None


def test_rest_id_windows_cover_gaps_then_new_ids_in_order() -> None:
    windows = list(_windows(after=250, head=260, gaps=[(5, 7), (249, 249)]))

    assert windows == [[5, 6, 7, 249, *range(251, 261)]]
    assert [len(w) for w in _windows(after=0, head=250, gaps=[])] == [100, 100, 50]


async def test_a_site_answering_html_is_said_to_have_no_rest_api() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, text="<html>hi</html>", headers={"content-type": "text/html"}
        )
    )
    source = WordPressRestSource(
        SITE_URL, username="mod", app_password="s3cret-pw", transport=transport
    )
    with pytest.raises(SourceError, match="no WordPress REST API") as error:
        await source.comments(0, [], 10)
    assert "s3cret-pw" not in str(error.value)
    await source.aclose()


async def test_a_user_without_moderator_rights_gets_a_clear_403() -> None:
    body = {"code": "rest_forbidden_context", "data": {"status": 403}}
    transport = httpx.MockTransport(lambda request: httpx.Response(403, json=body))
    source = WordPressRestSource(
        SITE_URL, username="reader", app_password="s3cret-pw", transport=transport
    )
    with pytest.raises(SourceError, match=r"may not moderate comments.*403") as error:
        await source.pending_count()
    assert "s3cret-pw" not in str(error.value)
    await source.aclose()
