"""WordPress sources against a real WordPress site on loopback.

The site comes from scripts/wordpress-setup.sh (see tests/wp_helpers.py).  Each
test posts its own comments with unique text, so tests do not depend on each
other or on what earlier runs left in the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest

from notifier.errors import SourceError
from notifier.models import Comment
from notifier.sources.wordpress_db import WordPressSource
from notifier.sources.wordpress_rest import WordPressRestSource
from tests.wp_helpers import (
    FLAG_KEYS,
    MEDICAL_KEY,
    THRESHOLD,
    Site,
    moderate,
    post_comment,
    unique_text,
)

_Test = TypeVar("_Test", bound=Callable[..., Any])


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
