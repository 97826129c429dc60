"""Cross-check: the built-in reader and tshark produce the same records on real captures."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import FIXTURES, PUBLIC_CAPTURES, require_shared, require_tool

from ecc_doctor.captures.engines import get_engine
from ecc_doctor.captures.reader import PcapEngine
from ecc_doctor.captures.records import CaptureNote, SipMessage
from ecc_doctor.captures.tshark_engine import TsharkEngine, decode_as
from ecc_doctor.errors import ConfigError

PORTS = (5060, 5061, 6060)
COMMITTED = sorted((FIXTURES / "captures").glob("*.pcap*"))
PUBLIC = [
    "heplify-sip_ipv4_tcp_fragmented.pcap",
    "heplify-sip_ipv4_tcp_retrans.pcap",
    "heplify-sip_ipv4_tcp.pcap",
    "heplify-sip_ipv6_udp.pcap",
    "heplify-FAX-Call-t38-CA-TDM-SIP-FB-1.pcap",
    "sngrep-ipv6frag.pcap",
]


def sip_view(records: list[SipMessage | CaptureNote]) -> list[tuple[object, ...]]:
    view: list[tuple[object, ...]] = []
    for r in records:
        if isinstance(r, SipMessage):
            view.append(
                (r.frames, r.src, r.sport, r.dst, r.dport, r.transport, r.data, round(r.ts, 6))
            )
        else:
            view.append((r.rule, r.frames))
    return view


def cross_check(path: Path) -> None:
    require_tool("tshark")
    ours = sip_view(list(PcapEngine().sip(path, PORTS)))
    theirs = sip_view(list(TsharkEngine().sip(path, PORTS)))
    assert len(ours) == len(theirs)
    assert ours == theirs
    assert list(PcapEngine().frames(path)) == list(TsharkEngine().frames(path))


@pytest.mark.peer
@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_engines_agree_on_committed_captures(path: Path) -> None:
    cross_check(path)


@pytest.mark.peer
@pytest.mark.parametrize("name", PUBLIC)
def test_engines_agree_on_public_captures(name: str) -> None:
    cross_check(require_shared(PUBLIC_CAPTURES / name))


def test_decode_as_only_adds_non_default_ports() -> None:
    assert decode_as((5060, 5061)) == ["-d", "udp.port==5061,sip"]
    assert decode_as((6060,)) == ["-d", "udp.port==6060,sip", "-d", "tcp.port==6060,sip"]


def test_engine_registry_names() -> None:
    assert get_engine("scapy").name == "scapy"
    with pytest.raises(ConfigError, match="unknown capture engine"):
        get_engine("wireshark")


def test_missing_tshark_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match="apt install tshark"):
        TsharkEngine()


@pytest.mark.peer
def test_frames_filtered_by_port_agree() -> None:
    require_tool("tshark")
    path = require_shared(PUBLIC_CAPTURES / "heplify-FAX-Call-t38-CA-TDM-SIP-FB-1.pcap")
    ours = list(PcapEngine().frames(path, ports=(2944,)))
    assert len(ours) == 130  # the MEGACO messages
    assert ours == list(TsharkEngine().frames(path, ports=(2944,)))


@pytest.mark.peer
def test_tshark_engine_on_a_truncated_file(tmp_path: Path) -> None:
    require_tool("tshark")
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((FIXTURES / "captures" / "zeek-sip-wireshark.pcap").read_bytes()[:-100])
    theirs = list(TsharkEngine().sip(cut))
    ours = list(PcapEngine().sip(cut))
    assert [r.frames for r in theirs if isinstance(r, SipMessage)] == [
        r.frames for r in ours if isinstance(r, SipMessage)
    ]
    assert [r.rule for r in theirs if isinstance(r, CaptureNote)] == ["capture.truncated"]
    assert [r.rule for r in ours if isinstance(r, CaptureNote)] == ["capture.truncated"]
