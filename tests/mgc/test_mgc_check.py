"""The mgc.failover check through the runner: SKIP, PASS, FAIL and ERROR."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import FIXTURES

from ecc_doctor.checks import all_checks, select
from ecc_doctor.config import from_mapping
from ecc_doctor.models import Result, Status
from ecc_doctor.runner import run_checks

MGC = FIXTURES / "mgc"
SECTION = {
    "controllers": ["PE=192.0.2.10", "CLAN=192.0.2.11", "ESS=198.51.100.20", "LSP=203.0.113.30"],
    "transition_point": 2,
    "primary_search_min": 10,
    "total_search_min": 15,
    "gateway": "192.0.2.50",
}


async def run_mgc(**extra: object) -> Result:
    cfg = from_mapping({"mgc": {**SECTION, **extra}}, source=str(MGC / "site.toml"))
    (result,) = await run_checks(select(["mgc.failover"], all_checks()), cfg)
    return result


@pytest.mark.anyio
async def test_skip_without_capture() -> None:
    result = await run_mgc()
    assert (result.status, result.summary) == (
        Status.SKIP,
        "no [mgc] capture set: nothing to analyze",
    )
    assert result.source == "SIP Adventures: media gateway survivability"


@pytest.mark.anyio
async def test_pass_on_correct_failover() -> None:
    result = await run_mgc(capture="failover_ess.pcap")  # relative to the site file
    assert result.status is Status.PASS
    assert "registered to ESS 198.51.100.20" in result.summary
    assert result.metrics["attempts"] == 61.0


@pytest.mark.anyio
async def test_fail_names_frame_and_times() -> None:
    result = await run_mgc(capture=str(MGC / "early_crossing.pcap"))
    assert result.status is Status.FAIL
    assert "frame 34 at +2:00" in result.summary
    (table,) = [e for e in result.evidence if e.title == "findings"]
    assert table.rows[3][:4] == ("192.0.2.50", "FAIL", "mgc.early-crossing", "34")


@pytest.mark.anyio
async def test_gateway_text_in_the_section_overrides_the_list(tmp_path: Path) -> None:
    text = tmp_path / "gw.txt"
    text.write_text("set mgc list 192.0.2.10,192.0.2.11\nset reset-times transition-point 2\n")
    result = await run_mgc(capture=str(MGC / "failover_ess.pcap"), gateway_text=str(text))
    assert result.status is Status.FAIL
    assert "not in the MGC list" in result.summary


@pytest.mark.anyio
async def test_error_on_capture_without_gateway_traffic_or_missing_file(tmp_path: Path) -> None:
    result = await run_mgc(capture=str(MGC / "no_gateway.pcap"))
    assert result.status is Status.ERROR
    assert "no H.248 registration traffic from gateway 192.0.2.50" in result.summary
    missing = await run_mgc(capture=str(tmp_path / "nope.pcap"))
    assert missing.status is Status.ERROR
    assert "\n" not in missing.summary
