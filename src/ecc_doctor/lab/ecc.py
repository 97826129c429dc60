"""Lab emulator of Avaya Breeze with the ECC snap-in and the Eventing Connector (HTTPS).

REST paths follow PROTOCOLS.md section 1: ``/services/EngagementCallControl/`` (calls,
addresses/{a}/connections, calls/{c}/connections/{conn}?action=..., connections/{conn}?action=)
and ``/services/EventingConnector/subscriptions``. Requests need the lab client certificate
(mTLS) and the Bearer token. Faults:

* ``ecc-restart``: the snap-ins restart: calls and subscriptions are lost, every
  ``/services/`` request answers 503 until healed;
* ``ecc-no-established-on-trunk``: the app note 2.2 observation: the far end of a trunk call
  answers but no ACTIVE event is published;
* ``ecc-slow-events``: every delivery is delayed beyond the lab's latency budget;
* ``ecc-auth``: every request is refused with 401;
* ``ecc-duplicate-events``, ``ecc-out-of-order-events``, ``ecc-foreign-events``,
  ``ecc-garbage-events``: delivery oddities (each event twice; a stale ACTIVE after HELD;
  events of another call in between; non-JSON bodies only).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections import deque
from typing import Any
from urllib.parse import parse_qs, unquote

from ecc_doctor.lab.base import LabEnv, SiteLinks
from ecc_doctor.lab.ecc_calls import Call, CallError, CallModel
from ecc_doctor.lab.ecc_efc import EventingConnector, SubscriptionError
from ecc_doctor.probes.http_server import InLoopServer, Receive, Scope, Send

ECC = "/services/EngagementCallControl"
EFC = "/services/EventingConnector"
EXTENSIONS = ("3301", "3302", "3303", "3304")
TRUNK_NUMBER = "912025550123"

_MODES = {
    "ecc-duplicate-events": "duplicate",
    "ecc-out-of-order-events": "late",
    "ecc-foreign-events": "foreign",
    "ecc-garbage-events": "garbage",
}


class Reply(Exception):
    """Answer the current request with *status* and a JSON *body*."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class EccEmulator:
    """Breeze + ECC + Eventing Connector on 127.0.0.1 (HTTPS, lab CA, mTLS + Bearer)."""

    name = "ecc"
    faults: tuple[str, ...] = (
        "ecc-restart",
        "ecc-no-established-on-trunk",
        "ecc-slow-events",
        "ecc-auth",
        *_MODES,
    )

    def __init__(
        self,
        *,
        budget_ms: float = 1000.0,
        slow_delay: float = 1.5,
        trunk_answer_delay: float = 0.2,
        make_call_delay: float = 0.0,
        alert_caller_only: bool = False,
        connections_delay: float = 0.0,
        connections_missing: bool = False,
        make_call_events: bool = True,
        action_forms: tuple[str, ...] = ("calls", "connections"),
        subscribe_delay: float = 0.0,
    ) -> None:
        """*trunk_answer_delay*: seconds until the trunk's far end answers; *make_call_delay*:
        seconds the Make Call answer is held back after the call was created (and rings);
        *alert_caller_only*: the ALERTING event of a station call reports only the caller;
        *connections_delay*: seconds every Get Connections By Address answer is held back;
        *connections_missing*: Get Connections By Address answers 404 (an ECC without it);
        *make_call_events*: False publishes no event for calls placed by Make Call (they
        still ring); *action_forms*: which forms of the connection resource take
        ``?action=`` ("calls": calls/{callId}/connections/{id}, the public demo's;
        "connections": connections/{id}, what the events link to); the other answers 404."""
        self.budget_ms = budget_ms
        self.slow_delay = slow_delay
        self.trunk_answer_delay = trunk_answer_delay
        self.make_call_delay = make_call_delay
        self.alert_caller_only = alert_caller_only
        self.connections_delay = connections_delay
        self.connections_missing = connections_missing
        self.make_call_events = make_call_events
        self.action_forms = frozenset(action_forms)
        #: seconds the answer to a new subscription is held back (it exists already)
        self.subscribe_delay = subscribe_delay
        #: (form, action, status) of the latest connection-action requests, for tests
        self.action_log: deque[tuple[str, str, int]] = deque(maxlen=256)
        self._silent: set[str] = set()  # calls whose events are not published
        self._closing = asyncio.Event()  # set while the server stops: delayed answers go now
        self.active: set[str] = set()
        self.requests = 0
        self._token = ""
        self._server: InLoopServer | None = None
        self._efc: EventingConnector | None = None
        self._model = CallModel("", EXTENSIONS, TRUNK_NUMBER)
        self._model.alert_caller_only = alert_caller_only
        self._timers: set[asyncio.Task[None]] = set()
        self._links = SiteLinks()  # the lab's, from start(): is CM reachable through AES?

    # -- Emulator protocol ------------------------------------------------------------------
    async def start(self, env: LabEnv) -> dict[str, Any]:
        self._links = env.links
        self._token, token_ref = env.secret("ecc-token")
        ctx = env.ca.server_context("ecc-breeze", require_client=True)
        self._server = InLoopServer(self._app, env.host, 0, ssl_context=ctx, what="lab ECC")
        port = await self._server.start()
        base = f"https://{env.host}:{port}"
        self._model.base = base + ECC
        self._efc = EventingConnector(env.ca.ca_file)
        cert, key = env.ca.issue("ecc-client", client=True)
        cb_cert, cb_key = env.ca.issue("ecc-callback")
        return {
            "ecc": {
                "base_url": base,
                "ca_file": str(env.ca.ca_file),
                "client_cert": str(cert),
                "client_key": str(key),
                "token": token_ref,
                "extension_a": EXTENSIONS[0],
                "extension_b": EXTENSIONS[1],
                "trunk_number": TRUNK_NUMBER,
                "trunk_extension": EXTENSIONS[2],
                "callback_host": env.host,
                "callback_port": 0,
                "callback_tls": True,
                "callback_cert": str(cb_cert),
                "callback_key": str(cb_key),
                "event_timeout": 3.0,
                "event_budget_ms": self.budget_ms,
                "validation_timeout": 3.0,
                "trunk_answer_timeout": max(1.0, self.trunk_answer_delay * 5),
            }
        }

    async def stop(self) -> None:
        self._closing.set()
        await self._drop_all()
        if self._efc is not None:
            await self._efc.close()
        if self._server is not None:
            await self._server.stop()

    async def set_fault(self, fault: str, active: bool) -> None:
        if fault not in self.faults:
            raise KeyError(fault)
        (self.active.add if active else self.active.discard)(fault)
        efc = self._require_efc()
        if fault == "ecc-restart" and active:
            await self._drop_all()
            await efc.clear()
        efc.slow_delay = self.slow_delay if "ecc-slow-events" in self.active else 0.0
        efc.modes = {mode for name, mode in _MODES.items() if name in self.active}

    async def set_network(self, up: bool) -> None:
        if self._server is None:
            return
        self._require_efc().online = up
        if up:
            self._closing.clear()
            await self._server.start()
        else:
            self._closing.set()
            await self._server.stop()

    def status(self) -> dict[str, Any]:
        efc = self._efc
        return {
            "active_calls": len(self._model.calls),
            "subscriptions": len(efc.subscriptions) if efc else 0,
            "deliveries": efc.deliveries if efc else 0,
            "delivery_failures": efc.failures if efc else 0,
            "validations": efc.validations if efc else 0,
            "requests": self.requests,
        }

    # -- helpers ----------------------------------------------------------------------------
    def _require_efc(self) -> EventingConnector:
        if self._efc is None:
            raise RuntimeError("the ECC emulator is not started")
        return self._efc

    async def _drop_all(self) -> None:
        for task in list(self._timers):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._model.clear()

    def _publish(self, events: list[dict[str, Any]]) -> None:
        efc = self._require_efc()
        for body in events:
            if body.get("callID") not in self._silent:
                efc.publish(body)

    def _start_trunk_timer(self, call: Call) -> None:
        async def answer_later() -> None:
            await asyncio.sleep(self.trunk_answer_delay)
            if call.id not in self._model.calls:
                return
            self._model.far_end_answers(call)
            if "ecc-no-established-on-trunk" not in self.active:
                self._publish(
                    [self._model.event(call, "ACTIVE", call.calling, conn=call.connections[0])]
                )

        task = asyncio.create_task(answer_later(), name=f"lab-trunk-{call.id}")
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _hold_back(self, seconds: float) -> None:
        """Delay an answer by *seconds*; cut short (not cancelled) when the server stops, so
        uvicorn has no cancelled handler to report."""
        if seconds > 0 and not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    # -- calls the lab places itself (someone else phoning) ---------------------------------
    def place_call(self, from_: str, to: str) -> str:
        """A call *from_* -> *to* that no ECC client asked for (it rings, events published):
        returns its id."""
        call, events = self._model.make_call(from_, to)
        self._publish(events)
        return call.id

    def call_up(self, call_id: str) -> bool:
        return call_id in self._model.calls

    def hang_up(self, call_id: str) -> None:
        """End a call from the lab's side (a call already gone is fine)."""
        call = self._model.calls.get(call_id)
        if call is not None:
            self._publish(self._model.drop(call))

    # -- HTTP -------------------------------------------------------------------------------
    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.requests += 1
        try:
            body = await _read(receive)
            status, payload = await self._route(scope, body)
        except Reply as reply:
            status, payload = reply.status, reply.body
        except (CallError, SubscriptionError) as exc:
            status, payload = exc.status, {"message": exc.message}
        if isinstance(payload, str):
            data, kind = payload.encode(), b"text/html; charset=utf-8"
        else:
            data, kind = (
                (b"" if payload is None else json.dumps(payload).encode()),
                b"application/json",
            )
        headers = [(b"content-type", kind), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    def _authorize(self, scope: Scope) -> None:
        if "ecc-auth" in self.active:
            raise Reply(
                401, {"message": "Unauthorized: token not accepted by the Authorization Service"}
            )
        headers = dict(scope["headers"])
        given = headers.get(b"authorization", b"").decode("latin-1")
        if not hmac.compare_digest(given.encode(), f"Bearer {self._token}".encode()):
            raise Reply(401, {"message": "Unauthorized: Bearer token missing or invalid"})

    async def _route(self, scope: Scope, body: bytes) -> tuple[int, Any]:
        path = unquote(scope["path"]).rstrip("/")
        if not path.startswith("/services/"):
            return 200, "<html><head><title>Avaya Breeze</title></head><body>Log in</body></html>"
        self._authorize(scope)
        if "ecc-restart" in self.active:
            raise Reply(503, {"message": "Service Unavailable: snap-in is restarting"})
        method = scope["method"]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if path.startswith(EFC):
            return await self._eventing(method, path[len(EFC) :], _json(body))
        if path.startswith(ECC):
            parts = path[len(ECC) :].strip("/").split("/")
            if _is_connections(method, parts):
                await self._hold_back(self.connections_delay)
            answer = self._ecc(method, parts, query, body)
            if method == "POST" and parts == ["calls"]:
                await self._hold_back(self.make_call_delay)  # the call exists and rings already
            return answer
        raise Reply(404, {"message": f"no service at {path}"})

    async def _eventing(self, method: str, rest: str, data: Any) -> tuple[int, Any]:
        efc = self._require_efc()
        parts = rest.strip("/").split("/")
        if parts == ["subscriptions"] and method == "POST":
            created = await efc.subscribe(data)
            await self._hold_back(self.subscribe_delay)
            return 200, {"subscriptionId": created.id, "additionalProperties": {}}
        if len(parts) == 2 and parts[0] == "subscriptions":
            sub = efc.subscriptions.get(parts[1])
            if sub is None:
                raise Reply(404, {"message": f"subscription {parts[1]} not found"})
            if method == "GET":
                return 200, sub.to_json()
            if method == "DELETE":
                await efc.unsubscribe(sub.id)
                return 200, None
        raise Reply(405 if parts[0] == "subscriptions" else 404, {"message": "not supported"})

    def _ecc(
        self, method: str, parts: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        model = self._model
        action = (query.get("action") or [""])[0]
        if not self._links.cm_reachable() and (
            (parts == ["calls"] and method == "POST")
            or (method == "POST" and action)
            or _is_connections(method, parts)
        ):
            # ECC does call control and connection queries through AES (PROTOCOLS.md 1.2)
            raise Reply(
                503,
                {
                    "message": "Communication Manager cannot be reached through AE Services "
                    "(AES is restarting or its CTI link is down)"
                },
            )
        if parts == ["calls"] and method == "POST":
            data = _json(body)
            if not isinstance(data, dict) or not {"from", "to"} <= data.keys():
                raise Reply(400, {"message": "MakeCall needs a JSON object with 'from' and 'to'"})
            call, events = model.make_call(str(data["from"]), str(data["to"]))
            if not self.make_call_events:
                self._silent.add(call.id)
            self._publish(events)
            if call.trunk:
                self._start_trunk_timer(call)
            return 200, {"callID": call.id, "statusUrl": f"{model.base}/calls/{call.id}"}
        if len(parts) == 2 and parts[0] == "calls":
            call = model.find(parts[1])
            if method == "GET":
                return 200, call.to_json(model.base)
            if method in ("DELETE", "POST"):
                self._publish(model.drop(call))
                return 200, None
        if _is_connections(method, parts):
            if self.connections_missing:
                raise Reply(404, {"message": "no ECC resource for Get Connections By Address"})
            return 200, {"connections": model.connections_of(parts[1])}
        if method == "POST" and action:
            if parts[0] not in self.action_forms:
                self.action_log.append((parts[0], action, 404))
                raise Reply(404, {"message": "no such resource"})
            self.action_log.append((parts[0], action, 200))
            if len(parts) == 4 and parts[0] == "calls" and parts[2] == "connections":
                call = model.find(parts[1])
                conn = call.connection(parts[3])
            elif len(parts) == 2 and parts[0] == "connections":
                call, conn = model.find_connection(parts[1])
            else:
                raise Reply(404, {"message": "no such resource"})
            self._publish(model.action(call, conn, action))
            return 200, None
        raise Reply(404, {"message": f"no ECC resource {'/'.join(parts)} for {method}"})


def _is_connections(method: str, parts: list[str]) -> bool:
    """Is this Get Connections By Address (GET addresses/{a}/connections)?"""
    return (
        method == "GET"
        and len(parts) == 3
        and parts[0] == "addresses"
        and parts[2] == "connections"
    )


async def _read(receive: Receive, limit: int = 1 << 20) -> bytes:
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Reply(413, {"message": "request too large"})
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    return b"".join(chunks)


def _json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Reply(400, {"message": f"request body is not JSON: {exc}"}) from exc
