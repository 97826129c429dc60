"""A SAT that never shows its prompt is tried once per run (QA 2 #10): the other cm.* checks
give ERROR "not tried: ..." at once instead of each waiting out the prompt timeout."""

from __future__ import annotations

import dataclasses

import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.lab import Lab
from ecc_doctor.lab.cm_sat import CmSatEmulator
from ecc_doctor.models import Status
from ecc_doctor.probes import ssh_common
from ecc_doctor.runner import run_checks

from .conftest import CM_CHECKS

pytestmark = pytest.mark.anyio


async def test_sat_hang_is_waited_for_once_per_run(lab: Lab) -> None:
    emu = next(e for e in lab.emulators if isinstance(e, CmSatEmulator))
    await lab.fault("sat-hang")
    cm = dataclasses.replace(lab.config.cm, prompt_timeout=1.0)
    config = dataclasses.replace(lab.config, cm=cm)
    results = await run_checks(select(["cm"], all_checks()), config)
    assert [r.check_id for r in results] == CM_CHECKS
    assert {r.status for r in results} == {Status.ERROR}
    where = f"127.0.0.1:{emu.port}"
    tried = [r for r in results if not r.summary.startswith("not tried")]
    assert len(tried) == 1, [r.summary for r in results]
    assert tried[0].summary == (f"CM {where}: no 'Terminal Type (...): [513]' prompt within 1 s")
    for r in results:
        if r is not tried[0]:
            assert r.summary == (
                f"not tried: CM {where} showed no SAT prompt within 1 s moments ago "
                f"(in {tried[0].check_id})"
            )
    assert emu.status()["logins"] == 1

    # healed (the lab forgets what it remembered when its faults change): tried at once
    await lab.heal("sat-hang")
    (healed,) = await run_checks(select(["cm.license"], all_checks()), lab.config)
    assert healed.status is Status.PASS, healed.summary


async def test_the_hang_is_tried_again_once_the_memory_expires(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    await lab.fault("sat-hang")
    cm = dataclasses.replace(lab.config.cm, prompt_timeout=0.5)
    config = dataclasses.replace(lab.config, cm=cm)
    (first,) = await run_checks(select(["cm.ucid"], all_checks()), config)
    (second,) = await run_checks(select(["cm.ucid"], all_checks()), config)
    assert second.summary.startswith("not tried: ")
    monkeypatch.setattr(ssh_common, "HANG_MEMORY_S", 0.0)
    (later,) = await run_checks(select(["cm.ucid"], all_checks()), config)
    assert later.summary == first.summary  # tried (and hung) again
    await lab.heal("sat-hang")
