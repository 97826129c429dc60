"""The network drops mid-call: what the cleanup could not undo (the call, the subscription)
is named in the result, and a later run drops the call it knows it left up."""

from __future__ import annotations

import asyncio
from types import ModuleType

import pytest

from ecc_doctor.checks import ecc_roundtrip, ecc_trunk
from ecc_doctor.lab import Lab
from ecc_doctor.lab.ecc import TRUNK_NUMBER, EccEmulator
from ecc_doctor.models import Status

from .conftest import no_traceback, run_one, with_connect_timeout, with_ecc

pytestmark = pytest.mark.anyio

CASES = {
    ecc_roundtrip.ID: ("3301", "3302", "step answer: no ACTIVE event for call "),
    ecc_trunk.ID: (
        "3303",
        TRUNK_NUMBER,
        "step answered: no ACTIVE/CLEARED/DROPPED/ENDED event for call ",
    ),
}


async def _flap_after_first_delivery(lab: Lab, task: asyncio.Task[object]) -> None:
    """Pull the cable once the first event (ALERTING) is delivered: the call is up, the check
    knows its id and waits for the next event."""
    for _ in range(500):
        if lab.status()["ecc"]["deliveries"] >= 1 or task.done():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    await lab.fault("network-flap")


@pytest.mark.parametrize("module", [ecc_roundtrip, ecc_trunk], ids=lambda m: m.ID)
async def test_network_loss_mid_call_names_the_call_and_subscription_left_up(
    module: ModuleType,
) -> None:
    emu = EccEmulator(budget_ms=1000.0, slow_delay=0.4, trunk_answer_delay=1.0)
    async with Lab([emu]) as lab:
        await lab.fault("ecc-slow-events")
        config = with_ecc(
            with_connect_timeout(lab.config, 1.0), event_timeout=1.0, trunk_answer_timeout=1.0
        )
        task = asyncio.create_task(run_one(module, config))
        await _flap_after_first_delivery(lab, task)
        result = await task
        await lab.heal("network-flap")
        await lab.heal("ecc-slow-events")
        left = lab.status()["ecc"]
        assert (left["active_calls"], left["subscriptions"]) == (1, 1), left

        a, b, first = CASES[module.ID]
        assert result.status is Status.ERROR, result.summary
        no_traceback(result)
        assert result.summary.startswith(first), result.summary  # the failed step comes first
        assert "ECC then stopped answering" in result.summary, result.summary
        assert not result.summary.startswith("GET "), result.summary
        call = next(d for d in result.details if d.startswith("call "))
        assert f"({a} -> {b}) may still be up: drop failed: " in call, call
        sub = next(d for d in result.details if d.startswith("subscription "))
        assert "may be left on Breeze: delete failed: " in sub, sub
        assert f"cleanup: {call}; {sub}" in result.summary, result.summary
        call_id = call.split()[1]

        # a later run of this process finds its call still up at the station and drops it
        again = await run_one(module, with_connect_timeout(lab.config, 1.0))
        assert again.status is Status.PASS, again.summary
        assert any(
            d.startswith(f"dropped call {call_id} ({a} -> {b}) at {a}") for d in again.details
        ), again.details
        assert not emu.call_up(call_id)
        left = lab.status()["ecc"]
        assert (left["active_calls"], left["subscriptions"]) == (0, 1), left
        await lab.fault("ecc-restart")  # the subscription left on "Breeze" goes with a restart
        await lab.heal("ecc-restart")


async def test_a_call_already_at_the_station_is_left_alone_with_a_warning() -> None:
    emu = EccEmulator(budget_ms=1000.0, slow_delay=0.4, trunk_answer_delay=0.1)
    async with Lab([emu]) as lab:
        other = emu.place_call("3301", "3304")  # not ours: someone else's call at station A
        try:
            result = await run_one(ecc_roundtrip, lab.config)
            assert emu.call_up(other), "the check dropped a call it did not place"
        finally:
            emu.hang_up(other)
        assert result.status is Status.WARN, result.summary
        assert result.summary.startswith(f"station already had call(s) {other} before")
        assert any(f"station 3301 already had call(s) {other} up" in d for d in result.details)
        left = lab.status()["ecc"]
        assert (left["active_calls"], left["subscriptions"]) == (0, 0), left
