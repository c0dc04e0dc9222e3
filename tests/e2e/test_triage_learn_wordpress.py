"""`notifier triage learn` against the real WordPress: the site's flags teach the worker.

The site's history (comments and ``medical_question`` meta, as moderators left them) is
written into WordPress's own tables; learning and the worker run as real processes;
the proof is what the InfoLine mailbox receives.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import bindparam, text

from notifier.db import create_engine
from notifier.demo.sink import SmtpSink
from notifier.triage import triage
from tests.helpers import INFOLINE, environment_for, parts, to
from tests.learn_helpers import NEW_REPORT, chit_chat, line_reports
from tests.wp_helpers import FLAG_KEYS, MEDICAL_KEY, THRESHOLD, Site, post_comment

pytestmark = [pytest.mark.wordpress, pytest.mark.slow, pytest.mark.timeout(600)]

INSERT_COMMENT = """
INSERT INTO {p}comments (comment_post_ID, comment_author, comment_author_email,
  comment_author_url, comment_author_IP, comment_date, comment_date_gmt, comment_content,
  comment_karma, comment_approved, comment_agent, comment_type, comment_parent, user_id)
VALUES (:post, :author, 'reader@example.org', '', '127.0.0.1', :at, :at, :body, 0, '1',
  'notifier tests', 'comment', 0, 0)
"""
INSERT_META = "INSERT INTO {p}commentmeta (comment_id, meta_key, meta_value) VALUES (:c, :k, '1')"


async def seed_history(site: Site, questions: int, others: int) -> list[int]:
    """Approved comments; the line reports flagged medical_question by a moderator."""
    engine = create_engine(site.db_url)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    p = site.table_prefix
    ids = []
    try:
        async with engine.begin() as conn:
            for body, flagged in [(b, True) for b in line_reports(questions)] + [
                (b, False) for b in chit_chat(others)
            ]:
                result = await conn.execute(
                    text(INSERT_COMMENT.format(p=p)),
                    {"post": site.post_id, "author": "Reader", "at": now, "body": body},
                )
                ids.append(result.lastrowid)
                if flagged:
                    await conn.execute(
                        text(INSERT_META.format(p=p)), {"c": result.lastrowid, "k": MEDICAL_KEY}
                    )
    finally:
        await engine.dispose()
    return ids


@pytest.fixture
async def history(site: Site) -> AsyncIterator[list[int]]:
    """Ids of the comments a test adds to the shared site; deleted with their meta after it."""
    ids: list[int] = []
    yield ids
    engine = create_engine(site.db_url)
    p = site.table_prefix
    try:
        async with engine.begin() as conn:
            for table, column in (("commentmeta", "comment_id"), ("comments", "comment_ID")):
                await conn.execute(
                    text(f"DELETE FROM {p}{table} WHERE {column} IN :ids").bindparams(
                        bindparam("ids", expanding=True)
                    ),
                    {"ids": ids or [0]},
                )
    finally:
        await engine.dispose()


def wordpress_env(smtp: SmtpSink, site: Site, state: str, *, rest: bool = False) -> dict[str, str]:
    source = (
        {
            "source_kind": "wordpress-rest",
            "wp_username": site.admin,
            "wp_app_password": site.app_password,
        }
        if rest
        else {"source_kind": "wordpress"}
    )
    env = environment_for(
        smtp,
        site.url if rest else site.db_url,
        state,
        site_url=site.url,
        start_from="now",
        wp_flag_meta_keys=",".join(FLAG_KEYS),
        wp_flag_threshold=str(THRESHOLD),
        wp_medical_meta_key=MEDICAL_KEY,
        log_level="INFO",
        **source,
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    return base | env


async def notifier(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "notifier",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_learn_from_the_sites_flags_then_the_worker_forwards_what_they_taught(
    site: Site, smtp: SmtpSink, tmp_path: Path, history: list[int]
) -> None:
    state = f"sqlite:///{tmp_path}/state.db"
    env = wordpress_env(smtp, site, state)
    code, _, err = await notifier("once", env=env)  # first start: history is not mailed
    assert code == 0, err
    history.extend(await seed_history(site, 40, 40))

    code, out, err = await notifier("triage", "learn", env=env)
    assert code == 0, err
    assert "flagged medical_question" in out and "saved as site model" in out
    assert "site model:    precision" in out

    body = NEW_REPORT + f" (Ward {os.getpid() % 100})"  # WordPress refuses duplicates
    assert not triage(body).medical_question  # the shipped model alone would not forward it
    history.append(await post_comment(site, body, author="Maria", email="maria@example.org"))
    code, _, err = await notifier("once", env=env)
    assert code == 0, err
    assert "triage uses site model" in err

    [forward] = [m for m in to(smtp.received, INFOLINE) if "PICC line is oozing" in parts(m)[0]]
    text_part = parts(forward)[0]
    assert "automatic triage" in text_part
    assert re.search(r"^Language: +English\r?$", text_part, re.M)
    assert forward["Reply-To"].addresses[0].addr_spec == "maria@example.org"


async def test_learn_reads_the_same_history_through_the_rest_api(
    site: Site, smtp: SmtpSink, tmp_path: Path, history: list[int]
) -> None:
    history.extend(await seed_history(site, 25, 25))
    by_db = await notifier(
        "triage", "learn", env=wordpress_env(smtp, site, f"sqlite:///{tmp_path}/db.db")
    )
    by_rest = await notifier(
        "triage", "learn", env=wordpress_env(smtp, site, f"sqlite:///{tmp_path}/rest.db", rest=True)
    )
    assert by_db[0] == 0, by_db[2]
    assert by_rest[0] == 0, by_rest[2]
    # Both read the same labelled comments ("read N labelled comments: ...").
    assert by_db[1].splitlines()[0] == by_rest[1].splitlines()[0]
