"""A stale archive's age says which time it is measured from: the file's modification time on
the server (the lab's sftp-stale sets mtimes back; the names keep the upload time)."""

from __future__ import annotations

import pytest
from tests.presence.conftest import run_presence

from ecc_doctor.lab import Lab
from ecc_doctor.lab.sftp import SftpEmulator
from ecc_doctor.models import Status


@pytest.mark.anyio
async def test_stale_summary_says_the_age_is_the_modification_time() -> None:
    async with Lab([SftpEmulator()]) as lab:
        await lab.fault("sftp-stale")
        result = await run_presence(lab.data["sftp"])
    assert result.status is Status.FAIL, result.summary
    assert "old by its modification time; uploads are expected every 1 h" in result.summary, (
        result.summary
    )
