"""``ecc-doctor analyze`` / ``ladder``: output files, broken pipes, bad files among good ones,
the time limit, the progress bar on a terminal and the H.248 options (review-6 #5-#9,
review-7 #2/#6)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import FIXTURES, require_tool
from tests.pcapwrite import ipv4_frame, write_pcap

from ecc_doctor.cli import cli

SIP = FIXTURES / "sip"
MGC = FIXTURES / "mgc"
GOOD = SIP / "prack-ok-udp.pcap"
CALL_ID = "1-23735@127.0.0.1"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output + result.stderr
    assert "internal error" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


# -- review-6 #5: output files that cannot be written, broken pipes ---------------------------


@pytest.mark.parametrize("option", ["--json", "--junit"])
def test_unwritable_analyze_output_is_a_usage_error(option: str) -> None:
    code, out, err = run("analyze", str(GOOD), option, "/nonexistent-dir/x.out")
    assert code == 2 and out == ""
    assert (
        err.strip()
        == f"ecc-doctor: {option} /nonexistent-dir/x.out: no such folder /nonexistent-dir"
    )


def test_unwritable_svg_fails_before_the_ladder_is_printed() -> None:
    code, out, err = run(
        "ladder", str(GOOD), "--call-id", CALL_ID, "--svg", "/nonexistent-dir/x.svg"
    )
    assert code == 2 and out == ""
    assert "--svg /nonexistent-dir/x.svg: no such folder" in err and len(err.splitlines()) == 1


def test_a_write_that_fails_late_is_one_line(tmp_path: Path) -> None:
    code, _, err = run("analyze", str(GOOD), "--json", "/dev/full")
    assert code == 2 and err.startswith("ecc-doctor: --json /dev/full: cannot write:")
    assert len(err.splitlines()) == 1
    code, _, err = run("ladder", str(GOOD), "--call-id", CALL_ID, "--svg", str(tmp_path))
    assert code == 2 and "is a folder, not a file" in err


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    # far more output than a pipe buffer holds, and the reader stops after one line
    frames = [
        ipv4_frame(
            17,
            f"REGISTER sip:b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{i}\r\n"
            f"Call-ID: r{i}\r\nCSeq: 1 REGISTER\r\nFrom: <sip:u{i}@b>;tag={i}\r\n"
            f"To: <sip:u{i}@b>\r\nContact: <sip:u{i}@10.0.0.1>\r\nContent-Length: 0\r\n\r\n".encode(),
            5060,
        )
        for i in range(800)
    ]
    path = write_pcap(tmp_path / "many.pcap", frames)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecc_doctor", "analyze", "-v", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(str(path).encode())
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0  # the analysis' own exit code: 800 WARN flows
    assert err == ""


# -- review-6 #6: one bad file among several --------------------------------------------------


def test_a_bad_file_among_good_ones_is_an_error_of_its_own(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(b"\x00garbage, not a capture" * 10)
    code, out, err = run("analyze", str(GOOD), str(garbage), str(SIP / "register-udp.pcap"))
    assert code == 1 and err == ""
    assert f"{garbage}: E ERROR: not a pcap or pcapng file" in out  # the path once
    assert out.count(str(garbage)) == 1
    assert "✓ PASS  invite" in out and "✓ PASS  register" in out
    assert out.rstrip().endswith("2 flows: 2 PASS; 1 file not analyzed (ERROR)")

    code, out, _ = run("analyze", str(garbage), str(GOOD), "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["status"] == "ERROR"
    bad, good = doc["files"]
    assert bad["status"] == "ERROR" and "not a pcap or pcapng file" in bad["error"]
    assert good["status"] == "PASS" and good["flows"] == 1

    code, out, _ = run("analyze", str(garbage), str(GOOD), "--format", "junit")
    cases = {c.get("name", ""): c for c in ET.fromstring(out).iter("testcase")}
    assert code == 1 and cases[f"capture.file:{garbage}"].find("error") is not None


def test_only_bad_files_are_error_verdicts(tmp_path: Path) -> None:
    one, two = tmp_path / "one.pcap", tmp_path / "two.pcap"
    one.write_text("text\n")
    two.write_text("more text\n")
    code, out, err = run("analyze", str(one), str(two))
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(f"{one}: E ERROR: not a pcap or pcapng file")
    assert lines[1].startswith(f"{two}: E ERROR: not a pcap or pcapng file")
    assert lines[-1] == "0 flows; 2 files not analyzed (ERROR)"


# -- review-6 #7: the time limit ---------------------------------------------------------------


@pytest.mark.peer
def test_time_limit_stops_tshark_and_the_other_files_go_on(tmp_path: Path) -> None:
    require_tool("tshark")
    # a SIP header that never ends: Wireshark's reassembly takes many seconds on it
    first = b"INVITE sip:a@b SIP/2.0\r\nX-Long: "
    frames, seq = [ipv4_frame(6, first, seq=1000)], 1000 + len(first)
    for _ in range(6000):
        frames.append(ipv4_frame(6, b"a" * 1400, seq=seq))
        seq += 1400
    slow = write_pcap(tmp_path / "slow.pcap", frames)
    # the limit is per file: 6 s leaves the good file's tshark run room on a loaded machine
    # (it takes about 0.5 s alone; the slow file would take about 17 s)
    code, out, _ = run("analyze", "--engine", "tshark", "--time-limit", "6", str(slow), str(GOOD))
    assert code == 1
    assert f"{slow}: E ERROR: analysis stopped after 6 s (--time-limit)" in out
    assert "✓ PASS  invite" in out


def test_time_limit_option_is_checked() -> None:
    code, _, err = run("analyze", str(GOOD), "--time-limit", "-1")
    assert code == 2 and "--time-limit" in err


# -- review-6 #9: the progress bar on a terminal -----------------------------------------------


def test_progress_bar_is_drawn_on_a_terminal_for_big_files(tmp_path: Path) -> None:
    # > 5 MiB of non-SIP UDP (skipped fast) around one SIP call
    noise = [ipv4_frame(17, bytes(8000), 16384, 16385) for _ in range(700)]
    frames = noise[:350] + [
        ipv4_frame(17, x, 5060, 5060) for x in _sip_call()
    ] + noise[350:]  # fmt: skip
    path = write_pcap(tmp_path / "big.pcap", frames)
    assert path.stat().st_size > 5 * 1024 * 1024
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecc_doctor", "analyze", str(path)],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    seen = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal's other side is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.returncode == 0
    text = seen.decode("utf-8", "replace")
    assert "big.pcap" in text and "MB" in text  # the bar's description and byte column
    assert "1 flow: 1 PASS" in out.decode()


def _sip_call() -> list[bytes]:
    def msg(start: str, cseq: str, extra: str = "") -> bytes:
        to_tag = "" if start.startswith("INVITE") else ";tag=b"
        return (
            f"{start}\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKbig\r\nCall-ID: big\r\n"
            f"CSeq: {cseq}\r\nFrom: <sip:a@b>;tag=a\r\nTo: <sip:b@b>{to_tag}\r\n"
            f"{extra}Content-Length: 0\r\n\r\n"
        ).encode()

    return [
        msg("INVITE sip:b@b SIP/2.0", "1 INVITE", "Contact: <sip:a@10.0.0.1>\r\n"),
        msg("SIP/2.0 200 OK", "1 INVITE", "Contact: <sip:b@10.0.0.2>\r\n"),
    ]


# -- review-7 #2/#6: the H.248 options of analyze ----------------------------------------------


@pytest.mark.parametrize(
    "option", [["--config", str(MGC / "site.toml")], ["--gateway-text", str(MGC / "article.txt")]]
)
def test_h248_options_add_the_mgc_rules(option: list[str]) -> None:
    code, out, _ = run("analyze", *option, str(MGC / "early_crossing.pcap"))
    assert code == 1
    assert "FAIL mgc.early-crossing [f34]" in out


def test_h248_options_without_mgc_in_explicit_rules_are_a_usage_error() -> None:
    code, out, err = run(
        "analyze", "--rules", "register", "--gateway-text", str(MGC / "article.txt"), str(GOOD)
    )
    assert code == 2 and out == ""
    assert err.strip() == (
        "ecc-doctor: --gateway-text apply to --rules mgc only (add it: --rules register,mgc)"
    )


def test_config_without_an_mgc_section_is_a_usage_error(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[sip]\ncaptures = ["x.pcap"]\n')
    code, _, err = run("analyze", "--config", str(site), str(GOOD))
    assert code == 2 and "no [mgc] section (--config applies to --rules mgc only)" in err


def test_gateway_text_help_names_what_is_read() -> None:
    code, out, _ = run("analyze", "--help")
    text = " ".join(out.split())
    assert code == 0
    assert "'show mgc list' output or 'set mgc list'/'set reset-times' commands" in text
    assert "show recovery" not in text
