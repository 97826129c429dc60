"""Text from outside cannot break a report or drive the terminal (QA 3b #3, #4): a capture
whose name is not UTF-8, a reason phrase full of terminal control sequences."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import FIXTURES
from tests.pcapwrite import UDP, ipv4_frame, write_pcap

from ecc_doctor.models import Result, Status
from ecc_doctor.reporters import console, json_report, junit

SRC = Path(__file__).resolve().parents[2] / "src"
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m"


def _run(*args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "ecc_doctor", *args],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_a_capture_name_that_is_not_utf8_gives_valid_reports(tmp_path: Path) -> None:
    name = os.fsencode(tmp_path) + b"/caf\xe9.pcap"
    shutil.copyfile(FIXTURES / "sip" / "prack-ok-udp.pcap", name)
    out_json, out_junit = tmp_path / "r.json", tmp_path / "r.xml"
    done = _run("analyze", name, "--json", str(out_json), "--junit", str(out_junit))
    assert done.returncode == 0, done.stderr
    assert b"caf\\xe9.pcap" in done.stdout
    for fmt in ("json", "junit"):
        shown = _run("analyze", name, "--format", fmt)
        assert shown.returncode == 0
        shown.stdout.decode("utf-8")  # valid UTF-8, not the raw byte
    doc = json.loads(out_json.read_bytes().decode("utf-8"))
    assert doc["files"][0]["file"].endswith("caf\\xe9.pcap")
    case = ET.fromstring(out_junit.read_bytes()).find(".//testcase")
    assert case is not None and "caf\\xe9.pcap" in case.get("name", "")


def _hostile_capture(tmp_path: Path) -> Path:
    register = (
        b"REGISTER sip:lab.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKh1\r\n"
        b"From: <sip:eve@lab.example>;tag=1\r\nTo: <sip:eve@lab.example>\r\nCall-ID: h1\r\n"
        b"CSeq: 1 REGISTER\r\nContact: <sip:eve@10.0.0.1>\r\nContent-Length: 0\r\n\r\n"
    )
    refused = (
        b"SIP/2.0 403 " + HOSTILE.encode() + b"\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKh1"
        b"\r\nFrom: <sip:eve@lab.example>;tag=1\r\nTo: <sip:eve@lab.example>;tag=2\r\n"
        b"Call-ID: h1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"
    )
    frames = [
        ipv4_frame(UDP, register, 5060, 5060),
        ipv4_frame(UDP, refused, 5060, 5060, src=bytes([10, 0, 0, 2]), dst=bytes([10, 0, 0, 1])),
    ]
    return write_pcap(tmp_path / "hostile.pcap", frames)


def test_control_sequences_in_a_capture_are_shown_not_obeyed(tmp_path: Path) -> None:
    path = _hostile_capture(tmp_path)
    table = _run("analyze", str(path))
    ladder = _run("ladder", str(path), "--call-id", "h1", "--width", "120")
    for done in (table, ladder):
        text = done.stdout.decode("utf-8")
        assert "403" in text, text
        assert not any(ch in text for ch in "\x1b\x07\x9b"), text
        assert "\\x1b]0;pwned\\x07" in text
    assert table.returncode == 1  # the REGISTER was refused: FAIL


def test_reporters_survive_what_a_plugin_might_say() -> None:
    result = Result("plugin.x", Status.FAIL, f"bad {HOSTILE} name caf\udce9 \ud800")
    shown = console.render([result], width=200)
    assert not any(ch in shown for ch in "\x1b\x07\x9b") and "\\x1b]0;pwned" in shown
    doc = json.loads(json_report.render([result]).encode("utf-8"))
    assert "caf\\xe9 \\ud800" in doc["results"][0]["summary"]
    xml = junit.render([result]).encode("utf-8")
    assert b"caf\\xe9" in xml
    ET.fromstring(xml)


def test_sat_parse_shows_pasted_control_sequences_as_escapes(tmp_path: Path) -> None:
    # review s6 F10: an OSSI value or a pasted screen cell with ESC/OSC reached the terminal
    pasted = tmp_path / "ossi.txt"
    pasted.write_text(
        f"cdisplay cti-link 1\nf0001ff00\t0002ff00\t0003ff00\t0004ff00\t0005ff00\n"
        f"d1\t3332\tADJ-IP\t{HOSTILE}[bold]AES70\t1\nt\n"
    )
    done = _run("sat", "parse", str(pasted))
    text = done.stdout.decode("utf-8")
    assert done.returncode == 0, done.stderr
    assert not any(ch in text for ch in "\x1b\x07\x9b"), text
    assert "\\x1b]0;pwned\\x07" in text and "[bold]AES70" in text


def test_an_error_naming_a_hostile_file_name_shows_it_escaped(tmp_path: Path) -> None:
    # review s6 F11: a folder picked up by a glob, its name full of control sequences
    folder = tmp_path / "d\x1b]0;OWNED\x07\x1b[31m"
    folder.mkdir()
    done = _run("analyze", str(folder))
    err = done.stderr.decode("utf-8")
    assert done.returncode == 2 and "not a file" in err
    assert "\x1b" not in err and "\\x1b]0;OWNED\\x07" in err


def test_json_reports_hold_no_raw_c1_or_bidi_control() -> None:
    # review s6 F12: valid JSON either way, but `cat report.json` must not drive a terminal
    result = Result("plugin.x", Status.FAIL, "csi\x9b31m then \u202eevil")
    text = json_report.render([result])
    assert "\x9b" not in text and "\u202e" not in text
    assert json.loads(text)["results"][0]["summary"] == "csi\x9b31m then \u202eevil"
