"""The shipped systemd unit, checked by systemd's own tools, and sd_notify from a real run."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from notifier.demo.sink import SmtpSink
from tests.e2e.service_process import ServiceProcess, sqlite_blog
from tests.helpers import Blog, environment_for

ROOT = Path(__file__).parents[2]
UNIT = ROOT / "contrib" / "notifier.service"
SHIPPED_EXEC = "/opt/notifier/.venv/bin/notifier"

# The unit the README used to show: systemd rejects its trailing comments.
OLD_README_UNIT = """\
[Unit]
Description=notifier: blog comment notifications

[Service]
User=notifier
EnvironmentFile=/etc/notifier/env        # NOTIFIER_* lines; chmod 600
ExecStart=/bin/true run
Restart=on-failure
TimeoutStopSec=60                        # more than NOTIFIER_SHUTDOWN_TIMEOUT
"""

blog = pytest.fixture(sqlite_blog, name="blog")


def _systemd_analyze() -> str:
    """systemd-analyze, installed with apt-get if missing; a skip only where that cannot be."""
    found = shutil.which("systemd-analyze")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "systemd"]):
            subprocess.run(command, env=env, capture_output=True, timeout=600, check=False)
        found = shutil.which("systemd-analyze")
    if found is None:
        reason = "systemd-analyze is not installed and apt-get could not install it"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def _verify(analyze: str, unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [analyze, "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_shipped_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = _systemd_analyze()
    text = UNIT.read_text()
    assert f"ExecStart={SHIPPED_EXEC} run" in text
    for wanted in (
        "Type=notify",
        "WatchdogSec=",
        "StateDirectory=notifier",
        "DynamicUser=yes",
        "WorkingDirectory=/var/lib/notifier",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "LoadCredential=smtp_password:",
        "NOTIFIER_SMTP_PASSWORD_FILE=",
        "Restart=always",
        "StartLimitIntervalSec=0",
    ):
        assert wanted in text, wanted
    assert "ExecStartPre" not in text  # a relay down at boot must not fail the start
    # verify checks that ExecStart exists: point it at a program this machine has.
    unit = tmp_path / "notifier.service"
    unit.write_text(text.replace(SHIPPED_EXEC, shutil.which("true") or "/bin/true"))
    result = _verify(analyze, unit)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # not even a warning


def test_systemd_analyze_rejects_the_units_old_trailing_comments(tmp_path: Path) -> None:
    """The check above can fail: the README's old unit draws warnings."""
    analyze = _systemd_analyze()
    unit = tmp_path / "notifier.service"
    unit.write_text(OLD_README_UNIT)
    result = _verify(analyze, unit)
    assert "Failed to parse" in result.stderr


async def _messages(sock: socket.socket, want: str, seen: list[str], timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        while not any(want in m for m in seen):
            seen.append((await loop.sock_recv(sock, 4096)).decode())


async def test_run_tells_systemd_ready_watchdog_and_stopping(
    blog: Blog, smtp: SmtpSink, sqlite_state: str, tmp_path: Path
) -> None:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    seen: list[str] = []
    try:
        env = environment_for(smtp, blog.url, sqlite_state, poll_interval="0.3")
        env["NOTIFY_SOCKET"] = str(path)
        env["WATCHDOG_USEC"] = "400000"
        async with ServiceProcess(env) as service:
            await _messages(sock, "READY=1", seen)
            await _messages(sock, "WATCHDOG=1", seen)
            await service.stop()
            await _messages(sock, "STOPPING=1", seen)
        assert service.returncode == 0
    finally:
        sock.close()
    ready = next(i for i, m in enumerate(seen) if "READY=1" in m)
    stopping = next(i for i, m in enumerate(seen) if "STOPPING=1" in m)
    assert ready < stopping
    assert any("WATCHDOG=1" in m for m in seen[ready:stopping])
