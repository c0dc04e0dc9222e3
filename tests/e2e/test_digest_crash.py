"""The burst guard across a crash: ``notifier run`` killed in the middle of a burst."""

from __future__ import annotations

import asyncio
import re
import signal
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from notifier.demo.sink import SmtpSink
from notifier.errors import StateError
from notifier.sources.native import comments
from notifier.state import Outbox
from tests.e2e.test_crash import Worker, until
from tests.helpers import MODERATOR, Blog, environment_for

pytestmark = pytest.mark.slow

TOKEN = re.compile(r"\bT(\d{4})X\b")


async def read_position(state_url: str) -> int:
    outbox = Outbox(state_url)
    try:
        cursor = await outbox.load_cursor("comments")
    except StateError:  # not created yet
        return 0
    finally:
        await outbox.aclose()
    return cursor.position if cursor else 0


async def test_a_worker_killed_mid_burst_mails_every_comment_exactly_once(
    tmp_path: Path, sqlite_state: str
) -> None:
    total = 400
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    now = datetime.now(UTC).replace(tzinfo=None)
    async with blog.engine.begin() as conn:
        await conn.execute(
            insert(comments),
            [
                {
                    "post_id": blog.post_id,
                    "author_name": f"Reader {n}",
                    "author_email": f"reader{n}@example.net",
                    "body": f"Lovely post, thanks! T{n:04d}X",
                    "status": "pending",
                    "created_at": now,
                }
                for n in range(total)
            ],
        )
    await blog.aclose()
    async with SmtpSink() as server:
        env = environment_for(
            server,
            blog.url,
            sqlite_state,
            poll_interval="0.1",
            batch_size="10",  # forty enqueueing transactions: the kill lands between some
            digest_after="5",
            digest_window="2",
            triage="off",
        )
        first = await Worker(env, tmp_path / "notifier.log").start()
        try:
            for _ in range(3000):
                if await read_position(sqlite_state) >= 120:
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the first worker never read 120 comments")
            code, _ = await first.stop(signal.SIGKILL)
            assert code == -signal.SIGKILL
            at_kill = await read_position(sqlite_state), len(server.received)
        finally:
            await first.aclose()

        second = await Worker(env, tmp_path / "notifier.log").start()
        try:

            def listed() -> set[int]:
                return {int(t) for r in server.received for t in TOKEN.findall(r.data.decode())}

            await until(lambda: len(listed()) >= total, 60, "every comment in some email")
            code, _ = await second.stop(signal.SIGTERM)
            assert code == 0
        finally:
            await second.aclose()

    print(f"\nSIGKILL after reading {at_kill[0]} of {total} comments, {at_kill[1]} emails")
    # A message on the wire at the kill may arrive twice (same Message-ID): count
    # each message once, then each comment must be in exactly one of them.
    distinct = {str(r.message["Message-ID"]): r.message for r in server.received}
    seen: Counter[int] = Counter()
    for message in distinct.values():
        assert MODERATOR in str(message["To"])
        body = message.get_body(("plain",))
        assert body is not None
        seen.update(int(t) for t in TOKEN.findall(str(body.get_content())))
    assert set(seen) == set(range(total))
    assert set(seen.values()) == {1}, "a comment was in two emails"
    assert any("Digest" in str(m["Subject"]) for m in distinct.values())
