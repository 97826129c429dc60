"""VT220 forms paged the way pbxd pages them (review s6 F2): a form page ends with the cursor
parked in a field and no paging prompt; "Page n of m" says whether NEXT PAGE or CANCEL
comes next. And a screen cell that reads "Command:" is not the prompt (F5)."""

from __future__ import annotations

import dataclasses

import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.lab import Lab
from ecc_doctor.lab.cm_sat import CmSatEmulator
from ecc_doctor.models import Status
from ecc_doctor.probes.sat import _VT_PROMPT
from ecc_doctor.runner import run_checks

pytestmark = pytest.mark.anyio


async def test_forms_without_a_paging_prompt_are_read_page_by_page() -> None:
    cm = CmSatEmulator(paging_prompt=False)
    async with Lab([cm]) as lab:
        config = dataclasses.replace(
            lab.config, cm=dataclasses.replace(lab.config.cm, termtype="vt220")
        )
        results = await run_checks(select(["cm"], all_checks()), config)
        statuses = {r.check_id: r.status for r in results}
        assert set(statuses.values()) == {Status.PASS}, [r.summary for r in results]
        # features and ip-services have several pages: NEXT PAGE was pressed at each park
        assert cm.counters["pages"] >= 2
        assert cm.status()["open_sessions"] == 0


def test_a_cell_reading_command_is_not_the_prompt() -> None:
    assert _VT_PROMPT.search("\x1b[9;23HCommand:x") is None
    assert _VT_PROMPT.search("\x1b[2;1H\x1b[0m\x1b[KCommand: ") is not None
