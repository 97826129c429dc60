"""Every command ends with 130 and one line on stderr on SIGTERM and SIGHUP, as `check` and
`analyze` do (QA 3b #11): also the commands that only read files (`sat parse`, `mgc`,
`im-archive parse`), and while they are blocked reading a FIFO."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _reader_is_there(fifo: Path, proc: subprocess.Popen[str], timeout: float = 60) -> int:
    """A write end of *fifo*, opened once the command has opened its read end (then the
    command waits for input that does not come). Bounded by *timeout*."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: nobody reads it yet
            time.sleep(0.05)
    raise AssertionError(f"the command never opened {fifo} (exit code {proc.poll()})")


COMMANDS = {
    "sat parse": ["sat", "parse", "{fifo}"],
    "mgc timeline": ["mgc", "timeline", "--gateway-text", "{fifo}"],
    "mgc analyze": ["mgc", "analyze", "{fifo}"],
    "im-archive parse": [
        "im-archive",
        "parse",
        "--config",
        "{fifo}",
        str(FIXTURES / "mgc" / "article.txt"),
    ],
}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_command_blocked_on_a_fifo_stops_with_130(
    tmp_path: Path, name: str, sig: signal.Signals
) -> None:
    fifo = tmp_path / "input"
    os.mkfifo(fifo)
    args = [a.format(fifo=fifo) for a in COMMANDS[name]]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecc_doctor", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        text=True,
    )
    writer = -1
    try:
        writer = _reader_is_there(fifo, proc)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if writer >= 0:
            os.close(writer)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    reason = "terminated" if sig == signal.SIGTERM else "hung up (the terminal was closed)"
    assert proc.returncode == 130, err
    assert err == f"ecc-doctor: {reason}; every session was closed\n"
    assert out == ""
