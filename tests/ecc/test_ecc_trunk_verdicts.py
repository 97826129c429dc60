"""ecc.trunk-established: which verdict when no ACTIVE event comes, and station sharing."""

from __future__ import annotations

import asyncio

import pytest

from ecc_doctor.checks import ecc_roundtrip, ecc_trunk, spec_of
from ecc_doctor.checks.ecc_steps import stations
from ecc_doctor.context import CheckContext
from ecc_doctor.lab import Lab
from ecc_doctor.models import Status
from ecc_doctor.runner import run_checks

from .conftest import clean_ecc_lab, no_traceback, run_one, with_ecc

pytestmark = pytest.mark.anyio


async def test_far_end_not_answering_is_not_blamed_on_the_app_note() -> None:
    """The trunk number rings longer than the window: a different FAIL, not the 2.2 text."""
    async with clean_ecc_lab(trunk_answer_delay=30.0) as lab:
        config = with_ecc(lab.config, trunk_answer_timeout=1.0, event_timeout=0.5)
        result = await run_one(ecc_trunk, config)
    assert result.status is Status.FAIL, result.summary
    assert "far end was not seen answering within 1 s (ecc.trunk_answer_timeout" in result.summary
    assert "GET call: ALERTING" in result.summary
    assert "ecc.trunk_number does not answer automatically" in result.summary
    assert "status trunk" in result.summary and "list trace" in result.summary
    assert "the known AES/ECC behaviour" not in result.summary
    no_traceback(result)


async def test_lab_trunk_check_has_its_own_station_and_does_not_wait(ecc_lab: Lab) -> None:
    """Round trip (3301, 3302) and trunk check (3303) run side by side, also with slow events."""
    await ecc_lab.fault("ecc-slow-events")
    specs = [spec_of(m) for m in (ecc_roundtrip, ecc_trunk)]
    # each event arrives 0.4 s after it was published, whatever else is delivered meanwhile
    config = with_ecc(ecc_lab.config, event_budget_ms=200.0, event_timeout=1.0)
    roundtrip, trunk = await run_checks(specs, config)
    assert roundtrip.status is Status.WARN, roundtrip.summary
    assert trunk.status is Status.PASS, trunk.summary
    assert trunk.summary.startswith("outbound trunk call 3303->912025550123")
    assert not any("waited" in d for d in trunk.details + roundtrip.details)


async def _hold(lab: Lab, station: str, seconds: float, holder: str) -> None:
    async with stations(CheckContext(holder, lab.config, 60.0), station):
        await asyncio.sleep(seconds)


async def test_station_wait_that_eats_the_time_limit_names_station_and_holder(
    ecc_lab: Lab,
) -> None:
    config = with_ecc(ecc_lab.config, trunk_extension="")  # dial from extension_a, 3301
    holder = asyncio.create_task(_hold(ecc_lab, "3301", 30.0, "ecc.event-roundtrip"))
    await asyncio.sleep(0)  # the holder takes the station first
    try:
        result = await run_one(ecc_trunk, config, timeout_override=2.0)
    finally:
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)
    assert result.status is Status.ERROR, result.summary
    assert result.summary.startswith("waited ")
    assert "for station 3301 (held by ecc.event-roundtrip)" in result.summary
    assert "2 s time limit" in result.summary and "ecc.trunk_extension" in result.summary


async def test_station_wait_then_running_out_names_the_wait() -> None:
    """It got the station, but the trunk window no longer fits the rest of the time limit."""
    async with clean_ecc_lab(trunk_answer_delay=30.0) as lab:
        config = with_ecc(
            lab.config, trunk_extension="", trunk_answer_timeout=5.0, event_timeout=0.5
        )
        holder = asyncio.create_task(_hold(lab, "3301", 1.0, "ecc.event-roundtrip"))
        await asyncio.sleep(0)
        try:
            result = await run_one(ecc_trunk, config, timeout_override=4.0)
        finally:
            await asyncio.gather(holder, return_exceptions=True)
    assert result.status is Status.ERROR, result.summary
    assert "for station 3301 (held by ecc.event-roundtrip)" in result.summary
    assert "then ran out of its 4 s time limit" in result.summary


async def test_station_wait_is_reported_in_a_passing_result(ecc_lab: Lab) -> None:
    config = with_ecc(ecc_lab.config, trunk_extension="")
    holder = asyncio.create_task(_hold(ecc_lab, "3301", 0.3, "ecc.event-roundtrip"))
    await asyncio.sleep(0)
    try:
        result = await run_one(ecc_trunk, config)
    finally:
        await asyncio.gather(holder, return_exceptions=True)
    assert result.status is Status.PASS, result.summary
    assert result.summary.startswith("outbound trunk call 3301->")
    assert any("for station 3301 (held by ecc.event-roundtrip)" in d for d in result.details)
