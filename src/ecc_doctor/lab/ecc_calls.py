"""The lab's call model for the ECC emulator: calls, connections and the events they raise.

Event bodies carry the fields of the seed article's examples (callEvent,
originalCallingParticipant, originalCalledParticipant, alertingParticipants, participants,
callID, callHref, connectionId, connectionHref, address, operations).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

ALERTING, ACTIVE, HELD, ENDED, INITIATED = "ALERTING", "ACTIVE", "HELD", "ENDED", "INITIATED"


class CallError(Exception):
    """A request the call model refuses: ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Connection:
    id: str
    address: str
    state: str


@dataclass
class Call:
    id: str
    calling: str
    called: str
    trunk: bool
    state: str = ALERTING
    connections: list[Connection] = field(default_factory=list)

    def connection(self, conn_id: str) -> Connection:
        for conn in self.connections:
            if conn.id == conn_id:
                return conn
        raise CallError(404, f"connection {conn_id} is not part of call {self.id}")

    def to_json(self, base: str) -> dict[str, Any]:
        return {
            "callID": self.id,
            "state": self.state,
            "statusUrl": f"{base}/calls/{self.id}",
            "participants": [c.address for c in self.connections],
            "connections": [
                {"id": c.id, "address": c.address, "state": c.state, "callId": self.id}
                for c in self.connections
            ],
        }


class CallModel:
    """Calls between lab extensions and an external trunk number; every change returns the
    events ECC would publish (bodies only; delivery is the Eventing Connector's job)."""

    def __init__(self, base: str, extensions: tuple[str, ...], trunk_number: str) -> None:
        self.base = base
        self.extensions = extensions
        self.trunk_number = trunk_number
        self.calls: dict[str, Call] = {}
        self.alert_caller_only = False  # ALERTING of a station call names only the caller
        self._ids = itertools.count(1001)

    def clear(self) -> None:
        self.calls.clear()

    def find(self, call_id: str) -> Call:
        call = self.calls.get(call_id)
        if call is None:
            raise CallError(404, f"call {call_id} not found")
        return call

    def find_connection(self, conn_id: str) -> tuple[Call, Connection]:
        for call in self.calls.values():
            for conn in call.connections:
                if conn.id == conn_id:
                    return call, conn
        raise CallError(404, f"connection {conn_id} not found")

    def make_call(self, from_: str, to: str) -> tuple[Call, list[dict[str, Any]]]:
        if from_ not in self.extensions:
            raise CallError(400, f"'from' {from_} is not a monitored station")
        if to not in self.extensions and to != self.trunk_number:
            raise CallError(400, f"'to' {to} cannot be reached")
        if from_ == to:
            raise CallError(400, "'from' and 'to' are the same station")
        n = next(self._ids)
        call = Call(str(n), from_, to, trunk=to == self.trunk_number)
        call.connections = [
            Connection(f"{n}-1", from_, INITIATED),
            Connection(f"{n}-2", to, ALERTING),
        ]
        self.calls[call.id] = call
        if self.alert_caller_only and not call.trunk:
            return call, [self.event(call, ALERTING, from_)]
        watcher = from_ if call.trunk else to
        return call, [self.event(call, ALERTING, watcher, alerting=(to,))]

    def connections_of(self, address: str) -> list[dict[str, Any]]:
        if address not in self.extensions:
            raise CallError(404, f"address {address} is not monitored")
        return [
            {"id": c.id, "callId": call.id, "state": c.state, "address": c.address}
            for call in self.calls.values()
            for c in call.connections
            if c.address == address
        ]

    def far_end_answers(self, call: Call) -> None:
        """The trunk's far end picks up: the call is up whether or not an event says so."""
        call.state = ACTIVE
        for conn in call.connections:
            conn.state = ACTIVE

    def action(self, call: Call, conn: Connection, action: str) -> list[dict[str, Any]]:
        if action == "answer":
            self._need(conn, ALERTING, action)
            for c in call.connections:
                c.state = ACTIVE
            call.state = ACTIVE
            return [self.event(call, ACTIVE, conn.address, conn=conn)]
        if action == "hold":
            self._need(conn, ACTIVE, action)
            conn.state = call.state = HELD
            return [self.event(call, HELD, conn.address, conn=conn)]
        if action == "retrieve":
            self._need(conn, HELD, action)
            conn.state = call.state = ACTIVE
            return [self.event(call, ACTIVE, conn.address, conn=conn)]
        if action == "drop":
            return self.drop(call)
        raise CallError(400, f"unknown action {action!r}")

    @staticmethod
    def _need(conn: Connection, state: str, action: str) -> None:
        if conn.state != state:
            raise CallError(409, f"cannot {action} connection {conn.id} in state {conn.state}")

    def drop(self, call: Call) -> list[dict[str, Any]]:
        self.calls.pop(call.id, None)
        call.state = ENDED
        return [self.event(call, ENDED, call.calling)]

    def event(
        self,
        call: Call,
        kind: str,
        address: str,
        *,
        alerting: tuple[str, ...] = (),
        conn: Connection | None = None,
    ) -> dict[str, Any]:
        """An ECC event body with the seed's fields."""
        call_href = f"{self.base}/calls/{call.id}"
        body: dict[str, Any] = {
            "callEvent": kind,
            "originalCallingParticipant": call.calling,
            "originalCalledParticipant": call.called,
            "participants": [call.calling, call.called],
            "callID": call.id,
            "callHref": call_href,
            "address": address,
        }
        if alerting:
            body["alertingParticipants"] = list(alerting)
        if conn is not None:
            conn_href = f"{self.base}/connections/{conn.id}"
            body["connectionId"] = conn.id
            body["connectionHref"] = conn_href
            body["operations"] = [
                {"endCallHref": call_href},
                {"holdCallHref": f"{conn_href}?action=hold"},
                {"consultCallHref": f"{conn_href}?action=consult"},
            ]
        return body
