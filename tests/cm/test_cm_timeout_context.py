"""A check cut at its time limit says where it was (QA session 5 #13): the session and the
last line its transcript recorded before the deadline, not its cleanup's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_a_timed_out_sat_check_names_its_session_and_last_step() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ecc_doctor", "check", "cm.license", "--lab"]
        + ["--lab-fault", "sat-hang", "--timeout", "1.5", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1, proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    summary = result["summary"]
    # the SAT never shows its prompt (sat-hang): the last thing before the deadline is the
    # SSH session being opened
    assert summary.startswith("timed out after 1.5 s (--timeout); last: CM SAT 127.0.0.1:")
    assert "(SAT, termtype ossi)" in summary
    assert "closed" not in summary  # the cleanup after the deadline is not "where it was"
