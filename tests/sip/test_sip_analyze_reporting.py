"""``ecc-doctor analyze`` / ``ladder`` reporting (QA session 5 #6, #15, #17, #22, #23): a
damaged capture is not a clean one, mgc added by --config does not judge SIP captures, the
--jobs help tells what may differ, a partial list of Call-IDs says so, and JUnit testcases
are named per file."""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import FIXTURES, require_tool
from tests.pcapwrite import UDP, ipv4_frame, write_pcap

from ecc_doctor.cli import cli

SIP = FIXTURES / "sip"
MGC = FIXTURES / "mgc"
GOOD = SIP / "register-udp.pcap"  # 12 SIP messages, one passing REGISTER flow
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output + result.stderr
    assert "internal error" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def _record(length: int, data: bytes = b"") -> bytes:
    return struct.pack("<IIII", 1000, 0, length, length) + data


# -- #6: a capture whose reading stopped on a corrupt record --------------------------------


@pytest.fixture
def huge_first(tmp_path: Path) -> Path:
    """The first record claims 2 GiB: not a single frame can be read."""
    path = tmp_path / "hugerec.pcap"
    path.write_bytes(PCAP_HEADER + _record(1 << 31, b"x" * 100))
    return path


@pytest.fixture
def corrupt_tail(tmp_path: Path) -> Path:
    """A good capture, then a record that claims 2 GiB: 12 frames read, the rest not."""
    path = tmp_path / "tail.pcap"
    path.write_bytes(GOOD.read_bytes() + _record(1 << 31))
    return path


def test_a_capture_cut_by_a_corrupt_record_is_warn_not_pass(corrupt_tail: Path) -> None:
    code, out, _ = run("analyze", str(corrupt_tail), "--format", "json")
    doc = json.loads(out)
    assert code == 0  # WARN exits 0, as documented
    assert doc["status"] == "WARN" and doc["files"][0]["status"] == "WARN"
    assert [n["rule"] for n in doc["files"][0]["notes"]] == ["capture.corrupt"]
    assert doc["files"][0]["flows"] == 1 and doc["flows"][0]["status"] == "PASS"

    code, out, _ = run("analyze", str(corrupt_tail))
    assert code == 0
    assert "note: WARN capture.corrupt [f13]" in out
    assert out.rstrip().splitlines()[-1] == "1 flow: 1 PASS; 1 file WARN for its notes"

    code, out, _ = run("analyze", str(corrupt_tail), "--format", "junit")
    cases = {c.get("name"): c for c in ET.fromstring(out).iter("testcase")}
    case = cases[f"capture.file:{corrupt_tail}"]
    assert case.get("classname") == "capture"
    text = case.findtext("system-out") or ""
    assert text.startswith(f"WARN: {corrupt_tail}: 1 note about the capture, first: frame 13:")


def test_a_good_capture_keeps_its_pass(tmp_path: Path) -> None:
    code, out, _ = run("analyze", str(GOOD), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "PASS" and doc["files"][0]["status"] == "PASS"
    code, out, _ = run("analyze", str(GOOD))
    assert out.rstrip().splitlines()[-1] == "1 flow: 1 PASS"
    # a capture with no frames at all is empty, not damaged: no flows, not an ERROR
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(PCAP_HEADER)
    junit = tmp_path / "empty.xml"
    code, out, err = run("analyze", str(empty), "--format", "json", "--junit", str(junit))
    # nothing to judge: SKIP in the JSON as in the JUnit, exit 0, and stderr says so (3b #2)
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "SKIP" and doc["files"][0]["status"] == "SKIP"
    assert "<skipped " in junit.read_text()
    assert err == "ecc-doctor: nothing was verified: no flow for the selected rules in the file\n"
    # beside a good file it hides nothing: the run is PASS
    code, out, err = run("analyze", str(empty), str(GOOD), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "PASS" and err == ""
    assert [f["status"] for f in doc["files"]] == ["SKIP", "PASS"]


def test_no_frame_readable_is_an_error_as_an_unreadable_file(huge_first: Path) -> None:
    # alone: an ERROR reported like any verdict (exit 1, the JSON written), QA 3b #1
    code, out, err = run("analyze", str(huge_first), "--format", "json")
    assert code == 1 and err == ""
    (entry,) = json.loads(out)["files"]
    assert entry["status"] == "ERROR" and entry["error"] == (
        f"{huge_first}: no frame could be read (frame 1: record length 2147483648 "
        "is impossible): the file is damaged from its start; check how it was written or copied"
    )
    # among good files: an ERROR of its own, exit 1
    code, out, _ = run("analyze", str(huge_first), str(GOOD), "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["status"] == "ERROR"
    bad, good = doc["files"]
    assert bad["status"] == "ERROR" and "no frame could be read" in bad["error"]
    assert good["status"] == "PASS"
    code, out, _ = run("analyze", str(huge_first), str(GOOD))
    assert f"{huge_first}: E ERROR: no frame could be read (frame 1: " in out
    # and ladder says so rather than "no SIP messages"
    code, _, err = run("ladder", str(huge_first), "--call-id", "x")
    assert code == 2 and "no frame could be read" in err


def test_a_file_cut_inside_its_first_frame_is_an_error_with_both_engines(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(PCAP_HEADER + _record(1000, b"x" * 100))
    code, out, _ = run("analyze", str(cut))
    assert code == 1
    assert "no frame could be read (the file ends inside frame 1 (100 of 1000 bytes))" in out
    require_tool("tshark")
    code, out, _ = run("analyze", str(cut), "--engine", "tshark")
    assert code == 1 and "no frame could be read" in out


def test_frames_without_sip_before_the_damage_are_no_error(tmp_path: Path) -> None:
    """A frame was read (not SIP): the file is analyzed, WARN for its note."""
    other = ipv4_frame(UDP, b"not sip at all", 40000, 9999)
    path = write_pcap(tmp_path / "other.pcap", [other])
    path.write_bytes(path.read_bytes() + _record(1 << 31))
    code, out, _ = run("analyze", str(path), "--format", "json")
    assert code == 0 and json.loads(out)["files"][0]["status"] == "WARN"


# -- #15: mgc added by --config does not make a SIP capture an ERROR ------------------------


def test_mgc_added_by_config_skips_a_file_without_h248() -> None:
    code, out, _ = run("analyze", str(GOOD), "--config", str(MGC / "site.toml"), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "PASS"
    (entry,) = doc["files"]
    assert entry["status"] == "PASS" and [f["kind"] for f in doc["flows"]] == ["register"]
    (note,) = entry["notes"]
    assert note["rule"] == "mgc.no-traffic" and note["severity"] == "SKIP"
    assert note["message"].startswith("mgc rules skipped: no H.248 registration traffic")
    assert note["message"].endswith("(name --rules mgc to make this an ERROR)")
    # the table shows the note; the gateway's capture next to it is judged as before
    code, out, _ = run(
        "analyze", str(MGC / "early_crossing.pcap"), str(GOOD), "--config", str(MGC / "site.toml")
    )
    assert code == 1  # the early crossing FAILs
    assert "✗ FAIL  mgc-failover 192.0.2.50" in out
    # the gateway capture's line counts its mgc flow (it said "0 flows")
    assert f"{MGC / 'early_crossing.pcap'}: 0 SIP messages, 1 flow\n" in out
    assert "note: SKIP mgc.no-traffic: mgc rules skipped: no H.248" in out
    assert "E ERROR" not in out
    code, out, _ = run("analyze", str(GOOD), "--gateway-text", str(MGC / "show_mgc_list.txt"))
    assert code == 0 and "mgc rules skipped" in out


def test_mgc_named_in_rules_keeps_the_error() -> None:
    code, out, _ = run(
        "analyze", str(GOOD), "--config", str(MGC / "site.toml"), "--rules", "register,mgc"
    )
    assert code == 1
    assert "E ERROR mgc-failover 192.0.2.50: no H.248 registration traffic" in out
    assert "mgc rules skipped" not in out


# -- #17: what --jobs may change ------------------------------------------------------------


def test_jobs_help_says_which_listed_examples_may_differ() -> None:
    code, out, _ = run("analyze", "--help")
    text = " ".join(out.split())
    assert code == 0
    assert "Same verdicts and counts either way; which passing flows are listed as" in text
    assert "examples beyond the caps may differ." in text
    assert "Same verdicts either way." not in text


# -- #22: a partial list of Call-IDs says so ------------------------------------------------


def _invite(call_id: str) -> bytes:
    text = (
        f"INVITE sip:b@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{call_id}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@b>;tag=a\r\nTo: <sip:b@b>\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    return ipv4_frame(UDP, text.encode())


def test_ladder_says_how_many_call_ids_it_did_not_name(tmp_path: Path) -> None:
    many = write_pcap(tmp_path / "many.pcap", [_invite(f"c{n}") for n in range(37)])
    code, _, err = run("ladder", str(many), "--call-id", "x")
    assert code == 2
    assert err == (
        "ecc-doctor: Call-ID 'x' is not in the capture (5 of 37 Call-IDs seen: c0, c1, c2, c3, "
        "c4)\n"
    )
    few = write_pcap(tmp_path / "few.pcap", [_invite(f"c{n}") for n in range(3)])
    code, _, err = run("ladder", str(few), "--call-id", "x")
    assert err == "ecc-doctor: Call-ID 'x' is not in the capture (Call-IDs seen: c0, c1, c2)\n"


# -- #23: JUnit testcases named per file ----------------------------------------------------


def test_junit_names_are_unique_per_file_and_keep_the_file_name(tmp_path: Path) -> None:
    a = tmp_path / "a.pcap"
    a.write_bytes(GOOD.read_bytes())
    copy = tmp_path / "copy.of.a.pcap"
    copy.write_bytes(GOOD.read_bytes())
    junk = tmp_path / "random.bin"
    junk.write_bytes(bytes(range(256)) * 2)
    code, out, _ = run("analyze", str(a), str(copy), str(junk), "--format", "junit")
    assert code == 1
    cases = [(c.get("classname"), c.get("name")) for c in ET.fromstring(out).iter("testcase")]
    names = [name for _, name in cases]
    assert len(set(names)) == len(names) == 5
    flow = "sip.register:1-23457@127.0.0.1|sip:alice@lab.example"
    # each file read has a case of its own, with the time it took (QA 3b #8)
    assert cases == [
        ("sip", f"{flow} [{a}]"),
        ("sip", f"{flow} [{copy}]"),
        ("capture", f"capture.file:{a}"),
        ("capture", f"capture.file:{copy}"),
        ("capture", f"capture.file:{junk}"),
    ]
