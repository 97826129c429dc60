"""Shared by the ECC call checks: send a request, then wait for the event it should cause.

Not a check itself (no ID): :class:`CallSteps` drives one call through ECC requests and judges
the events of that call as they arrive. A missing event, an event out of order or one that
arrived before the request that should cause it is a :class:`StepFailed` (the check's FAIL).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ecc_doctor.config.ecc import EccConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.errors import CheckError, ProbeError
from ecc_doctor.models import Result, Status
from ecc_doctor.probes.ecc_events import EventReceiver, EventRecord, Subscription
from ecc_doctor.probes.ecc_rest import EccHttpError, EccRest, EccUnavailable, connection_call_id
from ecc_doctor.secrets import redact

#: time kept free at the end of a check that waited for a station: cleanup runs in it and the
#: check reports the wait itself before the runner cuts it off with a bare "timed out"
MARGIN_S = 1.0


@dataclass
class _Station:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holder: str = ""


_STATIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Station]] = (
    weakref.WeakKeyDictionary()
)


@dataclass
class StationWait:
    """The time a check waited for stations another ECC check was using."""

    waits: list[tuple[str, str, float]] = field(default_factory=list)  # station, holder, s

    def describe(self) -> str:
        return "; ".join(
            f"waited {seconds:.1f} s for station {number} (held by {holder})"
            for number, holder, seconds in self.waits
        )

    def details(self) -> list[str]:
        if not self.waits:
            return []
        return [
            f"{self.describe()}: ECC checks that share a station take turns (give "
            "ecc.trunk-established its own station with ecc.trunk_extension)"
        ]


def _advice(ctx: CheckContext) -> str:
    return (
        "give the ECC checks separate stations (ecc.trunk_extension) or this check a longer "
        f'time limit (timeouts.checks."{ctx.check_id}" or --timeout)'
    )


@contextlib.asynccontextmanager
async def stations(ctx: CheckContext, *numbers: str) -> AsyncIterator[StationWait]:
    """Hold the stations a test call uses: concurrent ECC checks never ring the same phone.

    A check that had to wait for a station reports how long and for whom: in its result's
    details, or, when the wait leaves too little of its time limit, as its ERROR (raised
    :data:`MARGIN_S` before the runner's own time-out, so the cleanup still fits).
    """
    table = _STATIONS.setdefault(asyncio.get_running_loop(), {})
    wait = StationWait()
    async with contextlib.AsyncExitStack() as stack:
        for number in sorted(set(numbers)):  # one global order: no deadlock
            station = table.setdefault(number, _Station())
            await _acquire(ctx, number, station, wait)
            stack.callback(_release, station)
        if not wait.waits:
            yield wait
            return
        limit = asyncio.timeout(max(ctx.remaining() - MARGIN_S, 0.0))
        try:
            async with limit:
                yield wait
        except TimeoutError:
            if not limit.expired():
                raise
            raise CheckError(
                f"{wait.describe()}, then ran out of its {ctx.timeout_s:g} s time limit: "
                f"{_advice(ctx)}"
            ) from None


#: a station acquired later than this (s) counts as a wait, even if it looked free: a freed
#: lock can still have a woken waiter ahead of us (asyncio.Lock is fair)
WAIT_S = 0.005


async def _acquire(ctx: CheckContext, number: str, station: _Station, wait: StationWait) -> None:
    holder = station.holder or "another check"
    held = station.lock.locked()
    t0 = time.monotonic()
    try:
        async with asyncio.timeout(max(ctx.remaining() - MARGIN_S, 0.0)):
            await station.lock.acquire()
    except TimeoutError:
        raise CheckError(
            f"waited {time.monotonic() - t0:.1f} s for station {number} (held by {holder}) "
            f"until this check's {ctx.timeout_s:g} s time limit ran out: {_advice(ctx)}"
        ) from None
    waited = time.monotonic() - t0
    if held or waited > WAIT_S:
        wait.waits.append((number, holder, waited))
    station.holder = ctx.check_id


def _release(station: _Station) -> None:
    station.holder = ""
    station.lock.release()


def _concerns(event: EventRecord, party: str) -> bool:
    """Does *event* report *party* ('' : any party)?"""
    return not party or event.address == party or party in event.alerting


_CALLED_KEYS = ("to", "called", "calledParty", "calledDevice", "originalCalledParticipant")
_CALLING_KEYS = ("from", "calling", "callingParty", "callingDevice", "originalCallingParticipant")


def _number(text: str) -> str:
    """A party as a comparable number: ``tel:``/``sip:`` and ``@host`` removed, digits only
    (the text itself if it has no digits)."""
    text = text.strip()
    if text.lower().startswith(("tel:", "sip:", "sips:")):
        text = text.split(":", 1)[1]
    text = text.split("@", 1)[0]
    return "".join(ch for ch in text if ch.isdigit()) or text


def _field(data: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = data.get(key)
        if isinstance(value, dict):
            value = value.get("address") or value.get("number")
        if isinstance(value, (str, int)) and str(value):
            return str(value)
    return ""


def call_has_party(call: dict[str, Any], a: str, b: str) -> bool:
    """Does a call (GET call's answer) look like *a* calling *b*? With a called party
    (``to``, ``originalCalledParticipant``, ...) it must be *b* (and a calling party, if
    given, *a*); without one, *b* must be among its participants or connections."""
    called, calling = _field(call, _CALLED_KEYS), _field(call, _CALLING_KEYS)
    if called:
        return _number(called) == _number(b) and (not calling or _number(calling) == _number(a))
    parties: set[str] = set()
    for key in ("participants", "connections"):
        items = call.get(key)
        for item in items if isinstance(items, list) else []:
            party = _field(item, ("address", "number")) if isinstance(item, dict) else item
            if isinstance(party, (str, int)) and str(party):
                parties.add(_number(str(party)))
    return _number(b) in parties


#: calls the ECC checks of this process placed and could not drop: (ECC base URL, calling
#: station) -> {call id: "A -> B"}. A later run at that station drops them before its own call.
_LEFT_UP: dict[tuple[str, str], dict[str, str]] = {}

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def _reason(exc: ProbeError) -> str:
    """*exc*'s message without the ``METHOD https://host/path: `` an ECC REST error starts with."""
    text = exc.message
    method, _, rest = text.partition(" ")
    if method in _METHODS and ": " in rest:
        return rest.split(": ", 1)[1]
    return text


def _short(exc: ProbeError) -> str:
    """A few words for *exc*: ``HTTP 503`` for an unavailable service, else its reason."""
    if isinstance(exc, EccUnavailable):
        return f"HTTP {exc.status}, service unavailable"
    return _reason(exc)


class StepFailed(Exception):
    """A step's expected event did not come (or came wrong): ``summary`` is the FAIL line."""

    def __init__(self, summary: str, step: str, *, timed_out: bool = False) -> None:
        super().__init__(summary)
        self.summary = summary
        self.step = step
        self.timed_out = timed_out


@dataclass
class StepRecord:
    name: str
    request: str
    expected: str
    got: str = ""
    latency_ms: float | None = None


@dataclass
class CallSteps:
    """One call's life as the check sees it: requests sent, events matched, latencies."""

    cfg: EccConfig
    rest: EccRest
    receiver: EventReceiver
    sub: Subscription
    call_id: str = ""
    state: str = ""
    ended: bool = False
    last: EventRecord | None = None
    steps: list[StepRecord] = field(default_factory=list)
    dialled: tuple[str, str] | None = None  # (from, to) once Make Call was sent
    dialled_at: float = 0.0
    calls_before: set[str] | None = None  # the caller's calls before Make Call (None: unknown)
    leftovers: list[str] = field(default_factory=list)  # what the cleanup could not undo
    notes: list[str] = field(default_factory=list)  # detail lines: diagnostics, calls dropped
    call_left_up: bool = False  # a call this check placed may still be up
    busy: list[str] = field(default_factory=list)  # calls at the caller before ours, not ours

    @property
    def known(self) -> set[str]:
        c = self.cfg
        return {c.event_alerting, c.event_active, c.event_held, *c.event_ended}

    def start(self) -> None:
        """Ignore every event received before this call's first request."""
        self.receiver.seek(self.receiver.mark())

    async def snapshot_calls(self, address: str) -> None:
        """Note the calls *address* has before Make Call, so that :meth:`cleanup` can tell
        the calls that appear afterwards. Await it before :meth:`run` starts the step's clock:
        it is a REST round trip of its own. Unknown (``None``) when ECC cannot list them."""
        self.calls_before = await self._calls_at(address)
        if self.calls_before is None:
            self.rest.transcript.note(
                f"calls of {address} before Make Call unknown: a failed Make Call is cleaned up "
                "by its events only"
            )
            return
        mine = _LEFT_UP.get((self.cfg.base_url, address), {})
        for gone in set(mine) - self.calls_before:  # ended meanwhile
            mine.pop(gone)
        ours = self.calls_before & set(mine)
        for call_id in sorted(ours):
            await self._drop_left_up(address, call_id, mine)
        self.busy = sorted(self.calls_before - ours)
        if self.busy:
            self.notes.append(
                f"station {address} already had call(s) {', '.join(self.busy)} up before the "
                "test call: not placed by this run of ecc-doctor, so left alone (a call an "
                "earlier run could not drop, or someone using the test station?)"
            )

    async def _drop_left_up(self, address: str, call_id: str, mine: dict[str, str]) -> None:
        """Drop *call_id*, a call an earlier run of this process placed at *address* and could
        not drop (it is in :data:`_LEFT_UP`); say so in the details."""
        what = f"call {call_id} ({mine[call_id]})"
        failure = await self._bounded_drop(call_id, self._item_s)
        if failure:
            self.call_left_up = True
            self.leftovers.append(
                f"{what}, left up by an earlier run, is still up at {address}: drop failed "
                f"again: {failure}"
            )
            return
        mine.pop(call_id)
        self.notes.append(
            f"dropped {what} at {address} before the test call: an earlier run of this check "
            "had placed it and could not drop it"
        )

    async def make_call(self, from_: str, to: str) -> None:
        """Make Call *from_* -> *to*. If it fails (no answer in time, no callID, cancelled),
        ECC may still have created the call: :meth:`cleanup` then looks for it and drops it."""
        self.dialled, self.dialled_at = (from_, to), time.monotonic()
        self.call_id = (await self.rest.make_call(from_, to)).call_id

    async def _calls_at(self, address: str) -> set[str] | None:
        """The ids of the calls ECC lists for *address* (``None``: ECC cannot tell)."""
        try:
            conns = await self.rest.connections_of(address)
        except ProbeError as exc:  # not monitored, no answer in time, not shaped connections[]
            self.rest.transcript.note(f"cannot list the calls of {address}: {exc}")
            return None
        return {cid for c in conns if (cid := connection_call_id(c))}

    async def run(
        self,
        name: str,
        request: str,
        send: Callable[[], Awaitable[Any]],
        expected: set[str],
        *,
        timeout: float | None = None,
        party: str = "",
    ) -> EventRecord:
        """Send *request* and wait for one of the *expected* events of this call (that
        concerns *party*, when given: it is the event's address or one of its alerting
        participants)."""
        record = StepRecord(name, request, "/".join(sorted(expected)))
        self.steps.append(record)
        sent_at = time.monotonic()
        await send()
        event = await self.wait(
            name, expected, sent_at, timeout or self.cfg.event_timeout, party=party
        )
        record.got = event.describe()
        record.latency_ms = round((event.received_at - sent_at) * 1000, 3)
        return event

    async def wait(
        self, name: str, expected: set[str], sent_at: float, timeout: float, *, party: str = ""
    ) -> EventRecord:
        deadline = sent_at + timeout
        while True:
            left = deadline - time.monotonic()
            event = await self.receiver.next_event(self._ours, left)
            if event is None:
                raise await self._timed_out(name, expected, sent_at, party)
            self._judge(name, expected, event, sent_at)
            if event.type in expected and _concerns(event, party):
                return event

    def links_at(self, address: str) -> EventRecord | None:
        """The newest event of this call at *address* that carries links (a connectionHref
        or operations): where ECC says the connection's actions go (EccRest.action)."""
        for event in reversed(self.receiver.events):
            if (
                event.call_id == self.call_id
                and event.address == address
                and (event.connection_href or event.operations)
            ):
                return event
        return None

    def _ours(self, event: EventRecord) -> bool:
        return bool(self.call_id) and event.call_id == self.call_id

    def _judge(self, name: str, expected: set[str], event: EventRecord, sent_at: float) -> None:
        self.last = event
        want = "/".join(sorted(expected))
        if event.out_of_order:
            raise StepFailed(
                f"step {name}: events out of order: {event.describe()} was published before an "
                f"event already delivered for this call (expected {want} next)",
                name,
            )
        if event.type in expected:
            if event.received_at < sent_at:
                raise StepFailed(
                    f"step {name}: {event.describe()} arrived before the {name} request was "
                    "sent (stale or out-of-order event)",
                    name,
                )
            self.state = event.type
            self.ended = event.type in self.cfg.event_ended
            return
        if event.type == self.state or event.type not in self.known:
            return  # another party's copy of the current state, or an event type we do not judge
        raise StepFailed(
            f"step {name}: expected {want} for call {self.call_id}, got {event.describe()} "
            "(out of order)",
            name,
        )

    async def _timed_out(
        self, name: str, expected: set[str], sent_at: float, party: str = ""
    ) -> StepFailed:
        waited = time.monotonic() - sent_at
        want = "/".join(sorted(expected))
        try:
            lost = await self.sub.ensure()
        except ProbeError as exc:  # the step failed first: name it; the diagnostic is a detail
            self.notes.append(
                f"after step {name} got no {want} event, checking the event subscription "
                f"failed: {exc.message}"
            )
            raise ProbeError(
                f"step {name}: no {want} event for call {self.call_id or '?'} within "
                f"{waited:.1f} s; ECC then stopped answering ({_short(exc)}; see details)"
            ) from exc
        if lost:
            raise ProbeError(
                f"step {name}: the Eventing Connector had lost our subscription (ECC/Breeze "
                "service restart?); subscribed again, run the check again"
            )
        last = self.last.describe() if self.last else "none"
        extra = ""
        rx = self.receiver
        if rx.unreadable:
            extra = f"; {rx.unreadable} deliveries unreadable (last: {rx.last_unreadable})"
        return StepFailed(
            f"step {name}: no {want} event for call {self.call_id or '?'}"
            f"{f' concerning {party}' if party else ''} within {waited:.1f} s "
            f"(last event seen for this call: {last}){extra}",
            name,
            timed_out=True,
        )

    @property
    def _item_s(self) -> float:
        """The time one cleanup request may take: its own time limit, and a little more."""
        return float(self.rest.timeout) + 1.0

    def cleanup_limit(self) -> float:
        """An upper bound of :meth:`cleanup`'s time (for :func:`shielded`)."""
        return 5 * self._item_s + 1.0

    async def cleanup(self) -> None:
        """Drop the call if it may still be up (a call already gone is fine), then delete the
        subscription. Each is bounded in time and tried even if the other failed; what could
        not be undone goes to :attr:`leftovers` (never raised).

        Without a call id (Make Call failed or was cut short) only the calls tied to this Make
        Call are dropped (see :meth:`_strays`); any other call at the caller is left up.
        """
        try:
            await self._drop_ours()
        finally:
            await self._delete_subscription()

    def _dialled(self) -> str:
        return f"{self.dialled[0]} -> {self.dialled[1]}" if self.dialled else "?"

    async def _drop_ours(self) -> None:
        if self.ended or self.dialled is None:
            return
        a, b = self.dialled
        if self.call_id:
            failure = await self._bounded_drop(self.call_id, self._item_s)
            if failure:
                self._left_up(self.call_id, failure)
            self.ended = True
            return
        log = self.rest.transcript
        try:
            async with asyncio.timeout(3 * self._item_s):
                strays = await self._strays(a, b)
        except TimeoutError:
            self.call_left_up = True
            self.leftovers.append(
                f"Make Call {a} -> {b} may have left a call up: ECC did not list the calls of "
                f"{a} within {3 * self._item_s:g} s to find it"
            )
            return
        for call_id in strays:
            failure = await self._bounded_drop(call_id, self._item_s)
            if failure:
                self._left_up(call_id, failure)
            else:
                log.note(
                    f"Make Call {a}->{b} failed, but ECC had created call {call_id}: dropped call"
                )

    def _left_up(self, call_id: str, failure: str) -> None:
        """Record that this check's call *call_id* may still be up (its drop failed)."""
        self.call_left_up = True
        self.leftovers.append(
            f"call {call_id} ({self._dialled()}) may still be up: drop failed: {failure}"
        )
        if self.dialled is not None:
            key = (self.cfg.base_url, self.dialled[0])
            _LEFT_UP.setdefault(key, {})[call_id] = self._dialled()

    async def _bounded_drop(self, call_id: str, limit: float) -> str:
        """Drop *call_id* within *limit* s: '' if done (or already gone), else why not."""
        try:
            async with asyncio.timeout(limit):
                await self._drop(call_id)
        except ProbeError as exc:
            return _reason(exc)
        except TimeoutError:
            return f"no answer within {limit:g} s"
        return ""

    async def _delete_subscription(self) -> None:
        sub_id = self.sub.id
        if not sub_id:
            return
        try:
            async with asyncio.timeout(self._item_s):
                await self.sub.delete()  # clears sub.id: the session teardown does not repeat it
            return
        except ProbeError as exc:
            failure = _reason(exc)
        except TimeoutError:
            self.sub.id = ""
            failure = f"no answer within {self._item_s:g} s"
        self.leftovers.append(
            f"subscription {sub_id} may be left on Breeze: delete failed: {failure}"
        )

    async def _drop(self, call_id: str) -> None:
        try:
            await self.rest.drop_call(call_id)
        except EccHttpError as exc:
            if exc.status not in (404, 410):
                raise

    async def _strays(self, a: str, b: str) -> list[str]:
        """The calls this failed Make Call *a* -> *b* may have created. Only calls tied to it:
        its events since Make Call was sent name *a* calling *b*; or a call that *a* has now but
        did not have before it has *b* as a party (*b*'s connections list it, for a station;
        GET call names *b* as the called party or a participant, for a trunk number). Other
        new calls at *a* (someone calling in meanwhile) are left up, and the transcript says
        so."""
        found = [
            e.call_id
            for e in list(self.receiver.events)
            if e.call_id and e.received_at >= self.dialled_at and (e.calling, e.called) == (a, b)
        ]
        found = list(dict.fromkeys(found))
        if self.calls_before is None:
            return found
        listed = await self._calls_at(a)
        if listed is None:
            self.call_left_up = True
            self.leftovers.append(
                f"Make Call {a} -> {b} may have left a call up: ECC did not list the calls of "
                f"{a} to find it"
            )
        now = listed or set()
        new = [cid for cid in sorted(now - self.calls_before) if cid not in found]
        if not new:
            return found
        at_b = await self._calls_at(b)  # None for a trunk number: ECC does not monitor it
        for cid in new:
            if await self._has_party(cid, a, b, at_b):
                found.append(cid)
            else:
                self.rest.transcript.note(
                    f"call {cid} appeared at {a} while Make Call {a}->{b} was pending, but "
                    f"nothing ties it to that Make Call ({b} is not a party): not ours, left up"
                )
        return found

    async def _has_party(self, call_id: str, a: str, b: str, at_b: set[str] | None) -> bool:
        """Is *b* the called party of *call_id* (or, without a direction, a participant)?"""
        if at_b is not None and call_id in at_b:
            return True
        try:
            call = await self.rest.get_call(call_id)
        except ProbeError as exc:
            self.rest.transcript.note(f"cannot read call {call_id}: {exc}")
            return False
        return call_has_party(call, a, b)

    def finish(self, result: Result) -> Result:
        """*result* with what :meth:`snapshot_calls` and :meth:`cleanup` found: their lines in
        the details; what the cleanup could not undo also in the summary (first, if the check
        otherwise passed); WARN at least when something is left behind or the station already
        carried a call."""
        details = (*result.details, *self.notes, *self.leftovers)
        status, summary = result.status, result.summary
        if self.leftovers:
            left = "; ".join(self.leftovers)
            if status in (Status.PASS, Status.SKIP, Status.WARN):
                summary = f"{left}; otherwise: {summary}"
                status = Status.worst([status, Status.WARN])
            else:
                summary = f"{summary}; cleanup: {left}"
        elif self.busy and status is Status.PASS:
            status = Status.WARN
            summary = (
                f"station already had call(s) {', '.join(self.busy)} before the test call "
                f"(left alone, see details); otherwise: {summary}"
            )
        return result.replace(
            status=status,
            summary=redact(" ".join(summary.split())),
            details=tuple(redact(d) for d in details),
        )

    def latencies(self) -> dict[str, float]:
        return {f"step.{s.name}_ms": s.latency_ms for s in self.steps if s.latency_ms is not None}

    def slow_steps(self) -> list[StepRecord]:
        budget = self.cfg.event_budget_ms
        return [s for s in self.steps if s.latency_ms is not None and s.latency_ms > budget]

    def table_rows(self) -> list[tuple[str, ...]]:
        return [
            (
                s.name,
                s.request,
                s.expected,
                s.got or "-",
                "-" if s.latency_ms is None else f"{s.latency_ms:.0f} ms",
            )
            for s in self.steps
        ]
