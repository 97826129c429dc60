"""Small ECC internals: the connection -> call id rule, station turns, a quiet lab."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ecc_doctor.checks import ecc_roundtrip
from ecc_doctor.checks.ecc_steps import StationWait, stations
from ecc_doctor.config import SiteConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Status
from ecc_doctor.probes.ecc_rest import connection_call_id

from .conftest import clean_ecc_lab, run_one, with_connect_timeout


@pytest.mark.parametrize(
    ("connection", "call_id"),
    [
        ({"id": "1001-2", "callId": "1001"}, "1001"),
        ({"id": "1001-2", "callID": 1001}, "1001"),
        ({"id": "1001-2"}, ""),  # "id" is the connection's own, never the call's
        ({"connectionId": "c9", "callid": "77"}, "77"),
    ],
)
def test_connection_call_id_ignores_the_connection_own_id(
    connection: dict[str, object], call_id: str
) -> None:
    assert connection_call_id(connection) == call_id


@pytest.mark.anyio
async def test_station_taken_right_after_a_release_still_counts_as_a_wait() -> None:
    """Three checks want one station. The first releases it while the second waits; a third
    asking at that moment finds the lock free but queues behind the second: its wait is
    timed and recorded like any other."""
    config = SiteConfig()
    third: list[StationWait] = []

    async def first() -> None:
        async with stations(CheckContext("first", config, 60.0), "3301"):
            await asyncio.sleep(0.05)
        # released; "second" is woken but has not run yet: ask now, in the same loop turn
        async with stations(CheckContext("third", config, 60.0), "3301") as wait:
            third.append(wait)

    async def second() -> None:
        async with stations(CheckContext("second", config, 60.0), "3301"):
            await asyncio.sleep(0.2)

    one = asyncio.create_task(first())
    await asyncio.sleep(0)  # "first" holds the station
    two = asyncio.create_task(second())
    await asyncio.wait_for(asyncio.gather(one, two), 10.0)
    (wait,) = third
    assert [number for number, _, _ in wait.waits] == ["3301"], wait.waits
    assert "waited" in wait.describe() and "station 3301" in wait.describe()


@pytest.mark.anyio
async def test_lab_make_call_delay_ends_without_an_asgi_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The lab holds a Make Call answer back; when the lab stops meanwhile, the held request
    ends quietly (no 'Exception in ASGI application' from uvicorn)."""
    with caplog.at_level(logging.ERROR):
        async with clean_ecc_lab(make_call_delay=30.0) as lab:
            result = await run_one(ecc_roundtrip, with_connect_timeout(lab.config, 1.0))
            assert result.status is Status.ERROR, result.summary
    assert not [r for r in caplog.records if "ASGI" in r.getMessage()], caplog.text
