"""An asyncio TCP service that can drop off the network and come back on the same port."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class TcpService:
    """``asyncio.start_server`` plus ``down()``/``up()`` for network faults.

    ``down()`` closes the listener and aborts open connections, so clients see resets and
    then refusals; ``up()`` listens again on the port first chosen.
    """

    def __init__(
        self, handler: Handler, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._handler = handler
        self.host = host
        self.port = 0
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client went away or spoke bad TLS: nothing to emulate
        except asyncio.CancelledError:
            # down() (or the lab stopping) ends this connection: end quietly, as asyncio's
            # stream protocol logs a traceback for a connection task that ends cancelled
            pass
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def up(self) -> int:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, self.host, self.port, ssl=self._ssl, reuse_address=True
            )
            self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            transport = writer.transport
            transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if server is not None:
            await server.wait_closed()

    @property
    def connections(self) -> int:
        return len(self._writers)
