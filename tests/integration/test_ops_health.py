"""The health verdict behind /healthz: failing only when a human must act."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from notifier.ops.address import parse_address
from notifier.ops.monitor import Monitor
from notifier.ops.systemd import SystemdNotifier


def test_waiting_on_a_down_relay_is_healthy_until_the_limit() -> None:
    monitor = Monitor(fail_after=600)
    monitor.relay.set("cannot reach the SMTP server", now=1000)
    assert monitor.health(now=1500)[0]
    healthy, details = monitor.health(now=1700)
    assert not healthy
    assert details["reasons"][0].startswith("the SMTP server unreachable failing for 700s")


def test_polls_failing_longer_than_the_limit_are_unhealthy_and_a_success_clears_them() -> None:
    monitor = Monitor(fail_after=60)
    monitor.polls.set("cannot read the comment store", now=100)
    monitor.polls.set("cannot read the comment store again", now=150)  # the streak keeps its start
    assert monitor.health(now=159)[0]
    healthy, details = monitor.health(now=161)
    assert not healthy and "polls failing for 61s" in details["reasons"][0]
    assert details["poll_error"] == "cannot read the comment store again"
    monitor.polls.clear()
    assert monitor.health(now=161)[0]


def test_paused_delivery_is_unhealthy_at_once() -> None:
    monitor = Monitor()
    monitor.paused = "SMTP login refused: 535"
    healthy, details = monitor.health()
    assert not healthy and details["delivery_paused"] == "SMTP login refused: 535"


@pytest.mark.parametrize(
    ("text", "expected"), [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:0", ("::1", 0))]
)
def test_http_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["9464", "localhost", "host:port", "h:70000"])
def test_bad_http_addresses(text: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_address(text)


async def test_the_watchdog_is_fed_only_while_the_work_moves(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.setblocking(False)
        notifier = SystemdNotifier.from_environ(
            {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "20000"}
        )
        moving = [True]
        task = asyncio.ensure_future(notifier.watchdog(lambda: moving[0]))
        loop = asyncio.get_running_loop()
        assert await asyncio.wait_for(loop.sock_recv(sock, 100), 10) == b"WATCHDOG=1"
        moving[0] = False
        await asyncio.sleep(0.05)  # let a ping already sent arrive
        while True:
            try:
                sock.recv(100)
            except BlockingIOError:
                break
        await asyncio.sleep(0.1)  # five intervals without a ping
        with pytest.raises(BlockingIOError):
            sock.recv(100)
        task.cancel()
        notifier.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = SystemdNotifier.from_environ({})
    assert not notifier.enabled and not notifier.notify("READY=1")


async def test_an_http_address_already_in_use_is_a_configuration_error() -> None:
    from notifier.errors import ConfigError
    from notifier.ops.http import OpsServer

    async def nothing() -> None:
        return None

    first = OpsServer("127.0.0.1:0", nothing)
    address = await first.start()
    try:
        with pytest.raises(ConfigError, match=f"NOTIFIER_HTTP_ADDRESS: cannot listen on {address}"):
            await OpsServer(address, nothing).start()
    finally:
        await first.close()
