"""The analyze JSON and JUnit a pipeline reads (QA 3b #7, #8): one document shape for analyze
and mgc analyze, every flow counted (mgc too, and the ones past the listing caps), a testcase
per file with its time."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner
from tests.conftest import FIXTURES
from tests.pcapwrite import UDP, ipv4_frame, write_pcap

from ecc_doctor.captures.sip.analyze import MAX_GOOD_FLOWS
from ecc_doctor.cli import cli

MGC = FIXTURES / "mgc"
A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


def _registrations(path: Path, count: int) -> Path:
    """*count* REGISTER/200 flows, each of its own user and Call-ID."""
    frames = []
    for i in range(count):
        common = (
            f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{i}\r\nFrom: <sip:u{i}@lab.example>;"
            f"tag=f{i}\r\nCall-ID: c{i}\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n"
        )
        ask = (
            f"REGISTER sip:lab.example SIP/2.0\r\n{common}To: <sip:u{i}@lab.example>\r\n"
            f"Contact: <sip:u{i}@10.0.0.1>\r\nExpires: 60\r\n\r\n"
        )
        ok = (
            f"SIP/2.0 200 OK\r\n{common}To: <sip:u{i}@lab.example>;tag=t{i}\r\n"
            f"Contact: <sip:u{i}@10.0.0.1>;expires=60\r\n\r\n"
        )
        frames.append(ipv4_frame(UDP, ask.encode(), 5060, 5060))
        frames.append(ipv4_frame(UDP, ok.encode(), 5060, 5060, src=B, dst=A))
    return write_pcap(path, frames)


def test_flows_past_the_listing_cap_have_a_testcase_and_every_flow_is_counted(
    tmp_path: Path,
) -> None:
    path = _registrations(tmp_path / "many.pcap", MAX_GOOD_FLOWS + 3)
    junit, report = tmp_path / "r.xml", tmp_path / "r.json"
    code, out, _ = run(
        "analyze", str(path), "--junit", str(junit), "--json", str(report), "--format", "json"
    )
    assert code == 0
    assert out == report.read_text()  # the same document printed and written
    # a listed flow per line (written through json's C encoder: 25,000 flows in a fraction
    # of a second, not the seconds of its indenting pure-Python one)
    flow_lines = [line for line in out.splitlines() if line.startswith('    {"file": ')]
    assert len(flow_lines) == MAX_GOOD_FLOWS
    cases = {c.get("name"): c for c in ET.fromstring(junit.read_bytes()).iter("testcase")}
    unlisted = cases[f"capture.not-listed:PASS [{path}]"]
    assert unlisted.get("classname") == "capture" and not list(unlisted)  # a passing case
    file_case = cases[f"capture.file:{path}"]
    assert float(file_case.get("time", "0")) > 0  # the time the file took
    doc = json.loads(report.read_text())
    total = MAX_GOOD_FLOWS + 3
    assert doc["summary"]["flows"]["total"] == doc["summary"]["flows"]["PASS"] == total
    assert doc["summary"]["exit_code"] == 0 and doc["tool"]["name"] == "ecc-doctor"
    (entry,) = doc["files"]
    assert entry["flows_total"] == total and entry["flows"] == MAX_GOOD_FLOWS
    assert entry["not_listed"] == {"PASS": 3}


def test_mgc_flows_are_counted_and_every_file_entry_has_every_key() -> None:
    capture, site = str(MGC / "early_crossing.pcap"), str(MGC / "site.toml")
    code, out, _ = run("analyze", capture, "--rules", "mgc", "--config", site, "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["status"] == "FAIL"
    (entry,) = doc["files"]
    # the keys a SIP analysis gives are there even when only the mgc rules ran
    for key in ("messages", "duplicates_ignored", "unparsed", "flows_not_listed", "not_listed"):
        assert key in entry
    assert entry["counts"] == {"mgc-failover.FAIL": 1} and entry["flows_total"] == 1
    assert doc["summary"]["flows"]["FAIL"] == 1 and doc["summary"]["exit_code"] == 1
    # mgc analyze writes the same document for the same capture and verdict
    code2, out2, _ = run("mgc", "analyze", capture, "--config", site, "--format", "json")
    doc2 = json.loads(out2)
    assert code2 == 1 and doc2["schema"] == doc["schema"] == "ecc-doctor/analyze"
    assert doc2["status"] == "FAIL" and doc2["flows"] == doc["flows"]
    # and the JUnit names the flow after the check that judges it in `check`
    code, out, _ = run("analyze", capture, "--rules", "mgc", "--config", site, "--format", "junit")
    names = [c.get("name") for c in ET.fromstring(out).iter("testcase")]
    assert any(n.startswith("mgc.failover:") for n in names), names


def test_the_timeline_json_names_its_schema() -> None:
    code, out, _ = run(
        "mgc", "timeline", "--gateway-text", str(MGC / "show_mgc_list.txt"), "--format", "json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["schema"] == "ecc-doctor/mgc-timeline" and doc["schema_version"] == 1
    assert doc["attempts"]
