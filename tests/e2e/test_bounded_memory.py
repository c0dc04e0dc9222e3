"""Every commenter-written field is cut when it is read, so memory is bounded
whatever the store holds: a batch of 500 comments with 5 MB in every column."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from notifier.demo.sink import SmtpSink
from tests.helpers import MODERATOR, Blog, environment_for, to

pytestmark = pytest.mark.slow

FIVE_MB = 5_000_000
COMMENTS = 500

# The worker's once pass, in a child process that reports its own peak memory.
# The address-space limit makes a regression fail fast (MemoryError) instead of
# swapping the machine: without the cuts this batch would need over 10 GB.
_CHILD = """
import asyncio, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from notifier.settings import load_settings
from notifier.service import run_once
import os
code = asyncio.run(run_once(load_settings(os.environ)))
print(json.dumps({"code": code, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _serve_five_megabytes_in_every_column(path: str) -> None:
    """The store answers every text column of every row with 5 MB.

    The tables become views over the rows the blog wrote, so every reader sees
    5 MB names, addresses, bodies, titles, URLs and flag notes, without the test
    writing 12 GB to disk.
    """
    big = f"hex(zeroblob({FIVE_MB // 2}))"
    with sqlite3.connect(path) as db:
        db.executescript(
            f"""
            ALTER TABLE posts RENAME TO posts_rows;
            ALTER TABLE comments RENAME TO comments_rows;
            ALTER TABLE comment_flags RENAME TO comment_flags_rows;
            CREATE VIEW posts AS SELECT id, {big} AS title, {big} AS url FROM posts_rows;
            CREATE VIEW comments AS SELECT id, post_id, parent_id, {big} AS author_name,
                {big} AS author_email, {big} AS body, status, created_at FROM comments_rows;
            CREATE VIEW comment_flags AS SELECT id, comment_id, reason, {big} AS note,
                {big} AS flagged_by, created_at FROM comment_flags_rows;
            """
        )


@pytest.mark.timeout(400)
async def test_a_batch_of_500_comments_with_5_mb_in_every_column_stays_under_200_mb(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    try:
        for n in range(COMMENTS):
            comment = await blog.comment("x")
            if n % 10 == 0:  # flags read the same way; fewer keep the test short
                await blog.flag(comment, "abuse")
    finally:
        await blog.aclose()
    _serve_five_megabytes_in_every_column(str(tmp_path / "comments.db"))
    env = {
        **os.environ,
        **environment_for(
            smtp, blog.url, f"sqlite:///{tmp_path}/state.db", batch_size="500", triage="off"
        ),
    }

    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await child.communicate()

    assert child.returncode == 0, err.decode()[-2000:]
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert report["code"] == 0, err.decode()[-2000:]
    received = to(smtp.received, MODERATOR)
    assert len(received) == COMMENTS + COMMENTS // 10  # every comment and flag reached them
    assert max(len(r.as_bytes()) for r in received) < 200_000
    assert report["maxrss_kb"] < 200 * 1024, report
