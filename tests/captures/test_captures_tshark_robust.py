"""The tshark engine on bad input: a stop while tshark writes, output it cannot read, and
files the built-in reader rejects (both engines must say the same thing)."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from tests.conftest import FIXTURES, require_tool
from tests.pcapwrite import UDP, cut_snaplen, ipv4_frame, write_pcap

from ecc_doctor import cancel
from ecc_doctor.captures.reader import PcapEngine
from ecc_doctor.captures.records import CaptureNote, SipMessage
from ecc_doctor.captures.tshark_engine import TsharkEngine
from ecc_doctor.errors import CaptureError

REGISTER_UDP = FIXTURES / "sip" / "register-udp.pcap"


def _invites(count: int) -> Iterator[bytes]:
    """*count* INVITE datagrams 10.0.0.1:5060 -> 10.0.0.2:5060 (bounded)."""
    for i in range(count):
        yield ipv4_frame(
            UDP,
            b"INVITE sip:b@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK%d\r\n"
            b"Call-ID: c%d\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\n"
            b"Content-Length: 0\r\n\r\n" % (i, i),
            5060,
            5060,
        )


def _tshark_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "tshark" in p.name()]


def _running_tshark() -> list[psutil.Process]:
    return [p for p in _tshark_children() if p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.peer
def test_a_stop_while_tshark_writes_ends_with_work_stopped(tmp_path: Path) -> None:
    # 4000 messages are megabytes of -T ek output: tshark is still writing (blocked on the
    # full pipe) when the scope stops, so its last line is cut off when it is killed
    require_tool("tshark")
    path = write_pcap(tmp_path / "many.pcap", _invites(4000))
    with cancel.scope() as stop:
        records = TsharkEngine().sip(path)
        assert isinstance(next(records), SipMessage)
        stop.set()
        # the watcher kills tshark (it stays a zombie until the engine reaps it): what is
        # left in the pipe then ends inside a line
        deadline = time.monotonic() + 20
        while _running_tshark() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _running_tshark() == []
        with pytest.raises(cancel.WorkStopped):
            for _ in records:
                pass
    assert _tshark_children() == []


def _fake_tshark(tmp_path: Path, output: str) -> str:
    """A program in tshark's place that writes *output* (printf format) and exits 0."""
    script = tmp_path / "tshark"
    script.write_text(f"#!/bin/sh\nprintf '{output}'\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize(
    "output",
    [
        '{"timestamp": "1", "layers": {"frame": {"frame_frame_num\\n',  # not JSON
        '{"timestamp": "1", "layers": {}}\\n',  # JSON without the fields
        '{"timestamp": "1", "layers": {"frame": {',  # ends inside a line
    ],
    ids=["not-json", "no-fields", "unfinished"],
)
def test_sip_output_tshark_cannot_have_written_is_a_capture_error(
    tmp_path: Path, output: str
) -> None:
    engine = TsharkEngine(program=_fake_tshark(tmp_path, output))
    with pytest.raises(CaptureError) as caught:
        list(engine.sip(REGISTER_UDP))
    message = caught.value.message
    assert message.startswith(f"{REGISTER_UDP}: tshark's output cannot be read: ")
    assert "Error" not in message and "\n" not in message


def test_frames_output_tshark_cannot_have_written_is_a_capture_error(tmp_path: Path) -> None:
    engine = TsharkEngine(program=_fake_tshark(tmp_path, "\\t".join(["x"] * 22) + "\\n"))
    with pytest.raises(CaptureError, match="tshark's output cannot be read"):
        list(engine.frames(REGISTER_UDP))


def test_a_tshark_that_writes_much_to_stderr_neither_hangs_nor_hides_its_verdict(
    tmp_path: Path,
) -> None:
    # 200 KiB of warnings before its output (more than a pipe holds), then a complaint about
    # the file and a failure exit: read as a CaptureError naming the complaint, no hang
    script = tmp_path / "tshark"
    script.write_text(
        "#!/bin/sh\n"
        "i=0; while [ $i -lt 4000 ]; do\n"
        "  echo 'tshark: warning: a dissector preference that does not exist, line 50 bytes' >&2\n"
        "  i=$((i+1)); done\n"
        'printf \'{"timestamp": "1", "layers": {}}\'\n'
        "echo 'tshark: The file is not what it should be.' >&2\n"
        "exit 2\n"
    )
    script.chmod(0o755)
    engine = TsharkEngine(program=str(script))
    with pytest.raises(CaptureError) as caught:
        list(engine.sip(REGISTER_UDP))
    assert caught.value.message == (
        f"{REGISTER_UDP}: tshark cannot read it: tshark: The file is not what it should be."
    )


PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
BAD_FILES = {
    "empty": b"",
    "not-a-capture": b"GIF89a" + bytes(200),
    "short-pcap-header": PCAP_HEADER[:10],
    "pcapng-bad-byte-order": b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x01\x02\x03\x04" + bytes(16),
}


@pytest.mark.peer
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_both_engines_reject_the_same_files_with_the_same_message(
    tmp_path: Path, name: str
) -> None:
    require_tool("tshark")
    path = tmp_path / f"{name}.pcap"
    path.write_bytes(BAD_FILES[name])
    messages = []
    for engine in (PcapEngine(), TsharkEngine()):
        for read in (engine.sip, engine.frames):
            with pytest.raises(CaptureError) as caught:
                list(read(path))
            messages.append(caught.value.message)
    assert len(set(messages)) == 1
    assert messages[0].startswith(f"{path}: ")


@pytest.mark.peer
def test_an_impossible_record_is_a_note_with_either_engine(tmp_path: Path) -> None:
    # the first record claims 2 GiB: both engines read nothing and say so in a note
    require_tool("tshark")
    path = tmp_path / "hugerec.pcap"
    path.write_bytes(PCAP_HEADER + struct.pack("<IIII", 1000, 0, 1 << 31, 1 << 31) + bytes(64))
    for engine in (PcapEngine(), TsharkEngine()):
        records = list(engine.sip(path))
        assert [r.rule for r in records if isinstance(r, CaptureNote)] == ["capture.corrupt"]
        assert not [r for r in records if isinstance(r, SipMessage)]


def _view(records: list[SipMessage | CaptureNote]) -> list[tuple[object, ...]]:
    return [
        (r.frames, r.src, r.sport, r.dst, r.dport, r.data)
        if isinstance(r, SipMessage)
        else (r.rule, r.message, r.frames)
        for r in records
    ]


@pytest.mark.peer
def test_both_engines_note_a_small_snapshot_length_alike(tmp_path: Path) -> None:
    require_tool("tshark")
    path = cut_snaplen(REGISTER_UDP, tmp_path / "small_snap.pcap", 200)
    ours = _view(list(PcapEngine().sip(path)))
    theirs = _view(list(TsharkEngine().sip(path)))
    assert sum(1 for r in ours if r[0] == "capture.snaplen") == 12
    assert theirs == ours
    assert list(TsharkEngine().frames(path)) == list(PcapEngine().frames(path))
