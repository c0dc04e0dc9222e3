"""``NOTIFIER_HTTP_ADDRESS``: host and port, checked when the settings are read."""

from __future__ import annotations


def parse_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) into its parts, or raise ValueError."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("must be host:port, e.g. 127.0.0.1:9464")
    return host.strip("[]"), int(port)
