"""A TCP proxy in front of PostgreSQL that counts the statements its clients execute, read off the wire protocol
(Query and Execute messages): what a process asks the database, observed from outside the process. Clients must
connect with `sslmode=disable` (the proxy reads the protocol in clear).

    with PgCounter(upstream_port=5432) as pg:   # pg.port: point DATABASE_URL at it
        ...
        pg.statements  # executed so far
"""

from __future__ import annotations

import asyncio
import struct
import threading

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104


class PgCounter:
    def __init__(self, *, upstream_host: str = "127.0.0.1", upstream_port: int = 5432):
        self.upstream = (upstream_host, upstream_port)
        self.statements = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="pg-counter", daemon=True)
        self._writers: set = set()

    def __enter__(self) -> PgCounter:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _close(self) -> None:
        self._server.close()
        for writer in list(self._writers):  # PostgreSQL must not keep sessions of ours (a test database is dropped)
            writer.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers |= {writer, up_writer}
        directions = [
            asyncio.create_task(self._count(reader, up_writer)),
            asyncio.create_task(_pipe(up_reader, writer)),
        ]
        await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
        for task in directions:  # one side hung up: so does the other
            task.cancel()
        for w in (writer, up_writer):
            w.close()
            self._writers.discard(w)

    async def _count(self, reader, writer) -> None:
        while True:  # start-up: [length][code] requests until the real start-up message
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            writer.write(head + await reader.readexactly(length - 8))
            await writer.drain()
            if code not in (SSL_REQUEST, GSS_REQUEST):
                break
        while True:
            head = await reader.readexactly(5)
            kind, length = head[:1], struct.unpack("!i", head[1:])[0]
            if kind in (b"Q", b"E"):
                self.statements += 1
            writer.write(head + await reader.readexactly(length - 4))
            await writer.drain()


async def _pipe(reader, writer) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
