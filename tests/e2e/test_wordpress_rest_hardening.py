"""The REST source against the real WordPress site: a huge id gap and an oversized
comment, through the worker's once pass into a real SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from notifier.db import create_engine
from notifier.demo.sink import SmtpSink
from notifier.service import run_once
from tests.e2e.test_wordpress_e2e import wordpress_settings
from tests.helpers import MODERATOR, parts, to
from tests.wp_helpers import Site, post_comment, unique_text

pytestmark = [pytest.mark.wordpress, pytest.mark.timeout(600)]

GAP = 100_000


class Rows:
    """Comments written straight into the site's database (ids and sizes a browser
    cannot choose), removed afterwards with the table's counter put back."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.engine = create_engine(site.db_url)
        self.ids: list[int] = []
        self.table = f"{site.table_prefix}comments"

    async def insert(self, comment_id: int, body: str, author: str = "Direct") -> int:
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    f"INSERT INTO {self.table} (comment_ID, comment_post_ID, comment_author,"
                    " comment_author_email, comment_author_url, comment_author_IP, comment_date,"
                    " comment_date_gmt, comment_content, comment_karma, comment_approved,"
                    " comment_agent, comment_type, comment_parent, user_id) VALUES (:id, :post,"
                    " :author, 'direct@example.org', '', '', :now, :now, :body, 0, '0', '',"
                    " 'comment', 0, 0)"
                ),
                {
                    "id": comment_id,
                    "post": self.site.post_id,
                    "author": author,
                    "now": now,
                    "body": body,
                },
            )
        self.ids.append(comment_id)
        return comment_id

    async def aclose(self) -> None:
        async with self.engine.begin() as conn:
            for comment_id in self.ids:
                await conn.execute(
                    text(f"DELETE FROM {self.table} WHERE comment_ID = :id"), {"id": comment_id}
                )
            # Back to max(id)+1, so other tests' comments get ordinary ids again.
            await conn.execute(text(f"ALTER TABLE {self.table} AUTO_INCREMENT = 1"))
        await self.engine.dispose()


@pytest.fixture
async def rows(site: Site) -> AsyncIterator[Rows]:
    direct = Rows(site)
    yield direct
    await direct.aclose()


async def test_a_huge_gap_in_comment_ids_cannot_stall_the_cursor(
    site: Site, smtp: SmtpSink, tmp_path: Path, rows: Rows
) -> None:
    settings = wordpress_settings(smtp, site, f"sqlite:///{tmp_path}/state.db", rest=True)
    assert await run_once(settings) == 0  # the cursor starts at the site's head
    labels = [unique_text(f"before the gap {n}") for n in range(3)]
    ids = [await post_comment(site, label) for label in labels]
    after_gap = unique_text("after the gap")
    await rows.insert(ids[-1] + GAP, after_gap)

    assert await run_once(settings) == 0

    texts = [parts(m)[0] for m in to(smtp.received, MODERATOR)]
    for label in [*labels, after_gap]:
        assert sum(label in t for t in texts) == 1, label


async def test_a_comment_too_large_to_read_is_still_reported_and_the_rest_flow_on(
    site: Site, smtp: SmtpSink, tmp_path: Path, rows: Rows
) -> None:
    settings = wordpress_settings(
        smtp,
        site,
        f"sqlite:///{tmp_path}/state.db",
        rest=True,
        rest_max_response_bytes="100000",
    )
    assert await run_once(settings) == 0
    before = await post_comment(site, unique_text("before the huge one"))
    huge_marker = unique_text("huge")
    # 60 KB (WordPress's TEXT column holds 64 KB), sent twice (raw and rendered).
    await rows.insert(before + 1, huge_marker + " pills" * 10_000)
    after = unique_text("after the huge one")
    await post_comment(site, after)

    assert await run_once(settings) == 0

    texts = [parts(m)[0] for m in to(smtp.received, MODERATOR)]
    assert len(texts) == 3
    [huge] = [t for t in texts if "could not read this comment's text" in t]
    assert huge_marker not in huge and "pills" not in huge
    assert any(after in t for t in texts)
