"""ECC event receiver: the HTTP(S) callback the Breeze Eventing Connector pushes events to.

The receiver runs in the check's own asyncio loop (uvicorn, no signal handlers), answers the
Eventing Connector's validation POST with 200, reads JSON and multipart deliveries into
:class:`EventRecord` s, drops duplicates (same ``eventId``), flags events published before one
already received for the same call (out of order), and lets a check wait for "the next event
matching X within T seconds". :class:`Subscription` creates, checks, re-creates and deletes the
Eventing Connector subscription that points at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from ecc_doctor.config.ecc import EccConfig
from ecc_doctor.errors import ConnectError, ProbeError
from ecc_doctor.probes.ecc_event_parse import EventParseError, EventRecord, parse_delivery
from ecc_doctor.probes.ecc_rest import EccRest, load_cert_pair
from ecc_doctor.probes.http_server import InLoopServer, Receive, Scope, Send
from ecc_doctor.transcript import Transcript

MAX_KEPT = 2000
Match = Callable[[EventRecord], bool]

__all__ = [
    "EventReceiver",
    "EventRecord",
    "Subscription",
    "callback_url",
    "event_session",
    "shielded",
]


class EventReceiver:
    """The callback endpoint. ``async with EventReceiver(cfg, transcript) as rx: ...``

    Counters: ``deliveries`` (POSTs), ``duplicates``, ``unreadable`` (with
    ``last_unreadable`` naming why), ``validations``, ``foreign`` (events that name a
    subscription that is not ours: ignored, as anyone who reaches the callback could send
    them; ``ours`` holds our subscription ids, filled by :class:`Subscription`).
    """

    def __init__(self, cfg: EccConfig, transcript: Transcript) -> None:
        self.cfg = cfg
        self.transcript = transcript
        self.path = cfg.callback_path
        self.events: deque[EventRecord] = deque(maxlen=MAX_KEPT)
        self.last_event: EventRecord | None = None
        self.deliveries = 0
        self.duplicates = 0
        self.unreadable = 0
        self.last_unreadable = ""
        self.validations = 0
        self.foreign = 0
        self.ours: set[str] = set()
        self.validated = asyncio.Event()
        self._awaiting_validation = False
        self._seq = 0  # sequence number of the next event stored
        self._cursor = 0  # sequence number of the next event next_event() looks at
        self._seen_ids: deque[str] = deque(maxlen=MAX_KEPT)
        self._newest_ms: dict[str, float] = {}
        self._arrived = asyncio.Condition()
        self._server = InLoopServer(
            self._app,
            cfg.callback_host,
            cfg.callback_port,
            ssl_context=self._ssl_context(),
            what="the ECC event callback",
        )
        self.url = ""

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.cfg.callback_tls:
            return None
        cert, key = self.cfg.callback_cert, self.cfg.callback_key
        if cert is None or key is None:
            raise ConnectError("ecc.callback_tls needs ecc.callback_cert and ecc.callback_key")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        load_cert_pair(ctx, ("callback_cert", cert), ("callback_key", key))
        return ctx

    async def __aenter__(self) -> EventReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> str:
        """Listen; returns the callback URL to give the Eventing Connector."""
        port = await self._server.start()
        async with contextlib.AsyncExitStack() as undo:  # stop serving if no URL
            undo.push_async_callback(self._server.stop)
            self.url = await callback_url(self.cfg, port)
            undo.pop_all()
        self.transcript.note(
            f"event receiver listening on {self.cfg.callback_host}:{port}, callback {self.url}"
        )
        return self.url

    async def stop(self) -> None:
        await self._server.stop()

    # -- waiting ----------------------------------------------------------------------------
    def expect_validation(self) -> None:
        """The next POST, whatever it holds, is the Eventing Connector's validation request."""
        self.validated.clear()
        self._awaiting_validation = True

    def mark(self) -> int:
        """The position after every event received so far (see :meth:`next_event`)."""
        return self._seq

    def seek(self, position: int) -> None:
        self._cursor = position

    async def next_event(self, match: Match, timeout: float) -> EventRecord | None:
        """The next not-yet-examined event that satisfies *match*, or None after *timeout* s.

        Events examined and not matching are passed over (the cursor moves past them).
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        async with self._arrived:
            while True:
                found = self._scan(match)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                try:
                    await asyncio.wait_for(self._arrived.wait(), left)
                except TimeoutError:
                    continue

    def _scan(self, match: Match) -> EventRecord | None:
        first = self._seq - len(self.events)
        self._cursor = max(self._cursor, first)
        while self._cursor < self._seq:
            event = self.events[self._cursor - first]
            self._cursor += 1
            if match(event):
                return event
        return None

    # -- the ASGI app -----------------------------------------------------------------------
    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"].rstrip("/") != self.path.rstrip("/"):
            await _reply(send, 404, b"not an ecc-doctor callback path")
            return
        if scope["method"] != "POST":
            await _reply(send, 405, b"POST only")
            return
        body = await _read_body(receive, self.cfg.max_event_bytes)
        if body is _DISCONNECTED:  # the sender went away mid-body: nobody to answer
            self.transcript.received("a delivery was cut off before its body was complete")
            return
        if body is None:
            self._unreadable(f"delivery larger than {self.cfg.max_event_bytes} bytes")
            await _reply(send, 413, b"too large")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status = await self._deliver(body, headers.get("content-type", ""))
        await _reply(send, status, b"")

    async def _deliver(self, body: bytes, content_type: str) -> int:
        self.deliveries += 1
        if self._awaiting_validation and self._is_delivery(body, content_type):
            # an event of some subscription (one an earlier run could not delete, say) is
            # not the validation of ours: answered 200, not counted as validation (QA 4a F5)
            self.foreign += 1
            self.transcript.received("a delivery of another subscription while ours is validated")
            return 200
        if self._awaiting_validation:
            self._awaiting_validation = False
            self.validations += 1
            self.transcript.received(
                f"validation POST ({len(body)} bytes, {content_type or 'no type'})"
            )
            self.validated.set()
            return 200
        try:
            event = parse_delivery(body, content_type)
        except EventParseError as exc:
            self._unreadable(str(exc))
            return 400
        await self._store(event)
        return 200

    @staticmethod
    def _is_delivery(body: bytes, content_type: str) -> bool:
        """*body* is an event that names a subscription (EFC's deliveries all do; its
        validation POST is dummy data)."""
        try:
            return bool(parse_delivery(body, content_type).subscription_id)
        except EventParseError:
            return False

    def _unreadable(self, reason: str) -> None:
        self.unreadable += 1
        self.last_unreadable = reason
        self.transcript.received(f"unreadable delivery: {reason}")

    async def _store(self, event: EventRecord) -> None:
        # the Eventing Connector names the subscription in every delivery (PROTOCOLS.md 1.4):
        # once we have one, an event that names another, or none, is not ours (anyone who
        # reaches the callback could post it)
        if self.ours and event.subscription_id not in self.ours:
            self.foreign += 1
            named = repr(event.subscription_id) if event.subscription_id else "no subscription"
            self.transcript.received(f"event of {named}, not ours, ignored ({event.describe()})")
            return
        if event.event_id:
            if event.event_id in self._seen_ids:
                self.duplicates += 1
                self.transcript.received(
                    f"duplicate event {event.event_id} ({event.describe()}) ignored"
                )
                return
            self._seen_ids.append(event.event_id)
        stamp = event.published_ms
        if stamp is not None and event.call_id:
            newest = self._newest_ms.get(event.call_id)
            if newest is not None and stamp < newest:
                event = _flag_out_of_order(event)
            else:
                self._newest_ms[event.call_id] = stamp
                if len(self._newest_ms) > MAX_KEPT:  # a busy system: forget the oldest call
                    del self._newest_ms[next(iter(self._newest_ms))]
        flag = " (out of order)" if event.out_of_order else ""
        body = json.dumps(event.raw.get("body", {}), separators=(",", ":"))
        self.transcript.received(f"event {event.describe()}{flag}: {body}")
        async with self._arrived:
            self.events.append(event)
            self._seq += 1
            self.last_event = event
            self._arrived.notify_all()


def _flag_out_of_order(event: EventRecord) -> EventRecord:
    return replace(event, out_of_order=True)


#: what :func:`_read_body` returns when the client disconnected before the body was complete
_DISCONNECTED = b"\0disconnected"


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body; None past *limit*; ``_DISCONNECTED`` when the sender went away."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return _DISCONNECTED
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    return b"".join(chunks)


async def _reply(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


async def callback_url(cfg: EccConfig, port: int) -> str:
    """The URL the Eventing Connector must POST to.

    ``ecc.callback_url`` wins (``{port}`` filled in); otherwise the bind address, or, for a
    wildcard bind, the local address this host uses to reach the Breeze cluster.
    """
    if cfg.callback_url:
        return cfg.callback_url.replace("{port}", str(port))
    host = cfg.callback_host
    if host in _WILDCARDS:
        host = await _local_address_towards(cfg.base_url)
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if cfg.callback_tls else "http"
    return f"{scheme}://{host}:{port}{cfg.callback_path}"


async def _local_address_towards(url: str) -> str:
    """Our source address towards *url*'s host (a UDP connect sends nothing)."""
    parts = urlsplit(url)
    target = parts.hostname or "127.0.0.1"
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(target, parts.port or 443, type=socket.SOCK_DGRAM), 5
        )
        family, _, _, _, addr = infos[0]
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect(addr)
            local = str(sock.getsockname()[0])
    except (OSError, TimeoutError, IndexError) as exc:
        raise ConnectError(
            f"cannot tell which local address Breeze ({target}) reaches us on; set ecc.callback_url"
        ) from exc
    return str(ipaddress.ip_address(local))


class Subscription:
    """An Eventing Connector subscription pointing at *receiver*, re-created when lost.

    ``await sub.create()`` waits for the validation POST; ``await sub.ensure()`` re-subscribes
    if the connector answers 404 for it (e.g. after an ECC/Breeze service restart);
    ``await sub.delete()`` is safe to call more than once.
    """

    def __init__(
        self, rest: EccRest, receiver: EventReceiver, *, validation_timeout: float
    ) -> None:
        self.rest = rest
        self.receiver = receiver
        self.validation_timeout = validation_timeout
        self.id = ""
        self.resubscribed = 0
        #: the subscribe request in flight: a stop (Ctrl-C, SIGTERM, a timeout) does not
        #: cancel it, so that delete() can learn the id Breeze gave and remove it (QA 4a F4)
        self._pending: asyncio.Task[str] | None = None

    async def create(self) -> str:
        self.receiver.expect_validation()
        self._pending = asyncio.ensure_future(self.rest.subscribe(self.receiver.url))
        self._pending.add_done_callback(_retrieved)  # never "exception was never retrieved"
        self.id = await asyncio.shield(self._pending)
        self._pending = None
        self.receiver.ours.add(self.id)
        try:
            await asyncio.wait_for(self.receiver.validated.wait(), self.validation_timeout)
        except TimeoutError:
            with contextlib.suppress(ProbeError):
                await self.delete()
            raise ConnectError(
                f"the Eventing Connector accepted the subscription but its validation POST "
                f"never reached ecc-doctor at {self.receiver.url} within "
                f"{self.validation_timeout:g} s: that URL leads elsewhere (NAT or proxy? set "
                "ecc.callback_url to an address Breeze reaches us on)"
            ) from None
        return self.id

    async def ensure(self) -> bool:
        """True if the subscription had vanished and was created again."""
        if self.id and await self.rest.subscription_exists(self.id):
            return False
        self.receiver.transcript.note(
            f"subscription {self.id or '(none)'} is gone: subscribing again"
        )
        self.id = ""
        await self.create()
        self.resubscribed += 1
        return True

    @property
    def subscribing(self) -> bool:
        """A subscribe request is still on its way (a stop cut create() short)."""
        return self._pending is not None and not self._pending.done()

    async def delete(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not self.id:  # cut short while subscribing: finish it
            try:
                self.id = await asyncio.shield(pending)
            except ProbeError:
                self.id = ""  # refused or lost: nothing was created that we could name
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this delete() itself is being stopped: not a refusal
                self.id = ""
            else:
                self.receiver.transcript.note(
                    f"subscription {self.id} was created while ecc-doctor was stopping: deleting it"
                )
        sub_id, self.id = self.id, ""
        if sub_id:
            try:
                await self.rest.unsubscribe(sub_id)
            except ProbeError as exc:
                self.receiver.transcript.note(
                    f"could not delete subscription {sub_id}: {exc.message}"
                )
                raise


def _retrieved(task: asyncio.Task[str]) -> None:
    """Mark the outcome of a subscribe task as seen (delete() may never await it)."""
    if not task.cancelled():
        task.exception()


async def shielded(coro: Coroutine[Any, Any, None], timeout: float) -> None:
    """Run cleanup *coro* to its end even if the caller is cancelled (bounded by *timeout*).

    A runner timeout cancels the check; the cleanup (drop the call, delete the subscription,
    close the listener) still runs, then the cancellation goes on.
    """
    task = asyncio.ensure_future(asyncio.wait_for(coro, timeout))
    task.add_done_callback(_consume)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await asyncio.wait({task})
        raise
    except (TimeoutError, ProbeError):
        return


def _consume(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()


@asynccontextmanager
async def event_session(
    cfg: EccConfig, rest_log: Transcript, event_log: Transcript, *, timeout: float = 10.0
) -> AsyncIterator[tuple[EccRest, EventReceiver, Subscription]]:
    """Receiver up, REST session open, subscription created and validated; all torn down on
    exit (also on error, timeout or cancellation)."""
    receiver = EventReceiver(cfg, event_log)
    await receiver.start()
    rest = EccRest(cfg, rest_log, timeout=timeout)
    sub = Subscription(rest, receiver, validation_timeout=cfg.validation_timeout)
    try:
        await rest.open()
        await sub.create()
        yield rest, receiver, sub
    finally:
        # 5 s, or, when a stop cut a subscribe request short, long enough for it to come
        # back with its id (the REST timeout), so that the subscription is deleted
        limit = timeout + 5.0 if sub.subscribing else 5.0
        await shielded(_teardown(rest, receiver, sub), limit)


async def _teardown(rest: EccRest, receiver: EventReceiver, sub: Subscription) -> None:
    try:
        with contextlib.suppress(ProbeError):
            await sub.delete()
        await rest.aclose()
    finally:
        await receiver.stop()
