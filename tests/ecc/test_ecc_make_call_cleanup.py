"""A Make Call that fails after ECC created the call: the check finds that call and drops it."""

from __future__ import annotations

from types import ModuleType

import pytest

from ecc_doctor.checks import ecc_roundtrip, ecc_trunk
from ecc_doctor.models import Status

from .conftest import clean_ecc_lab, no_traceback, run_one, with_connect_timeout

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("module", [ecc_roundtrip, ecc_trunk], ids=lambda m: m.ID)
async def test_make_call_answer_too_late_leaves_no_call_up(module: ModuleType) -> None:
    """The lab creates the call (it rings) but answers Make Call after our request timeout."""
    async with clean_ecc_lab(make_call_delay=3.0) as lab:
        config = with_connect_timeout(lab.config, 1.0)
        result = await run_one(module, config)
        assert result.status is Status.ERROR, result.summary
        assert "POST https://127.0.0.1:" in result.summary
        assert "no answer within 1 s" in result.summary
        no_traceback(result)
        rest_log = next(e for e in result.evidence if e.title.startswith("ECC REST"))
        assert any("dropped call" in line for line in rest_log.lines)
        # clean_ecc_lab asserts on leaving: no call left up, no subscription left
