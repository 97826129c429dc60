"""``ecc-doctor analyze`` and ``ecc-doctor ladder`` end to end, including bad input."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import FIXTURES, PUBLIC_CAPTURES, require_shared

from ecc_doctor.cli import cli

SIP = FIXTURES / "sip"
PASSWORDS = SIP / "passwords.txt"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_table_output_and_exit_codes() -> None:
    code, out, _ = run("analyze", str(SIP / "register-udp.pcap"), str(SIP / "prack-ok-tcp.pcap"))
    assert code == 0
    assert "✓ PASS  register sip:alice@lab.example" in out
    assert "✓ PASS  invite" in out and "1 reliable 1xx, 1 PRACK" in out
    assert out.rstrip().endswith("2 flows: 2 PASS")
    code, out, _ = run("analyze", str(SIP / "prack-bad-rack-tcp.pcap"))
    assert code == 1 and "FAIL sip.prack.rack" in out
    # one flow is "1 flow", in the file's line and in the summary
    assert ", 1 flow\n" in out and "1 flows" not in out
    assert out.rstrip().endswith("1 flow: 1 FAIL")


def test_wrong_password_named_and_never_printed() -> None:
    password = PASSWORDS.read_text().split(":", 1)[1].strip()
    code, out, err = run(
        "analyze", str(SIP / "register-wrong-password.pcap"), "--password-file", str(PASSWORDS)
    )
    assert code == 1
    assert "digest response does not match the password for user alice: wrong password" in out
    assert password not in out + err


def test_json_lists_flows_with_findings(tmp_path: Path) -> None:
    code, out, _ = run(
        "analyze",
        str(SIP / "prack-rseq-jump-udp.pcap"),
        str(SIP / "register-tcp.pcap"),
        "--format",
        "json",
        "--json",
        str(tmp_path / "r.json"),
    )
    assert code == 1
    doc = json.loads(out)
    assert doc == json.loads((tmp_path / "r.json").read_text())
    assert doc["status"] == "FAIL"
    kinds = {f["kind"]: f for f in doc["flows"]}
    assert set(kinds) == {"invite", "register"}
    reg = kinds["register"]
    assert reg["aor"] == "sip:alice@lab.example" and reg["call_id"] and reg["status"] == "PASS"
    (jump,) = [x for x in kinds["invite"]["findings"] if x["rule"] == "sip.prack.rseq"]
    assert (
        jump["severity"] == "FAIL" and len(jump["frames"]) == 2 and "RSeq jumped" in jump["message"]
    )


def test_junit_output(tmp_path: Path) -> None:
    code, out, _ = run(
        "analyze",
        str(SIP / "register-wrong-password.pcap"),
        str(SIP / "prack-ok-udp.pcap"),
        "--format",
        "junit",
        "--junit",
        str(tmp_path / "j.xml"),
    )
    assert code == 1
    root = ET.fromstring(out)
    cases = {c.get("name", ""): c for c in root.iter("testcase")}
    assert any(n.startswith("sip.register:") for n in cases)
    assert any(n.startswith("sip.prack:") for n in cases)
    failed = [n for n, c in cases.items() if c.find("failure") is not None]
    assert len(failed) == 1 and failed[0].startswith("sip.register:")
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "1"


def test_public_capture_through_the_cli() -> None:
    path = require_shared(PUBLIC_CAPTURES / "sipnab-sip-auth-failure.pcapng")
    code, out, _ = run("analyze", str(path))
    assert code == 1 and "403 Forbidden after the challenge" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/x.pcap"], "/nonexistent/x.pcap: no such file"),
        (["--rules", "register,bogus", "X"], "--rules: unknown rule(s) bogus"),
        (["--ports", "5060,abc", "X"], "--ports: expected port numbers"),
        (["--password-file", "/nonexistent/pw", "X"], "cannot read password file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    args = [str(SIP / "register-udp.pcap") if a == "X" else a for a in args]
    code, out, err = run("analyze", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_not_a_capture_is_an_error_verdict(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.pcap"
    bogus.write_text("this is a text file, not a capture\n")
    junit = tmp_path / "r.xml"
    code, out, err = run("analyze", str(bogus), "--junit", str(junit))
    # exit 1 and a report (QA 3b #1): the capture is bad, the invocation is not
    assert code == 1 and err == ""
    assert f"{bogus}: E ERROR: not a pcap or pcapng file" in out
    assert '<error message="ERROR: ' in junit.read_text() and "not a pcap or pcapng" in (
        junit.read_text()
    )


def test_truncated_capture_is_a_note(tmp_path: Path) -> None:
    data = (SIP / "register-udp.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2])
    code, out, _ = run("analyze", str(cut))
    assert code == 0  # what was read is fine; the cut is reported, not a failure
    assert "note: WARN capture.truncated" in out


def test_malformed_sip_is_a_finding(tmp_path: Path) -> None:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    def pkt(payload: bytes) -> Ether:
        return (
            Ether(src="00:00:5e:00:53:01", dst="00:00:5e:00:53:02")
            / IP(src="192.0.2.1", dst="192.0.2.2")
            / UDP(sport=5060, dport=5060)
            / payload
        )

    frames = [
        pkt(b"SIP/2.0 200 OK\r\nCSeq: x\r\n\r\n"),  # a start line, headers missing
        pkt(b"INVITE sip:bob@example.com SIP/2.0\r\n\x00\xff\xfe junk\r\n\r\n"),
        pkt(
            b"REGISTER sip:example.com SIP/2.0\r\nCall-ID: r\r\nCSeq: 1 REGISTER\r\n"
            b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nVia: SIP/2.0/UDP h\r\n"
            b"Content-Length: 999\r\n\r\n"
        ),
    ]
    path = tmp_path / "bad.pcap"
    wrpcap(str(path), frames)
    code, out, _ = run("analyze", str(path), "-v")
    assert code in (0, 1)
    assert "sip.parse" in out and "CSeq missing or malformed" in out


def test_ladder_text_and_svg(tmp_path: Path) -> None:
    code, out, _ = run("analyze", str(SIP / "prack-bad-rack-tcp.pcap"), "--format", "json")
    call_id = json.loads(out)["flows"][0]["call_id"]
    svg = tmp_path / "l.svg"
    code, out, _ = run(
        "ladder",
        str(SIP / "prack-bad-rack-tcp.pcap"),
        "--call-id",
        call_id,
        "--svg",
        str(svg),
        "--width",
        "100",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("frame time") and "127.0.0.1:" in lines[0]
    assert any("PRACK" in line and "<! FAIL sip.prack.rack" in line for line in lines)
    assert any("183 Session Progress" in line for line in lines)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "PRACK" in svg.read_text() and "sip.prack.rack" in svg.read_text()
    # every arrow's label fits between the two lifelines it joins (monospace text about
    # 7.3 px a character): "183 Session Progress  (1 INVITE)" used to run past them
    ns = "{http://www.w3.org/2000/svg}"
    lifelines = sorted(
        {float(x.get("x1", 0)) for x in root.iter(f"{ns}line") if x.get("y1") == "40"}
    )
    assert len(lifelines) == 2
    gap = lifelines[1] - lifelines[0]
    labels = [t.text or "" for t in root.iter(f"{ns}text") if t.get("text-anchor") == "middle"]
    assert any("183 Session Progress" in t for t in labels)
    assert max(len(t) for t in labels) * 7.3 < gap


def test_ladder_unknown_call_id_exit_2() -> None:
    code, _, err = run("ladder", str(SIP / "prack-ok-udp.pcap"), "--call-id", "nope")
    assert code == 2 and "Call-ID 'nope' is not in the capture (Call-IDs seen:" in err


def test_mgc_rules_are_wired() -> None:
    path = require_shared(PUBLIC_CAPTURES / "heplify-FAX-Call-t38-CA-TDM-SIP-FB-1.pcap")
    code, out, _ = run("analyze", str(path), "--rules", "mgc", "--format", "json")
    kinds = {f["kind"] for f in json.loads(out)["flows"]}
    assert kinds and all(k.startswith("mgc") for k in kinds)
    assert code in (0, 1)
