"""WordPress sources, against a real WordPress site on loopback and on rows we write.

The site comes from scripts/wordpress-setup.sh (see tests/wp_helpers.py).  Each
test posts its own comments with unique text, so tests do not depend on each
other or on what earlier runs left in the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from notifier.errors import SourceError
from notifier.models import Comment
from notifier.source_wordpress import (
    WordPressSource,
    as_number,
    comment_from_row,
    flag_reason,
    map_status,
    type_filter_values,
)
from notifier.source_wordpress_rest import WordPressRestSource, _windows
from tests.wp_helpers import (
    FLAG_KEYS,
    MEDICAL_KEY,
    THRESHOLD,
    Site,
    moderate,
    post_comment,
    unique_text,
)

SITE_URL = "https://blog.example.org"
_Test = TypeVar("_Test", bound=Callable[..., Any])


# --- the mapping, on rows written here (no server) ------------------------------------------


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


# --- against the real site -----------------------------------------------------------------


@pytest.fixture
async def db_source(site: Site) -> AsyncIterator[WordPressSource]:
    source = WordPressSource(
        site.db_url,
        site_url=site.url,
        table_prefix=site.table_prefix,
        flag_meta_keys=FLAG_KEYS,
        flag_threshold=THRESHOLD,
        medical_meta_key=MEDICAL_KEY,
    )
    yield source
    await source.aclose()


def _rest_source(site: Site, password: str | None = None) -> WordPressRestSource:
    return WordPressRestSource(
        site.url,
        username=site.admin,
        app_password=site.app_password if password is None else password,
        flag_meta_keys=FLAG_KEYS,
        flag_threshold=THRESHOLD,
        medical_meta_key=MEDICAL_KEY,
    )


@pytest.fixture
async def rest_source(site: Site) -> AsyncIterator[WordPressRestSource]:
    source = _rest_source(site)
    yield source
    await source.aclose()


async def _only(source: WordPressSource | WordPressRestSource, comment_id: int) -> Comment:
    (comment,) = await source.comments(comment_id - 1, [], 1)
    assert comment.id == comment_id
    return comment


def needs_site(test: _Test) -> _Test:
    """Mark a test that needs the real site: ``-m "not wordpress"`` leaves it out.

    Whichever such test runs first pays for the site's setup, which on a fresh
    machine includes apt-get installing PHP and WordPress: more than the default
    per-test timeout allows.
    """
    marked: _Test = pytest.mark.wordpress(pytest.mark.timeout(600)(test))
    return marked


@needs_site
async def test_a_readers_comment_is_pending_with_its_post_and_moderation_links(
    site: Site, db_source: WordPressSource
) -> None:
    body = unique_text("Is fatigue normal after my third cycle?")
    comment_id = await post_comment(site, body, author="Ann Reader", email="ann@example.org")

    comment = await _only(db_source, comment_id)

    assert comment.status == "pending"
    assert comment.body == body
    assert comment.author_name == "Ann Reader"
    assert comment.author_email == "ann@example.org"
    assert comment.post.id == site.post_id
    assert comment.post.title == "Living with myeloma: your questions"
    assert comment.post.url == f"{site.url}/?p={site.post_id}"
    assert comment.moderation_links["approve"] == (
        f"{site.url}/wp-admin/comment.php?action=approve&c={comment_id}"
    )
    assert comment.moderation_links["moderate"].endswith("comment_status=moderated")
    assert (await db_source.head())[0] >= comment_id


@needs_site
async def test_a_new_comment_adds_one_to_the_pending_count(
    site: Site, db_source: WordPressSource, rest_source: WordPressRestSource
) -> None:
    before = await db_source.pending_count()
    await post_comment(site, unique_text("Counting"))

    assert await db_source.pending_count() == before + 1
    assert await rest_source.pending_count() == before + 1


@needs_site
async def test_a_flag_meta_key_set_by_a_moderator_is_a_flag(
    site: Site, db_source: WordPressSource
) -> None:
    comment_id = await post_comment(site, unique_text("Rude words"))
    _, flag_head = await db_source.head()

    await moderate(site, comment_id, meta={"notifier_flag": "abuse"})

    flags = [f for f in await db_source.flags(flag_head, [], 100) if f.comment.id == comment_id]
    assert [(f.reason, f.note) for f in flags] == [("abuse", "notifier_flag=abuse")]
    assert flags[0].id > flag_head
    assert flags[0].comment.status == "pending"


@needs_site
async def test_a_counter_is_a_flag_only_once_it_reaches_the_threshold(
    site: Site, db_source: WordPressSource, rest_source: WordPressRestSource
) -> None:
    comment_id = await post_comment(site, unique_text("Reported twice"))
    _, flag_head = await db_source.head()

    await moderate(site, comment_id, meta={"notifier_flag_count": "1"})
    assert [
        f for f in await db_source.flags(flag_head, [], 100) if f.comment.id == comment_id
    ] == []

    await moderate(site, comment_id, meta={"notifier_flag_count": str(THRESHOLD)})
    db_flags = [f for f in await db_source.flags(flag_head, [], 100) if f.comment.id == comment_id]
    rest_flags = [
        f for f in await rest_source.flags(flag_head, [], 100) if f.comment.id == comment_id
    ]
    assert [(f.id, f.reason) for f in db_flags] == [(db_flags[0].id, "other")]
    assert [(f.id, f.reason, f.note) for f in rest_flags] == [
        (f.id, f.reason, f.note) for f in db_flags
    ]


@needs_site
async def test_the_medical_meta_key_is_a_medical_question_flag(
    site: Site, db_source: WordPressSource, rest_source: WordPressRestSource
) -> None:
    comment_id = await post_comment(site, unique_text("Can I take ibuprofen with my meds?"))
    _, flag_head = await db_source.head()

    await moderate(site, comment_id, meta={MEDICAL_KEY: "1"})

    for source in (db_source, rest_source):
        flags = [f for f in await source.flags(flag_head, [], 100) if f.comment.id == comment_id]
        assert [f.reason for f in flags] == ["medical_question"], source
        assert flags[0].comment.author_email == "reader@example.org"
        # A flag id the worker skipped over is found again through its gap.
        again = await source.flags(10**12, [(flags[0].id, flags[0].id)], 100)
        assert [f.id for f in again] == [flags[0].id], source


@needs_site
async def test_the_rest_source_returns_the_same_comments_as_the_database(
    site: Site, db_source: WordPressSource, rest_source: WordPressRestSource
) -> None:
    ids = [await post_comment(site, unique_text(f"Same everywhere {n}")) for n in range(3)]
    await moderate(site, ids[0], status="approved")
    await moderate(site, ids[1], status="spam")

    from_db = [c for c in await db_source.comments(ids[0] - 1, [], 100) if c.id in ids]
    from_rest = [c for c in await rest_source.comments(ids[0] - 1, [], 100) if c.id in ids]

    assert [c.status for c in from_db] == ["approved", "spam", "pending"]
    assert from_rest == from_db
    assert await rest_source.statuses(ids) == await db_source.statuses(ids)


@needs_site
async def test_statuses_show_a_comment_moved_back_to_pending(
    site: Site, db_source: WordPressSource
) -> None:
    comment_id = await post_comment(site, unique_text("Approved, then held"))
    await moderate(site, comment_id, status="approved")
    assert await db_source.statuses([comment_id, 10**12]) == {comment_id: "approved"}

    await moderate(site, comment_id, status="hold")

    assert await db_source.statuses([comment_id]) == {comment_id: "pending"}


@needs_site
async def test_a_wrong_application_password_is_a_clear_401_without_the_password(
    site: Site,
) -> None:
    wrong = "WrongPassw0rdWrongPassw0"
    source = _rest_source(site, password=wrong)
    try:
        with pytest.raises(SourceError, match="401") as error:
            await source.check()
    finally:
        await source.aclose()

    assert "application password" in str(error.value)
    assert wrong not in str(error.value)
    assert site.app_password not in str(error.value)


@needs_site
async def test_a_url_that_is_not_the_site_is_said_to_have_no_rest_api(site: Site) -> None:
    source = WordPressRestSource(
        f"{site.url}/not-a-site", username=site.admin, app_password=site.app_password
    )
    try:
        with pytest.raises(SourceError, match="no WordPress REST API"):
            await source.check()
    finally:
        await source.aclose()


@needs_site
async def test_check_describes_both_sources(
    db_source: WordPressSource, rest_source: WordPressRestSource
) -> None:
    assert "WordPress database" in await db_source.check()
    assert "WordPress REST API" in await rest_source.check()
