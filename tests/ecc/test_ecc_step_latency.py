"""Step latencies are measured from the request that causes the event, nothing before it."""

from __future__ import annotations

from types import ModuleType

import pytest

from ecc_doctor.checks import ecc_roundtrip, ecc_trunk
from ecc_doctor.models import Status

from .conftest import clean_ecc_lab, run_one, with_connect_timeout

pytestmark = pytest.mark.anyio

GET_CONNECTIONS_DELAY = 0.6  # s: every Get Connections By Address answer is held back this long


@pytest.mark.parametrize(
    ("module", "metric"),
    [(ecc_roundtrip, "step.alerting_ms"), (ecc_trunk, "step.answered_ms")],
    ids=lambda v: getattr(v, "ID", v),
)
async def test_make_call_step_is_timed_from_the_make_call_post(
    module: ModuleType, metric: str
) -> None:
    """The snapshot of the caller's calls (a GET of its connections, taken for the cleanup)
    comes before the step's clock starts: a slow GET does not show up in the latency."""
    async with clean_ecc_lab(connections_delay=GET_CONNECTIONS_DELAY) as lab:
        result = await run_one(module, lab.config)
    assert result.status is Status.PASS, result.summary
    assert result.metrics[metric] < GET_CONNECTIONS_DELAY * 1000, result.metrics


async def test_snapshot_that_times_out_does_not_stop_the_trunk_check() -> None:
    """The trunk check needs no Get Connections itself: a snapshot GET that gets no answer in
    time leaves the snapshot unknown (cleanup then relies on events) and the call goes on."""
    async with clean_ecc_lab(connections_delay=2.5) as lab:
        config = with_connect_timeout(lab.config, 1.0)
        result = await run_one(ecc_trunk, config)
    assert result.status is Status.PASS, result.summary
    rest_log = next(e for e in result.evidence if e.title.startswith("ECC REST"))
    assert any("calls of 3303 before Make Call unknown" in line for line in rest_log.lines)
