"""Output files and standard output: unwritable report paths are found before any work
(also for root), a reader that stops early (`| head`) does not change the exit code, every
command has --debug, counts read "1 check" and "1 endpoint"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ecc_doctor.checks import CHECKS
from ecc_doctor.cli import check_writable, cli
from ecc_doctor.lab.sftp import archive_xml
from ecc_doctor.models import Status

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REGISTER = FIXTURES / "sip" / "register-udp.pcap"
LINUX = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc and /sys")


def _quick_check(ran: list[str]) -> types.ModuleType:
    async def quick(ctx):
        ran.append(ctx.check_id)
        return ctx.result(Status.PASS, "ok")

    module = types.ModuleType("fake_quick")
    module.ID, module.TITLE, module.SOURCE, module.NEEDS = "test.quick", "quick", "test", ()
    module.check = quick
    return module


def _site(tmp_path: Path, text: str = "") -> Path:
    site = tmp_path / "site.toml"
    site.write_text('[site]\nname = "t"\n' + text)
    site.chmod(0o600)
    return site


# -- report paths are tried for real before the work (QA #3) ---------------------------------


@LINUX
@pytest.mark.parametrize(
    ("option", "path", "why"),
    [
        ("--json", "/sys/x.json", "cannot write: permission denied"),
        ("--junit", "/proc/x.xml", "cannot write: files cannot be created in /proc"),
    ],
)
def test_a_report_path_even_root_cannot_write_stops_before_any_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, option: str, path: str, why: str
) -> None:
    ran: list[str] = []
    monkeypatch.setitem(CHECKS, "test.quick", _quick_check(ran))
    args = ["check", "test.quick", "--config", str(_site(tmp_path)), option, path]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [f"ecc-doctor: {option} {path}: {why}"]
    assert ran == []


def test_a_file_in_the_way_of_the_folder_is_named(tmp_path: Path) -> None:
    afile = tmp_path / "lab.toml"
    afile.write_text("")
    result = CliRunner().invoke(
        cli, ["check", "--all", "--config", str(_site(tmp_path)), "--json", f"{afile}/x.json"]
    )
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == f"ecc-doctor: --json {afile}/x.json: {afile} is a file, not a folder"
    )


@LINUX
@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["analyze", str(REGISTER), "--junit", "/proc/x.xml"], "--junit /proc/x.xml"),
        (["ladder", str(REGISTER), "--call-id", "x", "--svg", "/proc/l.svg"], "--svg /proc/l.svg"),
    ],
)
def test_analyze_and_ladder_try_their_output_files_before_reading_the_capture(
    args: list[str], option: str
) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"ecc-doctor: {option}: cannot write: files cannot be created in /proc"
    ]


def test_the_probe_removes_an_earlier_report_and_leaves_no_new_one(tmp_path: Path) -> None:
    existing = tmp_path / "old.json"
    existing.write_text("yesterday's report\n")
    check_writable(existing, "--json")
    assert not existing.exists()  # never read as this run's report (QA 3b #6)
    new = tmp_path / "new.json"
    check_writable(new, "--json")
    assert not new.exists()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    check_writable(fifo, "--json")  # not opened: that would block, or end its reader's input


@LINUX
@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/nonexistent-h3/x.toml", "no such folder /nonexistent-h3"),
        ("/proc/x.toml", "cannot write: files cannot be created in /proc"),
        ("/etc/hostname/x.toml", "/etc/hostname is a file, not a folder"),
    ],
)
def test_lab_write_config_to_a_bad_path_is_a_usage_error(path: str, why: str) -> None:
    """QA #2: these were 'internal error: FileNotFoundError ...', exit 3."""
    if path.startswith("/etc/hostname") and not Path("/etc/hostname").is_file():
        pytest.skip("no /etc/hostname file here")
    proc = subprocess.run(
        [sys.executable, "-m", "ecc_doctor", "lab", "--write-config", path],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"ecc-doctor: --write-config {path}: {why}"]
    assert proc.stdout == ""


# -- --debug everywhere (QA #2: the internal-error advice names it) --------------------------

COMMANDS = [
    ["check"],
    ["list"],
    ["init"],
    ["lab"],
    ["analyze"],
    ["ladder"],
    ["mgc", "timeline"],
    ["mgc", "analyze"],
    ["sat", "parse"],
    ["im-archive", "parse"],
    ["dashboard"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_the_debug_option_the_crash_message_names(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--debug" in result.output


def test_the_command_list_is_complete() -> None:
    assert set(cli.list_commands(click.Context(cli))) == {c[0] for c in COMMANDS}


# -- a reader that stops early (QA #16) -----------------------------------------------------


def _run_into_a_closed_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`ecc-doctor ARGS | head -0`: stdout's reader is gone before the first write."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "ecc_doctor", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            text=True,
            timeout=90,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("fmt", ["table", "json", "junit"])
def test_check_into_a_closed_pipe_keeps_the_verdict_and_writes_the_reports(
    tmp_path: Path, fmt: str
) -> None:
    report = tmp_path / "r.json"
    args = ["check", "net.reachability", "--lab", "--format", fmt, "--json", str(report)]
    passing = _run_into_a_closed_pipe(args, tmp_path)
    assert (passing.returncode, passing.stderr) == (0, "")
    assert '"status": "PASS"' in report.read_text()
    failing = _run_into_a_closed_pipe([*args, "--lab-fault", "network-flap"], tmp_path)
    assert (failing.returncode, failing.stderr) == (1, "")
    assert '"status": "FAIL"' in report.read_text()


def test_the_other_commands_into_a_closed_pipe_end_quietly(tmp_path: Path) -> None:
    archive = tmp_path / "im.xml"
    archive.write_bytes(archive_xml([("alice@x", "bob@x", "hi", 1795244400.0)]))
    runs = {
        "list": ["list"],
        "list json": ["list", "--format", "json"],
        "init": ["init", str(tmp_path / "new.toml")],
        "sat": ["sat", "parse", str(FIXTURES / "cm" / "cti_link_1.txt")],
        "mgc": ["mgc", "timeline", "--gateway-text", str(FIXTURES / "mgc" / "show_mgc_list.txt")],
        "mgc json": [
            "mgc",
            "timeline",
            "--format",
            "json",
            "--gateway-text",
            str(FIXTURES / "mgc" / "show_mgc_list.txt"),
        ],  # fmt: skip
        "im-archive": ["im-archive", "parse", str(archive)],
    }
    outcomes = {name: _run_into_a_closed_pipe(args, tmp_path) for name, args in runs.items()}
    assert {name: (p.returncode, p.stderr) for name, p in outcomes.items()} == dict.fromkeys(
        runs, (0, "")
    )
    assert (tmp_path / "new.toml").is_file()


# -- counts of one (QA #20) ------------------------------------------------------------------


def test_one_check_and_one_endpoint_are_singular(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        site = _site(tmp_path, f'[net]\nextra = ["127.0.0.1:{port}"]\n')
        result = CliRunner().invoke(cli, ["check", "net.reachability", "--config", str(site)])
    assert result.exit_code == 0, result.output
    assert "1 endpoint accepts connections" in result.output
    assert "\n1 check: 1 PASS in " in result.output
