"""`ecc-doctor dashboard` options: usage and config errors are one line and exit 2."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecc_doctor.cli import cli

AUTH_FAILURE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "captures" / "sipnab-sip-auth-failure.pcapng"
)


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
    assert lines[0].startswith("ecc-doctor: ")
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


class Terminal:
    """`python -m ecc_doctor ARGS` in an 80x24 pseudo-terminal; ``wait_for`` reads its screen."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ecc_doctor", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env={**env, "TERM": "xterm-256color"},
            start_new_session=True,
        )
        os.close(slave)
        self.seen = b""

    def read_some(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            with contextlib.suppress(OSError):
                self.seen += os.read(self.master, 65536)

    def wait_for(self, *needles: bytes, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (
            not all(n in self.seen for n in needles)
            and time.monotonic() < deadline
            and self.proc.poll() is None
        ):
            self.read_some(0.5)
        for needle in needles:
            assert needle in self.seen, (needle, self.seen[-2000:])

    def quit(self) -> int | None:
        os.write(self.master, b"q")
        deadline = time.monotonic() + 30
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read_some(0.2)
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def test_dashboard_lab_runs_in_a_terminal_and_quits_on_q(tmp_path: Path) -> None:
    """End to end through the CLI in a pseudo-terminal: the lab's checks show, 'q' quits."""
    tmp = tmp_path / "tmp"  # the lab's private directory goes here, and must be gone after
    tmp.mkdir()
    term = Terminal(["dashboard", "--lab"], tmp_path, {**os.environ, "TMPDIR": str(tmp)})
    try:
        term.wait_for(b"PASS")
        assert b"net.reachability" in term.seen
        assert [p.name for p in tmp.iterdir() if p.name.startswith("ecc-doctor-lab-")]
        assert term.quit() == 0, term.seen[-2000:]
        assert not [p for p in tmp.iterdir() if p.name.startswith("ecc-doctor-lab-")]
    finally:
        term.close()


def test_capture_without_a_site_file_starts_with_an_empty_site(tmp_path: Path) -> None:
    """Looking at a capture someone handed over needs no site file: an empty site, a note."""
    env = {k: v for k, v in os.environ.items() if k != "ECC_DOCTOR_CONFIG"}
    assert not (tmp_path / "ecc-doctor.toml").exists()
    term = Terminal(["dashboard", "--capture", str(AUTH_FAILURE)], tmp_path, env)
    try:
        term.wait_for(b"no site file", b"capture only", b"SKIP")
        assert b"dashboard: error" not in term.seen
        term.seen = b""
        os.write(term.master, b"3")  # the SIP tab: the capture's flows
        term.wait_for(b"sipnab-sip-auth-failure.pcapng", b"flow")
        assert term.quit() == 0, term.seen[-2000:]
    finally:
        term.close()


def test_capture_with_a_missing_named_site_file_is_still_an_error(tmp_path: Path) -> None:
    code, output = run("--config", str(tmp_path / "site.toml"), "--capture", str(AUTH_FAILURE))
    assert code == 2
    assert "site.toml: no such file" in output


def test_capture_with_a_missing_site_file_named_by_the_environment_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECC_DOCTOR_CONFIG", str(tmp_path / "typo.toml"))
    code, output = run("--capture", str(AUTH_FAILURE))
    assert code == 2
    assert "typo.toml: no such file" in output


def test_site_file_secret_that_does_not_resolve_stops_before_the_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECCD_DASH_NOPE", raising=False)
    site = tmp_path / "site.toml"
    site.write_text('[cm]\nhost = "127.0.0.1"\nusername = "u"\npassword = "env:ECCD_DASH_NOPE"\n')
    code, output = run("--config", str(site))
    assert code == 2
    assert "cm.password: environment variable ECCD_DASH_NOPE is not set" in output


def test_dashboard_quits_cleanly_on_sigterm(tmp_path: Path) -> None:
    """SIGTERM (a service manager, `kill`) quits like 'q': the lab stops and its private
    directory is removed, and the exit code is 130 (interrupted), as for `check`."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    term = Terminal(["dashboard", "--lab"], tmp_path, {**os.environ, "TMPDIR": str(tmp)})
    try:
        term.wait_for(b"PASS")
        assert [p.name for p in tmp.iterdir() if p.name.startswith("ecc-doctor-lab-")]
        term.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while term.proc.poll() is None and time.monotonic() < deadline:
            term.read_some(0.2)
        assert term.proc.returncode == 130, term.seen[-2000:]
        assert not [p for p in tmp.iterdir() if p.name.startswith("ecc-doctor-lab-")]
    finally:
        term.close()
