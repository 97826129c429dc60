"""sip.register and sip.prack as checks: the same analysis over the [sip] captures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import FIXTURES

from ecc_doctor.checks import all_checks, select
from ecc_doctor.config import from_mapping
from ecc_doctor.errors import ConfigError
from ecc_doctor.models import Result, Status
from ecc_doctor.runner import run_checks

SIP = FIXTURES / "sip"


async def run_sip(section: dict[str, Any]) -> dict[str, Result]:
    cfg = from_mapping({"sip": section}, source="<test>")
    results = await run_checks(select(["sip"], all_checks()), cfg)
    return {r.check_id: r for r in results}


@pytest.mark.anyio
async def test_passing_captures() -> None:
    res = await run_sip(
        {
            "captures": [str(SIP / "register-tcp.pcap"), str(SIP / "prack-ok-udp.pcap")],
            "password_file": str(SIP / "passwords.txt"),
        }
    )
    reg, prack = res["sip.register"], res["sip.prack"]
    assert reg.status is Status.PASS and reg.summary.startswith("1 registration flow correct")
    assert prack.status is Status.PASS and reg.source == "SIP Adventures: REGISTER"
    assert prack.source == "RFC 3262 / SIP Adventures: PRACK"
    table = reg.evidence[0]
    assert table.kind == "table" and table.rows[0][:3] == (
        "PASS",
        "register",
        "sip:alice@lab.example",
    )
    assert reg.metrics["flows"] == 1.0


@pytest.mark.anyio
async def test_failures_name_the_problem() -> None:
    res = await run_sip(
        {
            "captures": [
                str(SIP / "register-wrong-password.pcap"),
                str(SIP / "prack-bad-rack-tcp.pcap"),
            ],
            "password_file": str(SIP / "passwords.txt"),
        }
    )
    reg, prack = res["sip.register"], res["sip.prack"]
    assert reg.status is Status.FAIL
    assert "1 of 1 registration flows FAIL: sip:alice@lab.example:" in reg.summary
    assert "wrong password" in reg.summary
    assert prack.status is Status.FAIL and "RAck '1 2 INVITE'" in prack.summary
    assert any("sip.prack.rack" in d for d in prack.details)
    (ladder,) = [e for e in prack.evidence if e.kind == "ladder"]
    assert any("PRACK" in line and "<! FAIL sip.prack.rack" in line for line in ladder.lines)


@pytest.mark.anyio
async def test_skips() -> None:
    res = await run_sip({"captures": []})
    assert res["sip.register"].status is Status.SKIP
    assert "no captures configured" in res["sip.register"].summary
    res = await run_sip({"captures": [str(SIP / "register-udp.pcap")]})
    assert res["sip.prack"].status is Status.SKIP
    assert "no reliable provisional responses (100rel)" in res["sip.prack"].summary
    cfg = from_mapping({}, source="<test>")
    (r, _) = await run_checks(select(["sip"], all_checks()), cfg)
    assert r.status is Status.SKIP and "no [sip] section" in r.summary


@pytest.mark.anyio
async def test_missing_capture_is_an_error(tmp_path: Path) -> None:
    res = await run_sip({"captures": [str(tmp_path / "gone.pcap")]})
    r = res["sip.register"]
    assert r.status is Status.ERROR and "gone.pcap: no such file" in r.summary


@pytest.mark.anyio
async def test_one_unreadable_capture_keeps_the_others_verdicts(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"GIF89a" + bytes(100))
    res = await run_sip(
        {"captures": [str(tmp_path / "gone.pcap"), str(junk), str(SIP / "register-tcp.pcap")]}
    )
    r = res["sip.register"]
    # could not tell for two files: ERROR, naming both, and the third file's verdict kept
    assert r.status is Status.ERROR
    assert "gone.pcap: no such file" in r.summary and "junk.pcap: not a pcap" in r.summary
    assert r.summary.endswith(
        "(the other captures: PASS: 1 registration flow correct in register-tcp.pcap)"
    )
    assert r.evidence and r.evidence[0].kind == "table" and r.evidence[0].rows[0][0] == "PASS"
    assert r.metrics["flows"] == 1


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="sip.engine: expected one of scapy, tshark"):
        from_mapping({"sip": {"engine": "wireshark"}}, source="<test>")
    with pytest.raises(ConfigError, match="ports\\[0\\]: expected a port number"):
        from_mapping({"sip": {"ports": [0]}}, source="<test>")


@pytest.mark.anyio
async def test_relative_capture_paths_follow_the_site_file(tmp_path: Path) -> None:
    import shutil

    from ecc_doctor.config import load

    shutil.copy(SIP / "prack-rseq-jump-udp.pcap", tmp_path / "jump.pcap")
    site = tmp_path / "site.toml"
    site.write_text('[sip]\ncaptures = ["jump.pcap"]\n')
    results = await run_checks(select(["sip.prack"], all_checks()), load(site))
    assert results[0].status is Status.FAIL and "RSeq jumped from 1" in results[0].summary
