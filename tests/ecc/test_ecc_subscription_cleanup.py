"""A stop while the subscription is being created leaves no subscription on Breeze, and a
stray POST is not taken for the Eventing Connector's validation (QA 4a F4, F5, F6)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from ecc_doctor.lab.ecc import EccEmulator
from ecc_doctor.probes.ecc_events import EventReceiver, event_session
from ecc_doctor.transcript import Transcript

from .conftest import clean_ecc_lab
from .test_ecc_receiver import plain_config, post

pytestmark = pytest.mark.anyio


def _ecc(lab: object) -> EccEmulator:
    return next(e for e in lab.emulators if isinstance(e, EccEmulator))  # type: ignore[attr-defined]


async def test_a_stop_while_subscribing_deletes_the_subscription_breeze_made() -> None:
    # the lab creates the subscription (and validates the callback) at once, but holds its
    # answer back: a stop lands before ecc-doctor knows the id
    # 6 s: longer than the 5 s a teardown has when nothing is pending (review s6b R1)
    async with clean_ecc_lab(subscribe_delay=6.0) as lab:  # asserts: no subscription left
        ecc = _ecc(lab)
        cfg = lab.config.ecc
        assert cfg is not None

        async def session() -> None:
            async with event_session(cfg, Transcript("rest"), Transcript("events")):
                await asyncio.sleep(30)  # not reached in time: stopped before

        task = asyncio.create_task(session())
        for _ in range(200):  # bounded: until Breeze holds the subscription
            if ecc.status()["subscriptions"]:
                break
            await asyncio.sleep(0.01)
        assert ecc.status()["subscriptions"] == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ecc.status()["subscriptions"] == 0


async def test_a_delivery_of_another_subscription_is_not_our_validation() -> None:
    async with EventReceiver(plain_config(), Transcript("events")) as rx:
        rx.expect_validation()
        stray = {"type": "ACTIVE", "subscriptionId": "old-run"}
        stray["eventBody"] = {"callEvent": "ACTIVE", "callID": "9"}  # type: ignore[assignment]
        headers = {"content-type": "application/json"}
        assert await post(rx, json.dumps(stray).encode(), **headers) == 200
        assert not rx.validated.is_set() and rx.foreign == 1
        assert await post(rx, b'{"validation": "dummy"}', **headers) == 200
        assert rx.validated.is_set() and rx.validations == 1


async def test_once_subscribed_an_event_naming_no_subscription_is_not_ours() -> None:
    async with EventReceiver(plain_config(), Transcript("events")) as rx:
        rx.ours.add("mine")
        bare = json.dumps({"callEvent": "ACTIVE", "callID": "17"}).encode()
        async with httpx.AsyncClient() as client:
            resp = await client.post(
                rx.url, content=bare, headers={"content-type": "application/json"}
            )
        assert resp.status_code == 200 and rx.foreign == 1 and not rx.events
