"""``cti-link-stuck`` shows through ``--lab`` alone: the lab's [cm] takes a second sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.lab import Lab
from ecc_doctor.models import Status
from ecc_doctor.runner import run_checks

pytestmark = pytest.mark.anyio


async def test_lab_config_as_started_warns_on_a_stuck_link(lab: Lab) -> None:
    assert lab.config.cm.cti_link_sample_s > 0
    await lab.fault("cti-link-stuck")
    (result,) = await run_checks(select(["cm.cti-link"], all_checks()), lab.config)
    assert result.status is Status.WARN, result.summary
    assert "message counters did not move" in result.summary


def test_check_lab_with_the_stuck_fault_warns(tmp_path: Path) -> None:
    report = tmp_path / "stuck.json"
    proc = subprocess.run(
        [sys.executable, "-m", "ecc_doctor", "check", "cm.cti-link", "--lab", "--lab-fault",
         "cti-link-stuck", "--json", str(report)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = json.loads(report.read_text(encoding="utf-8"))["results"]
    assert result["status"] == "WARN"
    assert result["summary"].startswith("CTI link 1 established but message counters did not move")
