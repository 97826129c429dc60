"""A Make Call that fails after ECC created the call: the check finds that call and drops it."""

from __future__ import annotations

import asyncio
from types import ModuleType

import pytest

from ecc_doctor.checks import ecc_roundtrip, ecc_trunk
from ecc_doctor.checks.ecc_steps import call_has_party
from ecc_doctor.lab.ecc import EccEmulator
from ecc_doctor.models import Result, Status

from .conftest import clean_ecc_lab, no_traceback, run_one, with_connect_timeout

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("module", [ecc_roundtrip, ecc_trunk], ids=lambda m: m.ID)
async def test_make_call_answer_too_late_leaves_no_call_up(module: ModuleType) -> None:
    """The lab creates the call (it rings) but answers Make Call after our request timeout."""
    async with clean_ecc_lab(make_call_delay=3.0) as lab:
        config = with_connect_timeout(lab.config, 1.0)
        result = await run_one(module, config)
        assert result.status is Status.ERROR, result.summary
        assert "ECC https://127.0.0.1:" in result.summary
        assert "no answer within 1 s (POST /services/EngagementCallControl/" in result.summary
        no_traceback(result)
        rest_log = next(e for e in result.evidence if e.title.startswith("ECC REST"))
        assert any("dropped call" in line for line in rest_log.lines)
        # clean_ecc_lab asserts on leaving: no call left up, no subscription left


def _rest_log(result: Result) -> list[str]:
    return list(next(e for e in result.evidence if e.title.startswith("ECC REST")).lines)


def _caller(module: ModuleType) -> str:
    return "3303" if module is ecc_trunk else "3301"  # the lab's trunk_extension / extension_a


@pytest.mark.parametrize("module", [ecc_roundtrip, ecc_trunk], ids=lambda m: m.ID)
async def test_failed_make_call_found_by_its_events_alone(module: ModuleType) -> None:
    """ECC cannot list connections (404): the cleanup finds the call by its events only."""
    async with clean_ecc_lab(make_call_delay=3.0, connections_missing=True) as lab:
        result = await run_one(module, with_connect_timeout(lab.config, 1.0))
        assert result.status is Status.ERROR, result.summary
        assert any("dropped call" in line for line in _rest_log(result))
        # clean_ecc_lab: the call is gone


@pytest.mark.parametrize("module", [ecc_roundtrip, ecc_trunk], ids=lambda m: m.ID)
async def test_failed_make_call_found_by_connections_alone(module: ModuleType) -> None:
    """ECC publishes no event for the call: the cleanup finds it as a new call of the caller
    that has the called number (station B, or the trunk number via GET call) as a party."""
    async with clean_ecc_lab(make_call_delay=3.0, make_call_events=False) as lab:
        result = await run_one(module, with_connect_timeout(lab.config, 1.0))
        assert result.status is Status.ERROR, result.summary
        assert any("dropped call" in line for line in _rest_log(result))
        # clean_ecc_lab: the call is gone


@pytest.mark.parametrize("module", [ecc_roundtrip, ecc_trunk], ids=lambda m: m.ID)
@pytest.mark.parametrize("events", [True, False], ids=["with-events", "no-events"])
async def test_unrelated_call_to_the_caller_survives_the_cleanup(
    module: ModuleType, events: bool
) -> None:
    """While the doctor's Make Call waits for its answer, someone else calls station A: the
    cleanup drops the doctor's call and leaves the other one up, saying why."""
    async with clean_ecc_lab(make_call_delay=3.0, make_call_events=events) as lab:
        emu = lab.emulators[0]
        assert isinstance(emu, EccEmulator)
        a = _caller(module)
        task = asyncio.create_task(run_one(module, with_connect_timeout(lab.config, 1.0)))
        for _ in range(500):  # until the doctor's call rings (its Make Call answer is held)
            if emu.status()["active_calls"] or task.done():
                break
            await asyncio.sleep(0.01)
        other = emu.place_call("3304", a)
        result = await task
        try:
            assert result.status is Status.ERROR, result.summary
            assert emu.call_up(other), "the cleanup dropped a call the doctor did not place"
            assert emu.status()["active_calls"] == 1, "the doctor's own call was left up"
            log = _rest_log(result)
            assert any("dropped call" in line for line in log)
            assert not any(
                f"DELETE /services/EngagementCallControl/calls/{other}" in line for line in log
            )
            assert any(f"call {other}" in line and "left up" in line for line in log), log
        finally:
            emu.hang_up(other)


@pytest.mark.parametrize(
    ("call", "ours"),
    [
        ({"to": "912025550123", "from": "3303"}, True),
        ({"originalCalledParticipant": "tel:+912025550123"}, True),
        ({"to": "3301", "from": "3302"}, False),  # B calling A: not the doctor's call
        ({"to": "912025550123", "from": "3304"}, False),  # someone else dialling the number
        ({"participants": ["3303", "912025550123"]}, True),
        ({"connections": [{"address": "3303"}, {"address": "3304"}]}, False),
        ({}, False),
    ],
)
def test_a_new_call_is_tied_to_the_make_call_only_by_its_called_party(
    call: dict[str, object], ours: bool
) -> None:
    assert call_has_party(call, "3303", "912025550123") is ours
