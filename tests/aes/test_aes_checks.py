"""aes.dmcc-session and aes.dmcc-summary through the runner, against the lab and its faults."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.config import SiteConfig
from ecc_doctor.lab import Lab
from ecc_doctor.models import Result, Status
from ecc_doctor.secrets import Secret

from .conftest import aes_of

pytestmark = pytest.mark.anyio


async def run(config: SiteConfig, *ids: str) -> dict[str, Result]:
    from ecc_doctor.runner import run_checks

    results = await run_checks(select(list(ids), all_checks()), config)
    return {r.check_id: r for r in results}


def with_aes(lab: Lab, **changes: object) -> SiteConfig:
    return dataclasses.replace(lab.config, aes=dataclasses.replace(lab.config.aes, **changes))


def assert_no_secret(lab: Lab, result: Result) -> None:
    dump = json.dumps(result.to_dict())
    assert aes_of(lab).password not in dump


async def test_both_checks_pass_against_the_lab(aes_lab: Lab) -> None:
    results = await run(aes_lab.config, "aes")
    session, summary = results["aes.dmcc-session"], results["aes.dmcc-summary"]
    assert session.status is Status.PASS, session.summary
    assert "as ctiuser" in session.summary and "AES 7.0.0" in session.summary
    assert session.metrics["session_duration_s"] == 120.0
    assert "open_ms" in session.metrics
    assert session.source == "ECC app note 6.7/9.2"
    assert summary.status is Status.PASS, summary.summary
    assert "192.0.2.50:45120" in summary.summary
    table = next(e for e in summary.evidence if e.kind == "table")
    assert table.columns[1] == "User"
    assert any(row[2] == "EngagementCallControl" for row in table.rows)
    for result in results.values():
        assert_no_secret(aes_lab, result)
        assert any(e.kind == "transcript" for e in result.evidence)


async def test_wrong_password_fails_naming_the_user(aes_lab: Lab) -> None:
    config = with_aes(aes_lab, password=Secret("definitely-wrong"))
    result = (await run(config, "aes.dmcc-session"))["aes.dmcc-session"]
    assert result.status is Status.FAIL
    assert result.summary == "AES refused the CTI user ctiuser (invalidApplicationInfo)"
    assert "definitely-wrong" not in json.dumps(result.to_dict())


async def test_license_exhaustion_warns_with_the_reason(aes_lab: Lab) -> None:
    await aes_lab.fault("dmcc-license-exhausted")
    result = (await run(aes_lab.config, "aes.dmcc-session"))["aes.dmcc-session"]
    assert result.status is Status.WARN
    assert "maxNumberSessions" in result.summary
    await aes_lab.heal("dmcc-license-exhausted")
    result = (await run(aes_lab.config, "aes.dmcc-session"))["aes.dmcc-session"]
    assert result.status is Status.PASS


async def test_aes_restart_errors_during_the_outage_and_passes_after(aes_lab: Lab) -> None:
    await aes_lab.fault("aes-restart")
    results = await run(aes_lab.config, "aes")
    session = results["aes.dmcc-session"]
    assert session.status is Status.ERROR
    assert "connection refused" in session.summary
    summary = results["aes.dmcc-summary"]
    assert summary.status is Status.FAIL
    assert "no DMCC session of CTI user ctiuser" in summary.summary
    await aes_lab.heal("aes-restart")
    results = await run(aes_lab.config, "aes")
    assert results["aes.dmcc-session"].status is Status.PASS
    assert results["aes.dmcc-summary"].status is Status.PASS


async def test_network_flap_is_an_error_not_a_hang(aes_lab: Lab) -> None:
    await aes_lab.fault("network-flap")
    results = await run(aes_lab.config, "aes")
    assert {r.status for r in results.values()} == {Status.ERROR}
    await aes_lab.heal("network-flap")
    results = await run(aes_lab.config, "aes")
    assert {r.status for r in results.values()} == {Status.PASS}


async def test_summary_fails_when_the_far_end_is_not_the_ecc_service(aes_lab: Lab) -> None:
    config = with_aes(aes_lab, expected_far_end="198.51.100.7")
    result = (await run(config, "aes.dmcc-summary"))["aes.dmcc-summary"]
    assert result.status is Status.FAIL
    assert "none from the ECC service at 198.51.100.7" in result.summary
    assert "192.0.2.50:45120" in result.summary


async def test_summary_without_far_end_needs_a_session_of_the_user(aes_lab: Lab) -> None:
    config = with_aes(aes_lab, expected_far_end="", ecc_user="otheruser")
    result = (await run(config, "aes.dmcc-summary"))["aes.dmcc-summary"]
    assert result.status is Status.FAIL
    assert "no DMCC session of CTI user otheruser" in result.summary


async def test_summary_skips_without_oam_url(aes_lab: Lab) -> None:
    result = (await run(with_aes(aes_lab, oam_url=""), "aes.dmcc-summary"))["aes.dmcc-summary"]
    assert result.status is Status.SKIP
    assert "oam_url" in result.summary


async def test_summary_on_a_wrong_page_is_an_error_naming_the_path(aes_lab: Lab) -> None:
    config = with_aes(aes_lab, oam_summary_path="/aesvcs/view/welcome/welcome.xhtml")
    result = (await run(config, "aes.dmcc-summary"))["aes.dmcc-summary"]
    assert result.status is Status.ERROR
    assert result.summary == (
        "no DMCC session table on /aesvcs/view/welcome/welcome.xhtml (is the page path right?)"
    )


async def test_checks_skip_without_an_aes_section() -> None:
    results = await run(SiteConfig(), "aes")
    assert {r.status for r in results.values()} == {Status.SKIP}


async def test_check_cut_off_by_its_time_limit_leaves_no_session(aes_lab: Lab) -> None:
    from ecc_doctor.runner import run_checks

    specs = select(["aes.dmcc-session"], all_checks())
    statuses = set()
    for step in range(1, 40):
        limit = step * 0.0003  # cut off while connecting, starting, in the keepalive, stopping
        (result,) = await run_checks(specs, aes_lab.config, timeout_override=limit)
        statuses.add(result.status)
        if result.status is Status.ERROR:
            assert result.summary.startswith("timed out after"), result.summary
        else:
            assert result.status is Status.PASS, result.summary
        assert aes_lab.status()["aes"]["open_sessions"] == 0, f"session left after {limit} s"
    assert Status.ERROR in statuses


async def test_aes_restart_comes_back_by_itself(aes_lab: Lab) -> None:
    aes = aes_of(aes_lab)
    aes.restart_s = 1.0  # long enough for one refused connection even on a busy machine
    await aes_lab.fault("aes-restart")
    assert aes.status()["restarting"] is True
    assert "aes-restart" in aes_lab.active
    assert aes_lab.status()["lab"]["active_faults"] == ["aes-restart"]
    during = (await run(aes_lab.config, "aes.dmcc-session"))["aes.dmcc-session"]
    assert during.status is Status.ERROR
    assert "connection refused" in during.summary
    for _ in range(200):  # bounded: the lab's AES restarts in restart_s
        if not aes.status()["restarting"]:
            break
        await asyncio.sleep(0.05)
    assert aes.status()["restarting"] is False
    # AES is back by itself: the lab no longer lists the fault as in force (QA 2 #9)
    assert "aes-restart" not in aes_lab.active
    assert aes_lab.status()["lab"]["active_faults"] == []
    results = await run(aes_lab.config, "aes")
    assert results["aes.dmcc-session"].status is Status.PASS
    assert results["aes.dmcc-summary"].status is Status.PASS
    await aes_lab.heal("aes-restart")  # healing an AES that is already back is harmless
    assert (await run(aes_lab.config, "aes.dmcc-session"))["aes.dmcc-session"].status is (
        Status.PASS
    )
