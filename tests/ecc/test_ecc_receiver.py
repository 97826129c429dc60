"""The event receiver on its own: HTTP answers, counters, waiting, de-duplication, re-subscription."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator

import httpx
import pytest

from ecc_doctor.config.ecc import EccConfig
from ecc_doctor.lab import Lab
from ecc_doctor.probes.ecc_events import EventReceiver, callback_url, event_session
from ecc_doctor.transcript import Transcript

pytestmark = pytest.mark.anyio


def plain_config(**changes: object) -> EccConfig:
    base: dict[str, object] = {
        "base_url": "https://127.0.0.1:1",
        "callback_host": "127.0.0.1",
        "max_event_bytes": 2048,
    }
    base.update(changes)
    return EccConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
async def receiver() -> AsyncIterator[EventReceiver]:
    async with EventReceiver(plain_config(), Transcript("events")) as rx:
        yield rx


def event(kind: str, call: str = "17", event_id: str = "", stamp: int | None = None) -> bytes:
    envelope: dict[str, object] = {"type": kind, "eventBody": {"callEvent": kind, "callID": call}}
    if event_id:
        envelope["eventId"] = event_id
    if stamp is not None:
        envelope["publicationTimestamp"] = stamp
    return json.dumps(envelope).encode()


async def post(rx: EventReceiver, body: bytes, path: str = "/ecc-doctor/events", **kw: str) -> int:
    async with httpx.AsyncClient() as client:
        resp = await client.post(
            rx.url.replace("/ecc-doctor/events", path), content=body, headers=kw or None
        )
        return resp.status_code


async def test_http_answers(receiver: EventReceiver) -> None:
    assert await post(receiver, b"<html>oops</html>", **{"content-type": "application/json"}) == 400
    assert receiver.unreadable == 1 and receiver.last_unreadable.startswith("not JSON")
    assert await post(receiver, b"x" * 5000) == 413
    assert await post(receiver, event("ACTIVE"), path="/other") == 404
    async with httpx.AsyncClient() as client:
        assert (await client.get(receiver.url)).status_code == 405
    assert await post(receiver, event("ACTIVE")) == 200
    assert receiver.last_event is not None and receiver.last_event.type == "ACTIVE"


async def test_validation_post_is_accepted_whatever_it_holds(receiver: EventReceiver) -> None:
    receiver.expect_validation()
    assert await post(receiver, b"dummy data, not JSON") == 200
    assert receiver.validated.is_set() and receiver.validations == 1
    assert receiver.unreadable == 0 and not receiver.events


async def test_next_event_waits_matches_and_times_out(receiver: EventReceiver) -> None:
    waiter = asyncio.create_task(receiver.next_event(lambda e: e.type == "HELD", 2.0))
    await post(receiver, event("ACTIVE"))
    await post(receiver, event("HELD"))
    found = await waiter
    assert found is not None and found.type == "HELD" and found.call_id == "17"
    assert await receiver.next_event(lambda e: True, 0.05) is None  # ACTIVE was passed over
    assert receiver.last_event is found


async def test_duplicates_dropped_and_out_of_order_flagged(receiver: EventReceiver) -> None:
    await post(receiver, event("ACTIVE", event_id="e1", stamp=2000))
    await post(receiver, event("ACTIVE", event_id="e1", stamp=2000))
    await post(receiver, event("HELD", event_id="e2", stamp=3000))
    await post(receiver, event("ACTIVE", event_id="e3", stamp=2500))
    assert receiver.duplicates == 1
    assert [(e.type, e.out_of_order) for e in receiver.events] == [
        ("ACTIVE", False),
        ("HELD", False),
        ("ACTIVE", True),
    ]


async def test_stop_frees_the_port_and_leaves_signals_alone(receiver: EventReceiver) -> None:
    before = signal.getsignal(signal.SIGINT)
    port = int(receiver.url.split(":")[2].split("/")[0])
    await receiver.stop()
    again = EventReceiver(plain_config(callback_port=port), Transcript("again"))
    await again.start()
    try:
        assert f":{port}/" in again.url
    finally:
        await again.stop()
    assert signal.getsignal(signal.SIGINT) is before


async def test_callback_url_rules() -> None:
    assert await callback_url(plain_config(), 8080) == "http://127.0.0.1:8080/ecc-doctor/events"
    wildcard = plain_config(callback_host="0.0.0.0", base_url="https://127.0.0.1:443")
    assert await callback_url(wildcard, 5) == "http://127.0.0.1:5/ecc-doctor/events"
    nat = plain_config(callback_url="https://tool.example:{port}/cb")
    assert await callback_url(nat, 9443) == "https://tool.example:9443/cb"


async def test_resubscribes_after_ecc_restart(ecc_lab: Lab) -> None:
    cfg = ecc_lab.config.ecc
    async with event_session(cfg, Transcript("rest"), Transcript("events")) as (_rest, _rx, sub):
        first = sub.id
        assert not await sub.ensure()
        await ecc_lab.fault("ecc-restart")
        await ecc_lab.heal("ecc-restart")
        assert ecc_lab.status()["ecc"]["subscriptions"] == 0
        assert await sub.ensure()
        assert sub.id != first and sub.resubscribed == 1
        assert ecc_lab.status()["ecc"]["subscriptions"] == 1
    assert ecc_lab.status()["ecc"]["subscriptions"] == 0


async def test_events_of_a_subscription_that_is_not_ours_are_ignored(
    receiver: EventReceiver,
) -> None:
    # anyone who reaches the callback could post events; their links decide nothing and
    # their events are not ours to judge (review s6 F7)
    receiver.ours.add("sub-ours")

    def named(sub: str) -> bytes:
        envelope = {"type": "ACTIVE", "subscriptionId": sub}
        envelope["eventBody"] = {"callEvent": "ACTIVE", "callID": "17"}  # type: ignore[assignment]
        return json.dumps(envelope).encode()

    json_type = {"content-type": "application/json"}
    assert await post(receiver, named("sub-forged"), **json_type) == 200
    assert receiver.foreign == 1 and not receiver.events
    assert await post(receiver, named("sub-ours"), **json_type) == 200
    assert await post(receiver, event("HELD"), **json_type) == 200  # names none: not ours
    assert [e.type for e in receiver.events] == ["ACTIVE"] and receiver.foreign == 2
