"""``notifier run`` as a real process whose stderr a test can wait on, and a tiny HTTP client."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import Blog

PYTHON = [sys.executable, "-m", "notifier"]


def base_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    env.update(extra)
    return env


class ServiceProcess:
    """``async with ServiceProcess(env) as service:``; stopped with SIGTERM at the end."""

    def __init__(self, env: dict[str, str], *, cwd: Path | None = None) -> None:
        self.env = env
        self.cwd = cwd
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.returncode: int | None = None

    async def __aenter__(self) -> ServiceProcess:
        self.process = await asyncio.create_subprocess_exec(
            *PYTHON,
            "run",
            env=base_env(self.env),
            cwd=self.cwd,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := await self.process.stderr.readline():
            async with self._changed:
                self.lines.append(line.decode().rstrip("\n"))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_line(self, match: Callable[[str], bool], timeout: float = 30) -> str:
        """The first stderr line for which ``match`` is true (waiting for it)."""

        async def find() -> str:
            async with self._changed:
                while True:
                    for line in self.lines:
                        if match(line):
                            return line
                    if self._reader is not None and self._reader.done():
                        raise AssertionError("process ended:\n" + "\n".join(self.lines))
                    await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)

    async def json_line(self, action: str, timeout: float = 30) -> dict[str, Any]:
        line = await self.wait_for_line(lambda s: f'"action": "{action}"' in s, timeout)
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    async def stop(self, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        self.returncode = await asyncio.wait_for(self.process.wait(), timeout)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, timeout)
        return self.returncode

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.stop()
        finally:
            if self.process is not None and self.process.returncode is None:
                self.process.kill()
                await self.process.wait()


async def http_get(address: str, path: str) -> tuple[int, bytes]:
    """GET http://address/path: (status, body)."""
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"http://{address}{path}")
    return response.status_code, response.content


async def notifier(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    """Run one ``notifier`` command: (exit status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *PYTHON,
        *args,
        env=base_env(env),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def sqlite_blog(tmp_path: Path) -> AsyncIterator[Blog]:
    """A blog on SQLite only: these tests are about the process, not the comment store."""
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    yield blog
    await blog.aclose()
