"""The report files of `check` (QA 3b #5, #6, #12): --strict fails WARN in JUnit too, a report
from an earlier run never survives a run that stops early, `-` and one file for both reports
are usage errors, and the help says the exit codes and the dashboard's keys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecc_doctor.cli import check_writable

from .test_cli_signals import _lab_dirs, _until


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecc_doctor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "TMPDIR": str(cwd), "NO_COLOR": "1", "COLUMNS": "200"},
        timeout=60,
    )


WARN_RUN = ("check", "cm.cti-link", "--lab", "--lab-fault", "cti-link-stuck", "--strict")


def test_strict_makes_warn_a_junit_failure_unless_told_otherwise(tmp_path: Path) -> None:
    proc = run(*WARN_RUN, "--junit", "strict.xml", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # the WARN fails the build ...
    assert '<failure message="WARN: ' in (tmp_path / "strict.xml").read_text()  # ... and a test
    proc = run(*WARN_RUN, "--junit-warn-as", "pass", "--junit", "pass.xml", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "<failure" not in (tmp_path / "pass.xml").read_text()


OLD = '<testsuites name="ecc-doctor old"><testsuite name="cm" tests="1"/></testsuites>\n'


def test_a_config_error_leaves_no_report_of_an_earlier_run(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[site\n")
    for name in ("old.xml", "old.json"):
        (tmp_path / name).write_text(OLD)
    proc = run(
        *("check", "--all", "--config", "bad.toml", "--junit", "old.xml", "--json", "old.json"),
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert not (tmp_path / "old.xml").exists()
    assert not (tmp_path / "old.json").exists()


def test_sigterm_leaves_no_report_of_an_earlier_run(tmp_path: Path) -> None:
    (tmp_path / "sig.xml").write_text(OLD)
    # sat-hang: the cm.* checks wait for a SAT prompt, so the run is still going on
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecc_doctor", "check", "cm", "--lab", "--lab-fault", "sat-hang"]
        + ["--junit", "sig.xml"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        text=True,
    )
    try:
        # the output files are checked (and the old one removed) before the lab starts
        assert _until(lambda: bool(_lab_dirs(tmp_path)), 60, lambda: time.sleep(0.05))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert not (tmp_path / "sig.xml").exists()


def test_what_a_symbolic_link_points_at_is_left_alone(tmp_path: Path) -> None:
    # review s6b R7: --json /dev/stderr 2>>ci.log emptied ci.log (a link to it) at start;
    # the report is written through the link at the end, nothing is emptied before
    target = tmp_path / "ci.log"
    target.write_text(OLD)
    link = tmp_path / "stderr"
    link.symlink_to(target)
    check_writable(link, "--json")
    assert link.is_symlink() and target.read_text() == OLD


@pytest.mark.parametrize("option", ["--json", "--junit"])
def test_dash_is_no_report_file_name(tmp_path: Path, option: str) -> None:
    proc = run("check", "--all", "--lab", option, "-", cwd=tmp_path)
    assert proc.returncode == 2
    fmt = option.removeprefix("--")
    assert proc.stderr == (
        f"ecc-doctor: {option} -: give a file name (for the report on standard output use "
        f"--format {fmt})\n"
    )
    assert proc.stdout == ""
    assert not (tmp_path / "-").exists()


def test_json_and_junit_to_the_same_file_is_a_usage_error(tmp_path: Path) -> None:
    proc = run("check", "--all", "--lab", "--json", "r.out", "--junit", "./r.out", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (
        "ecc-doctor: --json and --junit name the same file r.out: give each its own file\n"
    )
    capture = str(Path(__file__).resolve().parents[1] / "fixtures" / "sip" / "register-udp.pcap")
    proc = run("analyze", capture, "--json", "r.out", "--junit", "./r.out", cwd=tmp_path)
    assert proc.returncode == 2 and "name the same file r.out" in proc.stderr


def test_check_help_says_the_exit_codes(tmp_path: Path) -> None:
    text = " ".join(run("check", "--help", cwd=tmp_path).stdout.split())
    assert "Exit codes: 0 all PASS/WARN/SKIP" in text
    for code in ("1 some FAIL or ERROR", "2 usage or config error", "3 internal error", "130"):
        assert code in text


def test_dashboard_help_lists_the_keys_the_readme_lists(tmp_path: Path) -> None:
    text = " ".join(run("dashboard", "--help", cwd=tmp_path).stdout.split())
    for key in ("1-4 tabs", "c next [sip] capture", "ctrl+p command palette", "esc clears"):
        assert key in text


def test_a_report_may_not_name_the_site_file_or_a_capture(tmp_path: Path) -> None:
    # review s6b R7: the old report is removed at the start, so --json site.toml deleted
    # the site file before it was read
    site = tmp_path / "site.toml"
    site.write_text('[site]\nname = "x"\n')
    proc = run("check", "--all", "--config", "site.toml", "--json", "site.toml", cwd=tmp_path)
    assert proc.returncode == 2 and "that is an input of this command" in proc.stderr
    assert site.read_text() == '[site]\nname = "x"\n'
    capture = tmp_path / "c.pcap"
    capture.write_bytes(b"")
    proc = run("analyze", "c.pcap", "--junit", "c.pcap", cwd=tmp_path)
    assert proc.returncode == 2 and capture.exists()
