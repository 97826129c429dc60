"""ecc.trunk-established: which verdict when no ACTIVE event comes, and station sharing."""

from __future__ import annotations

import pytest

from ecc_doctor.checks import ecc_trunk
from ecc_doctor.models import Status

from .conftest import clean_ecc_lab, no_traceback, run_one, with_ecc

pytestmark = pytest.mark.anyio


async def test_far_end_not_answering_is_not_blamed_on_the_app_note() -> None:
    """The trunk number rings longer than the window: a different FAIL, not the 2.2 text."""
    async with clean_ecc_lab(trunk_answer_delay=30.0) as lab:
        config = with_ecc(lab.config, trunk_answer_timeout=1.0, event_timeout=0.5)
        result = await run_one(ecc_trunk, config)
    assert result.status is Status.FAIL, result.summary
    assert "far end was not seen answering within 1 s (ecc.trunk_answer_timeout" in result.summary
    assert "GET call: ALERTING" in result.summary
    assert "ecc.trunk_number does not answer automatically" in result.summary
    assert "status trunk" in result.summary and "list trace" in result.summary
    assert "the known AES/ECC behaviour" not in result.summary
    no_traceback(result)
