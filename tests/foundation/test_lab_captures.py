"""The lab's captures: the same bytes as the documented fixtures; faults swap in defects."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.lab import Lab
from ecc_doctor.models import Status
from ecc_doctor.runner import run_checks

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "ecc_doctor" / "lab" / "data"
SAME = {
    "sip-register.pcap": "tests/fixtures/sip/register-udp.pcap",
    "sip-prack.pcap": "tests/fixtures/sip/prack-ok-udp.pcap",
    "sip-register-wrong-password.pcap": "tests/fixtures/sip/register-wrong-password.pcap",
    "sip-prack-bad-rack.pcap": "tests/fixtures/sip/prack-bad-rack-tcp.pcap",
    "mgc-failover.pcap": "tests/fixtures/mgc/failover_ess.pcap",
    "mgc-early-crossing.pcap": "tests/fixtures/mgc/early_crossing.pcap",
    "sip-passwords.txt": "tests/fixtures/sip/passwords.txt",
}


@pytest.mark.parametrize("name", sorted(SAME))
def test_lab_capture_is_the_documented_fixture(name: str) -> None:
    assert (DATA / name).read_bytes() == (ROOT / SAME[name]).read_bytes()


@pytest.mark.anyio
async def test_capture_checks_pass_then_fail_under_faults_then_recover(lab: Lab) -> None:
    specs = select(["sip", "mgc"], all_checks())
    before = await run_checks(specs, lab.config)
    assert [r.status for r in before] == [Status.PASS] * 3, [r.summary for r in before]
    for fault in ("sip-wrong-password", "sip-bad-prack", "mgc-early-crossing"):
        await lab.fault(fault)
    during = {r.check_id: r for r in await run_checks(specs, lab.config)}
    assert during["sip.register"].status is Status.FAIL
    assert "wrong password" in during["sip.register"].summary
    assert during["sip.prack"].status is Status.FAIL and "RAck" in during["sip.prack"].summary
    assert during["mgc.failover"].status is Status.FAIL
    assert "crossed too early" in during["mgc.failover"].summary
    for fault in ("sip-wrong-password", "sip-bad-prack", "mgc-early-crossing"):
        await lab.heal(fault)
    after = await run_checks(specs, lab.config)
    assert [r.status for r in after] == [Status.PASS] * 3
