"""The README's lab fault table states what each hostile event delivery makes the checks say."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from ecc_doctor.checks import ecc_roundtrip, ecc_trunk
from ecc_doctor.lab import Lab

from .conftest import run_one, with_ecc

pytestmark = pytest.mark.anyio

README = Path(__file__).resolve().parents[2] / "README.md"


def fault_row(fault: str) -> str:
    rows = [line for line in README.read_text().splitlines() if line.startswith(f"| `{fault}` |")]
    assert len(rows) == 1, f"README: expected one fault-table row for {fault}, got {len(rows)}"
    return rows[0]


@pytest.mark.parametrize(
    ("fault", "module"),
    [
        ("ecc-duplicate-events", ecc_roundtrip),
        ("ecc-out-of-order-events", ecc_roundtrip),
        ("ecc-foreign-events", ecc_roundtrip),
        ("ecc-garbage-events", ecc_roundtrip),
        ("ecc-garbage-events", ecc_trunk),
    ],
)
async def test_readme_states_the_outcome_of_each_hostile_delivery_fault(
    ecc_lab: Lab, fault: str, module: ModuleType
) -> None:
    row = fault_row(fault)
    await ecc_lab.fault(fault)
    result = await run_one(module, with_ecc(ecc_lab.config, event_timeout=0.5))
    assert f"`{module.ID}` {result.status.value}" in row, (result.status, result.summary, row)
