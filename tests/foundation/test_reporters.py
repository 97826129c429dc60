"""Reporters: golden files, JUnit read by a real JUnit library and checked against an XSD."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
import xmlschema
from junitparser import Error, Failure, JUnitXml, Skipped

from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.reporters import console, json_report, junit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GOLDEN = FIXTURES / "reports"
XSD = xmlschema.XMLSchema(FIXTURES / "junit" / "junit.xsd")
T0 = datetime(2026, 11, 21, 10, 42, 5, tzinfo=UTC)
UPDATE = os.environ.get("ECCD_UPDATE_GOLDEN") == "1"


def sample() -> list[Result]:
    link_table = Evidence.table(
        "status aesvcs cti-link",
        ("CTI Link", "Version", "AE Services Server", "Service State", "Msgs Sent", "Msgs Rcvd"),
        [("1", "7", "aes70", "down", "15", "15")],
    )
    return [
        Result(
            "net.reachability",
            Status.PASS,
            "5 endpoints accept connections",
            duration_s=0.012,
            metrics={"cm.sat.connect_ms": 0.4},
            started_at=T0,
        ),
        Result(
            "cm.cti-link",
            Status.FAIL,
            "CTI link 1 to aes70 is down (expected established)",
            duration_s=1.5,
            evidence=(link_table,),
            started_at=T0,
        ),
        Result(
            "aes.dmcc-session",
            Status.ERROR,
            "127.0.0.1:4721: connection refused",
            duration_s=0.003,
            started_at=T0,
        ),
        Result(
            "ecc.event-roundtrip",
            Status.WARN,
            "ACTIVE after 2.4 s exceeds the 1 s budget",
            duration_s=3.25,
            metrics={"step.active_ms": 2400.0},
            started_at=T0,
            evidence=(Evidence("ecc", "transcript", ("+0.001 > POST /calls\x07 bell",)),),
        ),
        Result(
            "presence.im-archive", Status.SKIP, "not configured: no [sftp] section", started_at=T0
        ),
    ]


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_console_table_golden() -> None:
    golden("table.txt", console.render(sample(), width=110))


def test_json_golden_and_schema_fields() -> None:
    text = json_report.render(sample(), site="Plant A", generated_at=T0)
    golden("report.json", text.replace(f'"version": "{_version()}"', '"version": "X"'))
    doc = json.loads(text)
    assert doc["schema_version"] == 1
    assert doc["summary"]["FAIL"] == 1 and doc["summary"]["exit_code"] == 1
    for r in doc["results"]:
        assert {"id", "status", "summary", "duration_s", "metrics", "evidence"} <= r.keys()


def _version() -> str:
    from ecc_doctor import __version__

    return __version__


def test_junit_golden() -> None:
    golden("junit.xml", junit.render(sample(), site="Plant A", hostname="lab", timestamp=T0))


@pytest.mark.parametrize("warn_as", ["pass", "failure", "skipped"])
def test_junit_is_valid_and_counts_match_for_a_real_consumer(tmp_path: Path, warn_as: str) -> None:
    path = tmp_path / "out.xml"
    path.write_text(junit.render(sample(), warn_as=warn_as, hostname="h", timestamp=T0))
    XSD.validate(str(path))
    xml = JUnitXml.fromfile(str(path))
    cases = {case.name: case for suite in xml for case in suite}
    assert set(cases) == {r.check_id for r in sample()}
    assert {s.name for s in xml} == {"net", "cm", "aes", "ecc", "presence"}
    assert isinstance(cases["cm.cti-link"].result[0], Failure)
    assert isinstance(cases["aes.dmcc-session"].result[0], Error)
    assert isinstance(cases["presence.im-archive"].result[0], Skipped)
    warn = cases["ecc.event-roundtrip"]
    expected = {"pass": None, "failure": Failure, "skipped": Skipped}[warn_as]
    if expected is None:
        assert warn.is_passed and "WARN: ACTIVE after 2.4 s" in (warn.system_out or "")
    else:
        assert isinstance(warn.result[0], expected)
    xml.update_statistics()
    assert xml.tests == 5
    assert xml.failures == 1 + (warn_as == "failure")
    assert xml.errors == 1
    assert xml.skipped == 1 + (warn_as == "skipped")


def test_junit_removes_characters_illegal_in_xml() -> None:
    text = junit.render(sample(), hostname="h", timestamp=T0)
    assert "\x07" not in text and "POST /calls bell" in text


def test_junit_never_has_an_empty_suite() -> None:
    text = junit.render([], hostname="h", timestamp=T0)
    XSD.validate(text)
    assert 'tests="1"' in text and "no checks were selected" in text


def test_exit_code_rules() -> None:
    assert json_report.exit_code([sample()[0], sample()[3], sample()[4]]) == 0
    assert json_report.exit_code([sample()[3]], strict=True) == 1
    assert json_report.exit_code(sample()) == 1


def test_root_has_only_the_attributes_jenkins_junit_schema_allows() -> None:
    """Jenkins' xUnit plugin validates against junit-10.xsd: <testsuites> allows name, time,
    tests, failures, disabled and errors only (no skipped); our XSD is as strict there."""
    text = junit.render(sample(), site="Plant A", hostname="h", timestamp=T0)
    XSD.validate(text)
    root = ET.fromstring(text)
    assert set(root.attrib) <= {"name", "time", "tests", "failures", "disabled", "errors"}
    assert root.get("skipped") is None
    assert [s.get("skipped") for s in root] == ["0", "0", "0", "0", "1"]
    root.set("skipped", "1")
    assert not XSD.is_valid(ET.tostring(root, encoding="unicode"))


def test_root_name_does_not_repeat_the_program_name() -> None:
    lab = ET.fromstring(junit.render(sample(), site="ecc-doctor lab", hostname="h", timestamp=T0))
    plant = ET.fromstring(junit.render(sample(), site="Plant A", hostname="h", timestamp=T0))
    unnamed = ET.fromstring(junit.render(sample(), hostname="h", timestamp=T0))
    assert lab.get("name") == "ecc-doctor lab"
    assert plant.get("name") == "ecc-doctor Plant A"
    assert unnamed.get("name") == "ecc-doctor"
