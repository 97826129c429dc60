"""The tshark engine with the default ports (SIP heuristics) and under a stopped cancel scope."""

from __future__ import annotations

import threading
from pathlib import Path

import psutil
import pytest
from tests.conftest import PUBLIC_CAPTURES, require_shared, require_tool
from tests.pcapwrite import tcp_stream, write_pcap

from ecc_doctor import cancel
from ecc_doctor.captures.reader import PcapEngine
from ecc_doctor.captures.records import CaptureNote, SipMessage
from ecc_doctor.captures.tshark_engine import TsharkEngine

DEFAULT_PORTS = (5060, 5061)


def view(records: list[SipMessage | CaptureNote]) -> list[tuple[object, ...]]:
    return [
        (r.frames, r.src, r.sport, r.dst, r.dport, r.transport, r.data)
        if isinstance(r, SipMessage)
        else (r.rule, r.frames)
        for r in records
    ]


@pytest.mark.peer
def test_default_ports_find_sip_on_other_ports_like_the_builtin_reader() -> None:
    # SIP over TCP 6060, a port Wireshark decodes as X11: only heuristics find it
    require_tool("tshark")
    path = require_shared(PUBLIC_CAPTURES / "heplify-sip_ipv4_tcp_fragmented.pcap")
    ours = view(list(PcapEngine().sip(path, DEFAULT_PORTS)))
    theirs = view(list(TsharkEngine().sip(path, DEFAULT_PORTS)))
    assert len(ours) > 400
    assert theirs == ours


def _pcap(path: Path, payloads: list[bytes]) -> None:
    """One TCP stream 10.0.0.1:40000 -> 10.0.0.2:5060, a segment per payload."""
    write_pcap(path, tcp_stream(payloads))


def _tshark_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "tshark" in p.name()]


@pytest.mark.peer
def test_a_stopped_scope_kills_tshark(tmp_path: Path) -> None:
    # a header that never ends: Wireshark's reassembly takes seconds (quadratic) before it
    # prints anything, so only killing the process ends the read early
    require_tool("tshark")
    path = tmp_path / "nocrlf.pcap"
    _pcap(path, [b"INVITE sip:a@b SIP/2.0\r\nX-Long: "] + [b"a" * 1400] * 2500)
    with cancel.scope() as stop:
        timer = threading.Timer(0.3, stop.set)
        timer.start()
        try:
            with pytest.raises(cancel.WorkStopped):
                list(TsharkEngine().sip(path))
        finally:
            timer.cancel()
    assert _tshark_children() == []


def test_outside_a_scope_nothing_stops(tmp_path: Path) -> None:
    require_tool("tshark")
    path = tmp_path / "one.pcap"
    invite = (
        b"INVITE sip:b@b SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1\r\nCall-ID: x\r\n"
        b"CSeq: 1 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nContent-Length: 0\r\n\r\n"
    )
    _pcap(path, [invite])
    records = list(TsharkEngine().sip(path))
    assert [r.data for r in records if isinstance(r, SipMessage)] == [invite]
    assert _tshark_children() == []
