"""Unit tests are pure: a test here that opens a network connection or a server fails."""

from __future__ import annotations

import socket
from typing import Any

import pytest


def _refuse(self: socket.socket, *args: Any) -> None:
    raise AssertionError("a unit test must not use the network: move it to tests/integration")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket.socket, "bind", _refuse)
