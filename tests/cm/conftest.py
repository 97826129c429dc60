"""Helpers of the CM tests: the cm.* check ids, the lab's CM emulator, a run of checks with
some [cm] keys changed."""

from __future__ import annotations

import dataclasses

from ecc_doctor.checks import all_checks, select
from ecc_doctor.lab import Lab
from ecc_doctor.lab.cm_sat import CmSatEmulator
from ecc_doctor.models import Result
from ecc_doctor.runner import run_checks

#: every cm.* check, in registry order
CM_CHECKS = [spec.id for spec in all_checks() if spec.id.startswith("cm.")]


def cm_of(lab: Lab) -> CmSatEmulator:
    return next(e for e in lab.emulators if isinstance(e, CmSatEmulator))


async def run(lab: Lab, *ids: str, **cm_changes: object) -> list[Result]:
    """Run the checks *ids* (ids or areas) against *lab* with *cm_changes* to its [cm]."""
    cm = dataclasses.replace(lab.config.cm, **cm_changes)  # type: ignore[arg-type]
    return await run_checks(select(list(ids), all_checks()), dataclasses.replace(lab.config, cm=cm))
