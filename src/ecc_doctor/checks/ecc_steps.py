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
from ecc_doctor.errors import ProbeError
from ecc_doctor.probes.ecc_events import EventReceiver, EventRecord, Subscription
from ecc_doctor.probes.ecc_rest import EccHttpError, EccRest

_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def stations(*numbers: str) -> AsyncIterator[None]:
    """Hold the stations a test call uses: concurrent ECC checks never ring the same phone."""
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    async with contextlib.AsyncExitStack() as stack:
        for number in sorted(set(numbers)):  # one global order: no deadlock
            await stack.enter_async_context(locks.setdefault(number, asyncio.Lock()))
        yield


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

    @property
    def known(self) -> set[str]:
        c = self.cfg
        return {c.event_alerting, c.event_active, c.event_held, *c.event_ended}

    def start(self) -> None:
        """Ignore every event received before this call's first request."""
        self.receiver.seek(self.receiver.mark())

    async def run(
        self,
        name: str,
        request: str,
        send: Callable[[], Awaitable[Any]],
        expected: set[str],
        *,
        timeout: float | None = None,
    ) -> EventRecord:
        """Send *request* and wait for one of the *expected* events of this call."""
        record = StepRecord(name, request, "/".join(sorted(expected)))
        self.steps.append(record)
        sent_at = time.monotonic()
        await send()
        event = await self.wait(name, expected, sent_at, timeout or self.cfg.event_timeout)
        record.got = event.describe()
        record.latency_ms = round((event.received_at - sent_at) * 1000, 3)
        return event

    async def wait(
        self, name: str, expected: set[str], sent_at: float, timeout: float
    ) -> EventRecord:
        deadline = sent_at + timeout
        while True:
            left = deadline - time.monotonic()
            event = await self.receiver.next_event(self._ours, left)
            if event is None:
                raise await self._timed_out(name, expected, sent_at)
            self._judge(name, expected, event, sent_at)
            if event.type in expected:
                return event

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

    async def _timed_out(self, name: str, expected: set[str], sent_at: float) -> StepFailed:
        waited = time.monotonic() - sent_at
        if await self.sub.ensure():
            raise ProbeError(
                f"step {name}: the Eventing Connector had lost our subscription (ECC/Breeze "
                "service restart?); subscribed again, run the check again"
            )
        want = "/".join(sorted(expected))
        last = self.last.describe() if self.last else "none"
        extra = ""
        rx = self.receiver
        if rx.unreadable:
            extra = f"; {rx.unreadable} deliveries unreadable (last: {rx.last_unreadable})"
        return StepFailed(
            f"step {name}: no {want} event for call {self.call_id or '?'} within {waited:.1f} s "
            f"(last event seen for this call: {last}){extra}",
            name,
            timed_out=True,
        )

    async def cleanup(self) -> None:
        """Drop the call if it may still be up (a call already gone is fine)."""
        if not self.call_id or self.ended:
            return
        try:
            await self.rest.drop_call(self.call_id)
            self.ended = True
        except EccHttpError as exc:
            if exc.status not in (404, 410):
                raise

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
