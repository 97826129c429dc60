"""SIGTERM to ``ecc-doctor analyze`` (QA session 5 #9): exit 130 with one line, as Ctrl-C,
and no worker process or tshark child left running once the command has exited."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import psutil
import pytest
from tests.conftest import FIXTURES, require_tool
from tests.pcapwrite import UDP, A, B, ipv4_frame, write_pcap

SRC = Path(__file__).resolve().parents[2] / "src"
TERMINATED = b"ecc-doctor: terminated; every session was closed\n"
HUNG_UP = b"ecc-doctor: hung up (the terminal was closed); every session was closed\n"


def _call(n: int) -> list[bytes]:
    """INVITE, 200, ACK, BYE, 200: one passing call."""
    cid = f"term-{n}"

    def msg(start: str, cseq: str, to_tag: str = ";tag=b") -> bytes:
        return (
            f"{start}\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{cseq[:1]}{n}\r\n"
            f"Call-ID: {cid}\r\nCSeq: {cseq}\r\nFrom: <sip:a@b>;tag=a\r\nTo: <sip:b@b>{to_tag}"
            "\r\nContact: <sip:a@10.0.0.1>\r\nContent-Length: 0\r\n\r\n"
        ).encode()

    def there(data: bytes) -> bytes:
        return ipv4_frame(UDP, data, 5060, 5060, src=A, dst=B)

    def back(data: bytes) -> bytes:
        return ipv4_frame(UDP, data, 5060, 5060, src=B, dst=A)

    return [
        there(msg("INVITE sip:b@b SIP/2.0", "1 INVITE", to_tag="")),
        back(msg("SIP/2.0 200 OK", "1 INVITE")),
        there(msg("ACK sip:b@10.0.0.2 SIP/2.0", "1 ACK")),
        there(msg("BYE sip:b@10.0.0.2 SIP/2.0", "2 BYE")),
        back(msg("SIP/2.0 200 OK", "2 BYE")),
    ]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """75,000 SIP messages (25 MB): seconds of analysis, with any engine."""
    frames = [f for n in range(15_000) for f in _call(n)]
    return write_pcap(tmp_path_factory.mktemp("sigterm") / "big.pcap", frames)


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmd(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return ""


def _reading(path: Path) -> Callable[[psutil.Process], list[int]]:
    """The parent itself, once it has *path* open (the analysis has started)."""

    def ready(parent: psutil.Process) -> list[int]:
        try:
            files = parent.open_files()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return []
        return [parent.pid] if any(f.path == str(path) for f in files) else []

    return ready


def _child_running(word: str) -> Callable[[psutil.Process], list[int]]:
    """The parent's children whose command line has *word* (spawn workers, tshark)."""

    def ready(parent: psutil.Process) -> list[int]:
        return [c.pid for c in _children(parent.pid) if word in _cmd(c)]

    return ready


def _ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize(
    ("args", "children", "sig", "said"),
    [
        (("--jobs", "1"), "", signal.SIGTERM, TERMINATED),
        (("--jobs", "2"), "spawn_main", signal.SIGTERM, TERMINATED),
        (("--engine", "tshark"), "tshark", signal.SIGTERM, TERMINATED),
        # the terminal closed: as SIGTERM, with its own reason (cli.STOP_SIGNALS)
        (("--jobs", "2"), "spawn_main", signal.SIGHUP, HUNG_UP),
    ],
    ids=["jobs-1", "jobs-2", "tshark", "sighup-jobs-2"],
)
def test_sigterm_exits_130_and_leaves_no_process(
    big: Path, args: tuple[str, ...], children: str, sig: signal.Signals, said: bytes
) -> None:
    if children == "tshark":
        require_tool("tshark")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecc_doctor", "analyze", str(big), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        start_new_session=True,
    )
    try:
        parent = psutil.Process(proc.pid)
        ready = _child_running(children) if children else _reading(big)
        deadline = time.monotonic() + 60
        found: list[int] = []
        while not found and proc.poll() is None and time.monotonic() < deadline:
            found = ready(parent)
            time.sleep(0.01)
        assert found, "the analysis did not start (or ended before it could be signalled)"
        # (multiprocessing's resource tracker lives until the parent has exited, by design)
        watched = {c.pid for c in _children(proc.pid) if "resource_tracker" not in _cmd(c)}
        proc.send_signal(sig)  # the parent only, as kill(1), a service manager or a terminal
        _, err = proc.communicate(timeout=60)
        # the moment the command has exited, none of its processes runs any more
        left = [pid for pid in watched if not _ended(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err == said
    assert set(found) <= watched | {proc.pid}
    assert not left, f"still running after the command exited: {left}"


class _Stop(BaseException):
    pass


def test_a_sigterm_while_a_worker_starts_is_raised_once_it_is_started() -> None:
    """Raised in the middle of proc.start(), the handler's exception would leave a started
    worker the caller does not know of: it is held back to the end of the start."""
    from ecc_doctor.captures.sip import parallel

    calls: list[int] = []

    def handler(signum: int, frame: object) -> None:
        calls.append(signum)
        raise _Stop

    old = signal.signal(signal.SIGTERM, handler)
    try:
        inside = False
        with pytest.raises(_Stop), parallel._starting_worker():
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)
            inside = True  # the handler did not run in here
        assert inside and calls == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, old)


def _frames_of(path: Path) -> list[bytes]:
    """The frames of a little-endian classic pcap (the committed fixtures)."""
    data = path.read_bytes()
    frames, pos = [], 24
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        frames.append(data[pos + 16 : pos + 16 + caplen])
        pos += 16 + caplen
    return frames


class _Interrupting(Mapping[str, str]):
    """Passwords whose first look-up is interrupted (as by Ctrl-C or SIGTERM there)."""

    def __getitem__(self, user: str) -> str:
        raise _Stop

    def __contains__(self, user: object) -> bool:
        raise _Stop

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 1


def test_tshark_is_ended_when_the_analysis_stops_between_records(tmp_path: Path, big: Path) -> None:
    """The analysis (not tshark's reading) is interrupted: analyze_file does not return
    before its tshark is ended, whenever the engine's generator would be collected."""
    require_tool("tshark")
    from ecc_doctor.captures.sip.analyze import analyze_file

    register = _frames_of(FIXTURES / "sip" / "register-udp.pcap")
    path = write_pcap(tmp_path / "register-first.pcap", register + _frames_of(big))
    before = {c.pid for c in psutil.Process().children()}
    # the exception is kept, with its traceback (the CLI exits with it so): the frames, and
    # whatever they hold, stay alive meanwhile
    with pytest.raises(_Stop) as stopped:
        analyze_file(path, engine="tshark", passwords=_Interrupting())
    # (the records analyzed came from tshark: it ran; ended and waited for, it is gone)
    left = [c.pid for c in psutil.Process().children() if c.pid not in before]
    assert stopped.tb is not None
    assert not [pid for pid in left if not _ended(pid)]
