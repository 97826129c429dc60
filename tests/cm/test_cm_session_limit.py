"""check --all must not flood CM with SAT logins: at most [cm] max_sessions at once."""

from __future__ import annotations

import dataclasses

import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.lab import Lab
from ecc_doctor.models import Status
from ecc_doctor.runner import run_checks

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("limit", [1, 2])
async def test_cm_checks_share_at_most_max_sessions_logins(lab: Lab, limit: int) -> None:
    assert lab.config.cm is not None
    cm = dataclasses.replace(lab.config.cm, max_sessions=limit)
    config = dataclasses.replace(lab.config, cm=cm)
    specs = select(["cm"], all_checks())
    results = await run_checks(specs, config)
    assert len(results) == 6 and all(r.status is Status.PASS for r in results), [
        r.summary for r in results
    ]
    status = lab.status()["cm"]
    assert status["peak_sessions"] == limit
    assert status["open_sessions"] == 0
    if limit == 1:
        waited = [
            line
            for r in results
            for ev in r.evidence
            for line in ev.lines
            if "waiting for a free SAT session" in line
        ]
        assert waited, "queued checks say so in their transcript"
