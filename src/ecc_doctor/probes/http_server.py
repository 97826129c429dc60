"""A small HTTP(S) server in the running asyncio loop (uvicorn, no signal handlers).

Used by the ECC event receiver (the callback the Breeze Eventing Connector POSTs to) and by
the lab's ECC emulator. uvicorn's ``Server.serve`` installs SIGINT/SIGTERM handlers and
exits the process when a bind fails; we bind the socket ourselves (so "port in use" is a
clean :class:`ConnectError`) and drive ``startup``/``shutdown`` directly, with signal
capture disabled, so a check and a server can share one loop and one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from typing import Any

import uvicorn

from ecc_doctor.errors import ConnectError
from ecc_doctor.probes.tcp import describe_os_error

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# uvicorn logs "Started server process" and the like: keep them out of a user's console.
logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
# ... and its errors too ("Exception in ASGI application" with a traceback, e.g. for a request
# cut off when the server stops): with no handler of its own, Python's last-resort handler
# would print them on stderr. A program that configures logging still sees them (propagated).
logging.getLogger("uvicorn").addHandler(logging.NullHandler())


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handlers: the embedding program owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind_socket(host: str, port: int, *, what: str = "listener") -> socket.socket:
    """A listening TCP socket on host:port; ConnectError with one line if that fails."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = "port already in use by another program"
        else:
            reason = describe_os_error(exc)
        raise ConnectError(f"cannot open {what} on {host}:{port}: {reason}") from exc
    return sock


class InLoopServer:
    """Serve an ASGI *app* on host:port in the current loop until :meth:`stop`.

    >>> server = InLoopServer(app, "127.0.0.1", 0)           # doctest: +SKIP
    >>> port = await server.start(); ...; await server.stop()
    """

    def __init__(
        self,
        app: AsgiApp,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        what: str = "listener",
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.what = what
        self._server: _QuietServer | None = None
        self._sock: socket.socket | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def _config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self.app,
            http="h11",
            interface="asgi3",
            proxy_headers=False,
            lifespan="off",
            ws="none",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=5,
            h11_max_incomplete_event_size=16 * 1024,
        )

    async def start(self) -> int:
        """Bind and start serving; returns the port (the chosen one when *port* is 0)."""
        if self._server is not None:
            return self.port
        sock = bind_socket(self.host, self.port, what=self.what)
        self.port = sock.getsockname()[1]
        server = _QuietServer(self._config())
        server.config.load()
        # set after load(): works on every uvicorn version (the scheme comes from the transport)
        server.config.ssl = self.ssl_context
        server.lifespan = server.config.lifespan_class(server.config)
        with contextlib.ExitStack() as undo:  # close the socket if startup fails
            undo.callback(sock.close)
            await server.startup(sockets=[sock])
            undo.pop_all()
        self._server, self._sock = server, sock
        return self.port

    async def stop(self) -> None:
        """Stop listening, close connections (bounded wait), release the port."""
        server, self._server = self._server, None
        sock, self._sock = self._sock, None
        if server is None:
            return
        server.should_exit = True
        try:
            for listener in server.servers:
                listener.close()
            state = server.server_state
            for conn in list(state.connections):
                conn.shutdown()
            # idle keep-alive connections close at once; give busy ones a moment, then cut
            for _ in range(25):
                if not state.connections:
                    break
                await asyncio.sleep(0.02)
            for conn in list(state.connections):
                transport = getattr(conn, "transport", None)
                if transport is not None:
                    transport.abort()
            # an aborted connection tells its request "disconnected": let the app end on that
            # (bounded), and cancel only what is still running then
            if state.tasks:
                await asyncio.wait(list(state.tasks), timeout=0.5)
            for task in list(state.tasks):
                task.cancel()
            for listener in server.servers:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(listener.wait_closed(), 1.0)
        finally:
            if sock is not None:
                sock.close()
