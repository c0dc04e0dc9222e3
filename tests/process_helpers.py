"""Helpers for tests with real processes: ``notifier run`` in a subprocess, waiting, a busy day."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from notifier.demo.sink import RecordingHandler
from notifier.sources.native import comments
from tests.fault_helpers import message_ids
from tests.helpers import Blog


class Worker:
    """``python -m notifier run`` in a subprocess, its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
        self.env.update(env)
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Worker:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "notifier", "run", env=self.env, stderr=log
            )
        return self

    async def stop(self, sig: signal.Signals, timeout: float = 30) -> tuple[int, float]:
        """Send ``sig``; return the exit status and how long the process took to go."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(sig)
        code = await asyncio.wait_for(self.process.wait(), timeout)
        return code, time.monotonic() - started

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def aclose(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def post_many(blog: Blog, count: int) -> None:
    """``count`` comments in one transaction: the blog's busy day."""
    now = datetime.now(UTC).replace(tzinfo=None)
    async with blog.engine.begin() as conn:
        await conn.execute(
            insert(comments),
            [
                {
                    "post_id": blog.post_id,
                    "author_name": f"Reader {i}",
                    "author_email": f"reader{i}@example.net",
                    "body": f"Comment number {i}",
                    "status": "pending",
                    "created_at": now,
                }
                for i in range(count)
            ],
        )


def every_message(handler: RecordingHandler, total: int) -> bool:
    """Has the server got ``total`` distinct messages?  Counted first: parsing every
    Message-ID fifty times a second would starve the server in this process."""
    return len(handler.received) >= total and len(set(message_ids(handler))) >= total
