"""The CM checks against the lab site: PASS as configured, FAIL/WARN/ERROR under faults."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re

import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.checks.cm_cti_link import listed_links
from ecc_doctor.lab import Lab
from ecc_doctor.lab.cm_ossi import LAB_FIELDS, STATUS_CTI, answer
from ecc_doctor.models import Result, Status
from ecc_doctor.probes.sat_ossi import parse_ossi
from ecc_doctor.probes.sat_records import CtiLinkStatus, from_ossi
from ecc_doctor.runner import run_checks

from .conftest import CM_CHECKS, cm_of, run

pytestmark = pytest.mark.anyio


def secrets_absent(lab: Lab, results: list[Result]) -> None:
    text = json.dumps([r.to_dict() for r in results])
    emu = cm_of(lab)
    assert emu.password not in text
    assert emu.aes_password not in text


async def sessions_closed(lab: Lab) -> int:
    emu = cm_of(lab)
    for _ in range(100):
        if emu.status()["open_sessions"] == 0:
            break
        await asyncio.sleep(0.02)
    return int(emu.status()["open_sessions"])


async def test_every_cm_check_passes_on_the_lab(lab: Lab) -> None:
    results = await run(lab, "cm")
    assert [r.check_id for r in results] == CM_CHECKS
    by_id = {r.check_id: r for r in results}
    assert {r.check_id: r.status for r in results} == dict.fromkeys(CM_CHECKS, Status.PASS)
    assert by_id["cm.cti-link"].summary == "CTI link 1 established, messages flowing"
    assert by_id["cm.cti-link"].metrics["link1.msgs_sent"] >= 15
    assert by_id["cm.cti-link"].source == "ECC app note 9.1"
    assert by_id["cm.license"].summary == "CM license: Computer Telephony Adjunct Links = y"
    assert by_id["cm.cti-link-admin"].summary == "CTI link 1 administered as ADJ-IP"
    assert by_id["cm.ucid"].summary == "UCID created (node ID 01) and sent to ASAI"
    assert "AESVCS enabled on procr 8765" in by_id["cm.ip-services"].summary
    for r in results:
        kinds = {e.kind for e in r.evidence}
        assert {"table", "transcript"} <= kinds, r.check_id
    secrets_absent(lab, results)
    assert cm_of(lab).status()["logoffs"] == 6  # one SAT session per check, logged off
    assert await sessions_closed(lab) == 0


async def test_cti_link_down_fails_naming_link_and_state(lab: Lab) -> None:
    await lab.fault("cti-link-down")
    (result,) = await run(lab, "cm.cti-link")
    assert result.status is Status.FAIL
    assert result.summary == "CTI link 1 to aes70 is down (expected established)"
    secrets_absent(lab, [result])
    await lab.heal("cti-link-down")
    (healed,) = await run(lab, "cm.cti-link")
    assert healed.status is Status.PASS
    assert await sessions_closed(lab) == 0


async def test_counters_moving_and_stuck_with_a_second_sample(lab: Lab) -> None:
    (moving,) = await run(lab, "cm.cti-link", cti_link_sample_s=0.6)
    assert moving.status is Status.PASS
    assert moving.summary == "CTI link 1 established, messages flowing"
    tables = [e for e in moving.evidence if e.kind == "table"]
    assert len(tables) == 2
    await lab.fault("cti-link-stuck")
    (stuck,) = await run(lab, "cm.cti-link", cti_link_sample_s=0.6)
    assert stuck.status is Status.WARN
    # the interval really waited (at least the configured 0.6 s), not the configured one
    assert re.search(r"message counters did not move in (0\.[6-9]|[1-9]\.\d) s", stuck.summary)
    assert "link 1 (sent" in stuck.summary


async def test_configured_link_not_listed_fails_naming_it(lab: Lab) -> None:
    results = await run(lab, "cm.cti-link", "cm.cti-link-admin", cti_links=[1, 2])
    by_id = {r.check_id: r for r in results}
    assert by_id["cm.cti-link"].status is Status.FAIL
    assert by_id["cm.cti-link"].summary == "CTI link 2 is not listed by 'status aesvcs cti-link'"
    assert by_id["cm.cti-link-admin"].status is Status.FAIL
    assert by_id["cm.cti-link-admin"].summary == (
        "CTI link 2 is not administered (CM: Identifier not assigned)"
    )


async def test_expectations_that_differ_fail(lab: Lab) -> None:
    results = await run(
        lab,
        "cm.cti-link",
        "cm.cti-link-admin",
        "cm.ip-services",
        expected_extension="4444",
        aesvcs_port=9999,
        aes_server_name="aes71",
    )
    by_id = {r.check_id: r.summary for r in results if r.status is Status.FAIL}
    assert by_id["cm.cti-link"] == "CTI link 1 is served by aes70 (expected aes71)"
    assert by_id["cm.cti-link-admin"] == "CTI link 1 has Extension 3332 (expected 4444)"
    assert by_id["cm.ip-services"] == (
        "AESVCS is on procr 8765 enabled y (expected procr 9999, enabled y); "
        "no AE Services Server 'aes71' in ip-services (AE Services Administration page)"
    )


async def test_refused_login_is_error_for_every_cm_check(lab: Lab) -> None:
    await lab.fault("cm-auth-fail")
    results = await run(lab, "cm")
    assert {r.status for r in results} == {Status.ERROR}
    for r in results:  # one check is refused; the others do not try (account lockout)
        assert r.summary.removeprefix("not tried: ").startswith(
            "CM refused the login for user 'ecc-doctor' at 127.0.0.1:"
        )
    assert sum(not r.summary.startswith("not tried: ") for r in results) == 1
    assert cm_of(lab).status()["refused"] == 1
    secrets_absent(lab, results)
    assert await sessions_closed(lab) == 0


async def test_hung_sat_is_error_within_the_prompt_timeout(lab: Lab) -> None:
    await lab.fault("sat-hang")
    (result,) = await run(lab, "cm.license", prompt_timeout=0.5)
    assert result.status is Status.ERROR
    assert "no 'Terminal Type (...): [513]' prompt within 0.5 s" in result.summary
    assert await sessions_closed(lab) == 0


async def test_network_flap_is_error_then_recovers(lab: Lab) -> None:
    await lab.fault("network-flap")
    (down,) = await run(lab, "cm.ucid")
    assert down.status is Status.ERROR
    assert "connection refused" in down.summary
    await lab.heal("network-flap")
    (up,) = await run(lab, "cm.ucid")
    assert up.status is Status.PASS


async def test_second_sample_reports_the_interval_actually_waited(lab: Lab) -> None:
    await lab.fault("cti-link-stuck")
    config = dataclasses.replace(
        lab.config, cm=dataclasses.replace(lab.config.cm, cti_link_sample_s=60.0)
    )
    (result,) = await run_checks(select(["cm.cti-link"], all_checks()), config, timeout_override=2)
    assert result.status is Status.WARN
    titles = [e.title for e in result.evidence if e.kind == "table"]
    assert len(titles) == 2
    assert "after 60 s" not in titles[1]
    assert "in 60 s" not in result.summary
    waited = float(result.summary.split("did not move in ")[1].split(" s")[0])
    assert 0 < waited < 60
    assert f"after {waited:.1f} s" in titles[1]
    assert "capped" in titles[1]


async def test_cti_link_admin_defaults_to_the_links_cm_lists(lab: Lab) -> None:
    cm_of(lab).cti_link = 2  # the site's only CTI link is 2, and cti_links is left empty
    results = await run(lab, "cm.cti-link", "cm.cti-link-admin", cti_links=[])
    by_id = {r.check_id: r for r in results}
    assert by_id["cm.cti-link"].status is Status.PASS
    assert by_id["cm.cti-link-admin"].status is Status.PASS, by_id["cm.cti-link-admin"].summary
    assert by_id["cm.cti-link-admin"].summary == "CTI link 2 administered as ADJ-IP"
    assert await sessions_closed(lab) == 0


async def test_no_listed_link_fails_alike_in_both_link_checks(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the lab CM lists no CTI link at all (its records for 'status aesvcs cti-link' are empty)
    emu = cm_of(lab)
    records = emu._records
    monkeypatch.setattr(emu, "_records", lambda c: [] if c == STATUS_CTI else records(c))
    results = await run(lab, "cm.cti-link", "cm.cti-link-admin", cti_links=[])
    for result in results:
        assert result.status is Status.FAIL, (result.check_id, result.summary)
        assert result.summary == (
            "no AE Services CTI link is administered ('status aesvcs cti-link' lists none)"
        )
        assert [e.title for e in result.evidence if e.kind == "table"] == ["status aesvcs cti-link"]
    assert await sessions_closed(lab) == 0


def test_listed_links_are_the_default_with_the_listing_as_evidence() -> None:
    rows = [
        {"CTI Link": n, "Version": "7", "Mnt Busy": "no", "AE Services Server": "aes70",
         "Service State": "established", "Msgs Sent": "5", "Msgs Rcvd": "5"}
        for n in ("1", "3")
    ]  # fmt: skip
    lines = answer(STATUS_CTI, LAB_FIELDS[STATUS_CTI], rows)
    status = from_ossi(STATUS_CTI, parse_ossi(lines))
    assert isinstance(status, CtiLinkStatus)
    links, evidence = listed_links(status)
    assert links == [1, 3]
    assert evidence.title == "status aesvcs cti-link"


@pytest.mark.parametrize("termtype", ["ossi", "vt220"])
async def test_another_applications_link_down_says_how_to_judge_only_eccs(
    lab: Lab, termtype: str
) -> None:
    cm_of(lab).other_links = {2: "down"}  # a second AESVCS link, not ECC's (QA 3a G4)
    (every,) = await run(lab, "cm.cti-link", cti_links=[], termtype=termtype)
    assert every.status is Status.FAIL
    assert every.summary.startswith("CTI link 2 to aes-other is down (expected established)")
    assert "set [cm] cti_links to the link of app note 5.2 to judge ECC's only" in every.summary
    (ecc_only,) = await run(lab, "cm.cti-link", cti_links=[1], termtype=termtype)
    assert ecc_only.status is Status.PASS, ecc_only.summary


async def test_a_host_key_trusted_on_first_use_is_named_in_the_result(lab: Lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """QA 4a F8: the sign-off record (table, JSON, JUnit) names the key that was trusted,
    with its fingerprint, not only the transcript; a key already known adds no such line."""
    known = tmp_path / "known_hosts"
    known.touch()
    [first] = await run(lab, "cm.license", known_hosts=known, accept_new_host_key=True)
    assert first.status is Status.PASS, first.summary
    key = cm_of(lab)._key
    assert key is not None
    port = lab.config.cm.port
    trusted = [d for d in first.details if "trusted (accept_new_host_key)" in d]
    assert len(trusted) == 1
    assert f"new host key ssh-ed25519 {key.get_fingerprint()} for 127.0.0.1:{port}" in trusted[0]
    [again] = await run(lab, "cm.license", known_hosts=known, accept_new_host_key=True)
    assert again.status is Status.PASS
    assert not [d for d in again.details if "trusted" in d]
