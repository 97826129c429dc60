"""`ecc-doctor lab &`: in the background of its terminal the lab must not read it (that
stops the whole lab with SIGTTIN, and every check against it times out). It says the
console is off and how to stop it, keeps serving, and takes commands again after `fg`."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# A tiny job-control shell: it owns the pseudo-terminal (session leader, foreground) and
# starts the lab in a process group of its own, as `ecc-doctor lab &` in bash does.
# SIGUSR1 is `fg` (the lab's group gets the terminal), SIGUSR2 is Ctrl-Z then `bg`.
SHELL = r"""
import fcntl, os, signal, subprocess, sys, termios, time
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # give the terminal away and take it back
out = open(sys.argv[1], "wb")
lab = subprocess.Popen(
    [sys.executable, "-m", "ecc_doctor", "lab", "--write-config", sys.argv[2]],
    stdout=out, stderr=subprocess.STDOUT, process_group=0,
    preexec_fn=lambda: signal.signal(signal.SIGTTOU, signal.SIG_DFL),
)
print("lab pid", lab.pid, flush=True)

def stopped():
    with open(f"/proc/{lab.pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] == "T"

def fg(*_):
    os.tcsetpgrp(0, lab.pid)

def ctrl_z_bg(*_):
    os.kill(lab.pid, signal.SIGTSTP)
    deadline = time.monotonic() + 10
    while not stopped() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.tcsetpgrp(0, os.getpgrp())
    os.kill(lab.pid, signal.SIGCONT)

signal.signal(signal.SIGUSR1, fg)
signal.signal(signal.SIGUSR2, ctrl_z_bg)
sys.exit(lab.wait())
"""

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").is_file(), reason="reads the lab's state from /proc"
)


def _state(pid: int) -> str:
    """The process state letter from /proc (T: stopped, e.g. by SIGTTIN)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


class JobShell:
    def __init__(self, tmp: Path) -> None:
        self.out = tmp / "lab.out"
        self.config = tmp / "lab.toml"
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SHELL, str(self.out), str(self.config)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=tmp,
            env={**os.environ, "TMPDIR": str(tmp)},
            start_new_session=True,
        )
        os.close(slave)
        self.tty = b""
        self.lab_pid = int(self.wait_tty(b"lab pid ").split(b"lab pid ", 1)[1].split()[0])

    def wait_tty(self, needle: bytes) -> bytes:
        deadline = time.monotonic() + 30
        while not (needle in self.tty and self.tty.endswith(b"\n")):
            assert time.monotonic() < deadline, self.tty
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                with contextlib.suppress(OSError):
                    self.tty += os.read(self.master, 4096)
        return self.tty

    def wait_out(self, needle: str, count: int = 1) -> str:
        """The lab's output once *needle* is in it *count* times (bounded)."""
        deadline = time.monotonic() + 60
        text = ""
        while text.count(needle) < count and time.monotonic() < deadline:
            assert self.proc.poll() is None, text
            time.sleep(0.1)
            text = self.out.read_text() if self.out.exists() else ""
        assert text.count(needle) >= count, (needle, text[-1500:], _state(self.lab_pid))
        return text

    def close(self) -> None:
        for pid in (self.lab_pid, self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        os.close(self.master)


def test_lab_in_the_background_does_not_read_the_terminal_and_keeps_serving(
    tmp_path: Path,
) -> None:
    shell = JobShell(tmp_path)
    try:
        text = shell.wait_out("# console off")
        assert f"kill {shell.lab_pid}" in text.splitlines()[-1]
        assert _state(shell.lab_pid) != "T"  # not stopped by SIGTTIN
        checked = subprocess.run(
            [sys.executable, "-m", "ecc_doctor", "check", "cm.license"]
            + ["--config", str(shell.config), "--timeout", "30"],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr

        os.kill(shell.proc.pid, signal.SIGUSR1)  # fg
        shell.wait_out("# console on: type 'fault NAME'")
        os.write(shell.master, b"fault cti-link-down\n")
        shell.wait_out("fault: cti-link-down (active: cti-link-down)")

        os.kill(shell.proc.pid, signal.SIGUSR2)  # Ctrl-Z, bg: its waiting read restarts
        shell.wait_out("# console off", count=2)
        assert _state(shell.lab_pid) != "T"

        os.kill(shell.lab_pid, signal.SIGTERM)
        assert shell.proc.wait(timeout=30) == 130  # the shell passes the lab's code on
    finally:
        shell.close()
