"""``/metrics`` and ``/healthz`` over HTTP, served from the service's own event loop.

A few dozen lines of asyncio instead of a web framework: two read-only GET
routes, one request per connection.  Serving from the loop (rather than
prometheus_client's thread) lets a scrape read the outbox through the service's
own async engine, and a loop that is stuck stops answering, which is itself a
signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from notifier.errors import ConfigError
from notifier.ops import metrics
from notifier.ops.address import parse_address
from notifier.ops.monitor import MONITOR

log = logging.getLogger(__name__)

# A scrape must not wait long on a slow state store: report it as down instead.
REFRESH_TIMEOUT = 5.0
_REQUEST_TIMEOUT = 10.0
_MAX_HEADER_LINES = 100

Refresh = Callable[[], Awaitable[None]]


class OpsServer:
    """The HTTP endpoint; ``refresh`` updates the outbox gauges before each scrape."""

    def __init__(self, address: str, refresh: Refresh) -> None:
        self._host, self._port = parse_address(address)
        self._refresh = refresh
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def start(self) -> str:
        try:
            self._server = await asyncio.start_server(self._handle, self._host, self._port)
        except OSError as exc:
            raise ConfigError(
                [f"NOTIFIER_HTTP_ADDRESS: cannot listen on {self._host}:{self._port}: {exc}"]
            ) from exc
        log.info(
            "serving /metrics and /healthz on http://%s",
            self.address,
            extra={"action": "http_listening", "address": self.address},
        )
        return self.address

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_REQUEST_TIMEOUT):
                method, path = await self._read_request(reader)
                status, content_type, body = await self._route(method, path)
                head = (
                    f"HTTP/1.1 {status.value} {status.phrase}\r\n"
                    f"Content-Type: {content_type}\r\n"
                    f"Content-Length: {len(body)}\r\n"
                    "Cache-Control: no-store\r\n"
                    "Connection: close\r\n\r\n"
                )
                writer.write(head.encode("ascii") + (b"" if method == "HEAD" else body))
                await writer.drain()
        except (TimeoutError, ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass  # a client that hangs up or talks nonsense gets nothing more
        except Exception:
            log.exception("HTTP request failed", extra={"action": "http_error"})
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
        request_line = (await reader.readline()).decode("latin-1").split()
        if len(request_line) != 3:
            raise ValueError("bad request line")
        for _ in range(_MAX_HEADER_LINES):
            if (await reader.readline()) in (b"\r\n", b"\n", b""):
                break
        method, target, _version = request_line
        return method, target.split("?", 1)[0]

    async def _route(self, method: str, path: str) -> tuple[HTTPStatus, str, bytes]:
        if method not in ("GET", "HEAD"):
            return HTTPStatus.METHOD_NOT_ALLOWED, "text/plain", b"GET only\n"
        if path == "/metrics":
            await self._refresh_gauges()
            return HTTPStatus.OK, metrics.CONTENT_TYPE, metrics.exposition()
        if path in ("/healthz", "/health"):
            healthy, details = MONITOR.health()
            body = json.dumps(details, indent=1).encode() + b"\n"
            status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
            return status, "application/json", body
        return HTTPStatus.NOT_FOUND, "text/plain", b"try /metrics or /healthz\n"

    async def _refresh_gauges(self) -> None:
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT):
                await self._refresh()
        except Exception as exc:  # the scrape still answers: with the store marked down
            metrics.STATE_STORE_UP.set(0)
            log.debug("outbox gauges not refreshed: %s", exc, extra={"action": "metrics_refresh"})
        else:
            metrics.STATE_STORE_UP.set(1)
