"""`ecc-doctor dashboard` options: usage and config errors are one line and exit 2."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecc_doctor.cli import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["dashboard", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--lab", "--config", "x.toml"), "give either --config or --lab, not both"),
        (("--lab-fault", "network-flap"), "--lab-fault needs --lab"),
        (("--lab", "--lab-fault", "no-such-fault"), "unknown lab fault 'no-such-fault'"),
        (("--lab", "--capture", "a.pcap", "--iface", "lo"), "give either --capture or --iface"),
        (("--lab", "--capture", "no-such.pcap"), "--capture: no-such.pcap: no such file"),
        (("--config", "no-such.toml"), "no-such.toml: no such file"),
    ],
)
def test_usage_and_config_errors_are_one_line_exit_2(args: tuple[str, ...], message: str) -> None:
    code, output = run(*args)
    assert code == 2
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("ecc-doctor dashboard: error: ")
    assert message in lines[0]


def test_bad_site_file_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "site.toml"
    bad.write_text("[site\nname = 'x'\n", encoding="utf-8")
    code, output = run("--config", str(bad))
    assert code == 2
    assert output.count("\n") == 1 and "TOML syntax error" in output


def test_help_names_every_option() -> None:
    code, output = run("--help")
    assert code == 0
    for option in ("--config", "--lab", "--interval", "--capture", "--iface", "--lab-fault"):
        assert option in output


def test_start_up_does_not_import_scapy() -> None:
    """What `ecc-doctor dashboard --lab` imports before the UI shows (start-up stays fast)."""
    code = (
        "import sys\n"
        "from ecc_doctor.cli import cli\n"
        "import ecc_doctor.cli_dashboard, ecc_doctor.tui.app\n"
        "from ecc_doctor.checks import all_checks\n"
        "from ecc_doctor.lab import Lab\n"
        "all_checks(); Lab()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scapy', 'pyshark')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_dashboard_lab_runs_in_a_terminal_and_quits_on_q(tmp_path: Path) -> None:
    """End to end through the CLI in a pseudo-terminal: the lab's checks show, 'q' quits."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    tmp = tmp_path / "tmp"  # the lab's private directory goes here, and must be gone after
    tmp.mkdir()
    env = {**os.environ, "TERM": "xterm-256color", "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecc_doctor", "dashboard", "--lab"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""

    def read_some(timeout: float) -> None:
        nonlocal seen
        ready, _, _ = select.select([master], [], [], timeout)
        if ready:
            with contextlib.suppress(OSError):
                seen += os.read(master, 65536)

    try:
        deadline = time.monotonic() + 60
        while b"PASS" not in seen and time.monotonic() < deadline and proc.poll() is None:
            read_some(0.5)
        assert b"PASS" in seen, seen[-2000:]
        assert b"net.reachability" in seen
        assert [p.name for p in tmp.iterdir() if p.name.startswith("ecc-doctor-lab-")]
        os.write(master, b"q")
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            read_some(0.2)
        assert proc.returncode == 0, seen[-2000:]
        assert not [p for p in tmp.iterdir() if p.name.startswith("ecc-doctor-lab-")]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
