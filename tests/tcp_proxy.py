"""A TCP proxy on loopback that a test can cut or hang: a database that fails on cue.

Point a service at ``proxy.port`` instead of the database's port.  ``cut()``
drops every connection and refuses new ones (the server or the network gone);
``hang()`` keeps connections open but carries no byte either way (a server that
stopped answering); ``restore()`` brings it back.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

OPEN, CUT, HUNG = "open", "cut", "hung"


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self.port = 0
        self.mode = OPEN
        self.connections = 0  # accepted since start
        self.held_bytes = 0  # read while hung, not passed on yet
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._drop_all()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def cut(self) -> None:
        """Drop every connection now and refuse new ones until ``restore``."""
        self.mode = CUT
        self._flowing.set()
        self._drop_all()

    def hang(self) -> None:
        """Keep connections (and accept new ones) but carry nothing until ``restore``."""
        self.mode = HUNG
        self._flowing.clear()

    def restore(self) -> None:
        self.mode = OPEN
        self._flowing.set()

    def _drop_all(self) -> None:
        for client, upstream in list(self._pairs):
            for writer in (client, upstream):
                _abort(writer)
        self._pairs.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == CUT:
            _abort(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _abort(writer)
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        pumps = [
            asyncio.ensure_future(self._pump(reader, up_writer)),
            asyncio.ensure_future(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._tasks.difference_update(pumps)
            self._pairs.discard(pair)
            for end in pair:
                _abort(end)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                # A hung proxy holds the bytes it has read; they go on after restore().
                if not self._flowing.is_set():
                    self.held_bytes += len(data)
                    try:
                        await self._flowing.wait()
                    finally:
                        self.held_bytes -= len(data)
                if self.mode == CUT:
                    return
                writer.write(data)
                await writer.drain()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close at once, with a reset: what a dead server or a cut cable looks like."""
    transport = writer.transport
    if not transport.is_closing():
        transport.abort()
