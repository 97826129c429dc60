"""SIGHUP (the terminal was closed) stops `lab`, `check --lab` and `dashboard --lab` like
SIGTERM: every session closed, the lab's private folder (secrets, keys) removed, exit 130.
Under nohup (SIGHUP ignored) the lab keeps running."""

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
from collections.abc import Callable
from pathlib import Path


def _lab_dirs(tmp: Path) -> list[Path]:
    return [p for p in tmp.iterdir() if p.name.startswith("ecc-doctor-lab-")]


def _until(condition: Callable[[], bool], timeout: float, step: Callable[[], None]) -> bool:
    """Call *step* until *condition* holds or *timeout* seconds have passed."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        step()
    return condition()


class Terminal:
    """`python -m ecc_doctor ARGS` as the controlling process of an 80x24 pseudo-terminal
    (a terminal window); closing ``master`` hangs the terminal up, as closing the window."""

    def __init__(self, args: list[str], tmp: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ecc_doctor", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=tmp,
            env={**os.environ, "TMPDIR": str(tmp), "TERM": "xterm-256color"},
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.seen = b""

    def read_some(self) -> None:
        if self.master < 0:
            time.sleep(0.2)
            return
        ready, _, _ = select.select([self.master], [], [], 0.2)
        if ready:
            with contextlib.suppress(OSError):
                self.seen += os.read(self.master, 65536)

    def wait_for(self, needle: bytes) -> None:
        _until(lambda: needle in self.seen or self.proc.poll() is not None, 60, self.read_some)
        assert needle in self.seen, self.seen[-2000:]

    def hang_up(self) -> None:
        os.close(self.master)
        self.master = -1

    def exit_code(self) -> int | None:
        _until(lambda: self.proc.poll() is not None, 30, self.read_some)
        return self.proc.poll()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.master >= 0:
            os.close(self.master)


def test_closing_the_lab_terminal_removes_its_secrets(tmp_path: Path) -> None:
    term = Terminal(["lab"], tmp_path)
    try:
        term.wait_for(b"# type 'fault NAME'")
        assert _lab_dirs(tmp_path)
        term.hang_up()
        assert term.exit_code() == 130
        assert _lab_dirs(tmp_path) == []
    finally:
        term.close()


def test_sighup_on_dashboard_lab_quits_like_sigterm(tmp_path: Path) -> None:
    term = Terminal(["dashboard", "--lab"], tmp_path)
    try:
        term.wait_for(b"PASS")
        assert _lab_dirs(tmp_path)
        term.proc.send_signal(signal.SIGHUP)
        assert term.exit_code() == 130, term.seen[-2000:]
        assert _lab_dirs(tmp_path) == []
    finally:
        term.close()


def test_sighup_on_check_lab_closes_the_sessions_and_the_lab(tmp_path: Path) -> None:
    # sat-hang: the cm.* checks wait for a SAT prompt, so the run is still going on
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecc_doctor", "check", "cm", "--lab", "--lab-fault", "sat-hang"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        text=True,
    )
    try:
        assert _until(lambda: bool(_lab_dirs(tmp_path)), 60, lambda: time.sleep(0.1))
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.strip().endswith(
        "ecc-doctor: hung up (the terminal was closed); every session was closed"
    )
    assert out == ""
    assert _lab_dirs(tmp_path) == []


def test_under_nohup_the_lab_keeps_running_after_sighup(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecc_doctor", "lab"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # what nohup does
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("# type 'fault NAME'"):
                break
        proc.send_signal(signal.SIGHUP)  # ignored: discarded as it is sent
        proc.stdin.write("fault cti-link-down\n")
        proc.stdin.flush()
        answer = proc.stdout.readline()
        assert answer.startswith("fault: cti-link-down (active: cti-link-down)"), answer
        assert _lab_dirs(tmp_path)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == 130
    assert _lab_dirs(tmp_path) == []
