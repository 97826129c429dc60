"""net.reachability checks the AES TSAPI Service port of app note 6.7 (QA 3a G1)."""

from __future__ import annotations

import pytest

from ecc_doctor.checks import CHECKS, spec_of
from ecc_doctor.checks.reachability import endpoints
from ecc_doctor.config import from_mapping
from ecc_doctor.lab import Lab
from ecc_doctor.lab.aes import AesEmulator
from ecc_doctor.models import Status
from ecc_doctor.runner import run_checks

AES = {"host": "10.0.0.11", "username": "ecc", "password": "env:AES_PW"}


def test_the_tsapi_port_450_is_an_endpoint_unless_turned_off() -> None:
    cfg = from_mapping({"aes": AES}, source="<t>")
    assert ("aes.tsapi", "10.0.0.11", 450) in endpoints(cfg)
    off = from_mapping({"aes": {**AES, "tsapi_port": 0}}, source="<t>")
    assert [name for name, _, _ in endpoints(off)] == ["aes.dmcc"]


@pytest.mark.anyio
async def test_an_aes_restart_closes_the_tsapi_port_too() -> None:
    async with Lab([AesEmulator(restart_s=0)]) as lab:
        spec = spec_of(CHECKS["net.reachability"])
        (up,) = await run_checks([spec], lab.config)
        assert up.status is Status.PASS
        rows = {row[0]: row[2] for e in up.evidence if e.kind == "table" for row in e.rows}
        assert rows["aes.tsapi"] == "open"
        await lab.fault("aes-restart")
        (down,) = await run_checks([spec], lab.config)
        assert down.status is Status.FAIL
        assert "aes.tsapi" in down.summary and "aes.dmcc" in down.summary, down.summary
