"""Latency: a comment's INSERT to the SMTP server's 250 for its notification.

``notifier run`` runs as a subprocess with NOTIFIER_POLL_INTERVAL=1 against an
aiosmtpd sink in this process; the blog inserts 10 comments a second, each
with a token in its body, and the sink notes when it answers 250 for the
message that carries the token.  Both clocks are this process's monotonic one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import Envelope, Session

from bench.common import (
    BODY,
    PYTHON,
    ROOT,
    Figure,
    Section,
    median,
    notifier_env,
    percentile,
    remove,
    seed_sqlite,
    sqlite_url,
)
from notifier.demo.sink import RecordingHandler, SmtpSink

RATE = 10  # comments per second
TOKEN = re.compile(r"bench-token-(\d+)")


class StampingHandler(RecordingHandler):
    """Notes, per token, when the 250 goes out."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.answered: dict[int, float] = {}
        self.expected = expected
        self.all_in = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        text = str(body.get_content()) if body is not None else ""
        found = TOKEN.search(text)
        if found:
            self.answered.setdefault(int(found.group(1)), time.monotonic())
            if len(self.answered) >= self.expected:
                self.all_in.set()
        return "250 OK queued"


def _insert(path: Path, token: int) -> float:
    """Insert one comment as the blog would; returns when its commit returned."""
    db = sqlite3.connect(path, timeout=30)
    try:
        with db:
            db.execute(
                "INSERT INTO comments (post_id, author_name, author_email, body, status, "
                "created_at) VALUES (1, ?, ?, ?, 'pending', ?)",
                (
                    f"Reader {token}",
                    f"reader{token}@example.net",
                    f"{BODY} bench-token-{token}",
                    datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "),
                ),
            )
        return time.monotonic()
    finally:
        db.close()


async def _wait_for_line(stream: asyncio.StreamReader, needle: str, log: list[bytes]) -> None:
    while True:
        line = await stream.readline()
        if not line:
            raise RuntimeError("notifier run exited before it started")
        log.append(line)
        if needle.encode() in line:
            return


async def _drain(stream: asyncio.StreamReader, log: list[bytes]) -> None:
    while line := await stream.readline():
        log.append(line)


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


async def run(quick: bool, work: Path) -> Section:
    seconds = 10 if quick else 30
    section = Section("latency")
    store = work / "lat-source.db"
    state = work / "lat-state.db"
    remove(work, state.name + "*")
    # A store with some history, which `run` (START_FROM=now) does not mail.
    await seed_sqlite(store, 1_000, flags_every=0)
    count = seconds * RATE
    handler = StampingHandler(count)
    inserted: dict[int, float] = {}
    async with SmtpSink(handler) as sink:
        env = {
            **os.environ,
            **notifier_env(
                sqlite_url(store), sqlite_url(state), sink.port, start_from="now", poll_interval="1"
            ),
        }
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "notifier",
            "run",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        log: list[bytes] = []
        drain: asyncio.Task[None] | None = None
        try:
            await asyncio.wait_for(_wait_for_line(process.stderr, "notifier running", log), 30)
            drain = asyncio.create_task(_drain(process.stderr, log))
            start = time.monotonic()
            for token in range(count):
                await asyncio.sleep(max(0.0, start + token / RATE - time.monotonic()))
                inserted[token] = await asyncio.to_thread(_insert, store, token)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(handler.all_in.wait(), 15)
        finally:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 40)
            if drain is not None:
                await drain
            _write(work / "latency.log", log)
    delays = [(handler.answered[t] - inserted[t]) * 1000 for t in inserted if t in handler.answered]
    missing = len(inserted) - len(delays)
    if not delays:
        raise RuntimeError("no notification arrived")
    med, p99 = median(delays), percentile(delays, 99)
    section.figures.append(
        Figure(
            "latency insert → 250, median (poll every 1 s)",
            f"{med:,.0f} ms",
            "1,000 ms poll",
            med / 1000,
            "(info)",
            None,
        )
    )
    section.figures.append(
        Figure(
            "latency insert → 250, p99 (poll every 1 s)",
            f"{p99:,.0f} ms",
            "1,000 ms poll",
            p99 / 1000,
            "(info)",
            None,
            note=f"{missing} missing" if missing else "",
        )
    )
    section.details.append(
        f"`notifier run`, NOTIFIER_POLL_INTERVAL=1, SQLite store (WAL) and state; "
        f"{len(inserted)} comments at {RATE}/s over {seconds} s; {len(delays)} arrived, "
        f"{missing} missing. Median {med:,.0f} ms, p90 {percentile(delays, 90):,.0f} ms, "
        f"p99 {p99:,.0f} ms, max {max(delays):,.0f} ms, min {min(delays):,.0f} ms."
    )
    return section
