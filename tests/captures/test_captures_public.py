"""The built-in reader on real public captures (expected values from PROVENANCE.md)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from tests.conftest import FIXTURES, PUBLIC_CAPTURES, require_shared

from ecc_doctor.captures.reader import PcapEngine
from ecc_doctor.captures.records import CaptureNote, Frame, SipMessage

COMMITTED = FIXTURES / "captures"


def sip(
    path: Path, ports: tuple[int, ...] = (5060, 5061)
) -> tuple[list[SipMessage], list[CaptureNote]]:
    records = list(PcapEngine().sip(path, ports))
    messages = [r for r in records if isinstance(r, SipMessage)]
    notes = [r for r in records if isinstance(r, CaptureNote)]
    return messages, notes


def kind(message: SipMessage) -> str:
    """``INVITE`` for a request, ``200`` for a response."""
    first = message.data.split(b"\r\n", 1)[0].decode()
    match = re.match(r"SIP/2\.0 (\d{3}) ", first)
    return match.group(1) if match else first.split(" ", 1)[0]


def shared(name: str) -> Path:
    return require_shared(PUBLIC_CAPTURES / name)


def test_tcp_messages_over_several_segments_are_reassembled() -> None:
    messages, notes = sip(shared("heplify-sip_ipv4_tcp_fragmented.pcap"), (5060, 6060))
    assert notes == []
    assert len(messages) == 406
    counts = Counter(kind(m) for m in messages)
    assert counts == {
        "INVITE": 37, "ACK": 37, "BYE": 34, "UPDATE": 63, "OPTIONS": 5, "CANCEL": 2, "PRACK": 5,
        "100": 36, "180": 33, "182": 2, "183": 6, "200": 142, "486": 1, "403": 1, "487": 2,
    }  # fmt: skip
    invite = messages[0]
    assert (invite.frames, len(invite.data), invite.transport) == ((1, 2), 1169, "TCP")
    assert invite.data.startswith(b"INVITE sip:699818@10.186.205.131:6060")
    assert messages[1].frames == (4, 5) and kind(messages[1]) == "100"
    assert messages[2].frames == (7, 8, 10) and kind(messages[2]) == "180"
    spans = Counter(len(m.frames) for m in messages)
    assert spans == {1: 172, 2: 73, 3: 70, 4: 73, 5: 5, 6: 8, 7: 5}
    prack = next(m for m in messages if m.frame == 457)
    assert kind(prack) == "PRACK" and b"rack: 1915652476 1 invite" in prack.data.lower()


def test_tcp_port_6060_is_only_sip_when_configured_or_starting_with_a_start_line() -> None:
    # without 6060 configured, each message whose first segment starts with a start line is
    # still found by its first bytes (heuristic), like Wireshark's SIP heuristic
    messages, _ = sip(shared("heplify-sip_ipv4_tcp_fragmented.pcap"))
    assert len(messages) == 406


def test_tcp_retransmission_is_not_delivered_twice() -> None:
    messages, notes = sip(shared("heplify-sip_ipv4_tcp_retrans.pcap"))
    assert notes == []
    assert [m.frame for m in messages] == [28, 30, 31, 32, 33, 34, 35, 36]
    assert [m.transport for m in messages] == [
        "TCP",
        "UDP",
        "UDP",
        "TCP",
        "TCP",
        "UDP",
        "UDP",
        "TCP",
    ]
    assert [kind(m) for m in messages] == ["REGISTER", "REGISTER", "401", "401", "REGISTER", "REGISTER", "200", "200"]  # fmt: skip
    assert messages[0].src == "172.168.0.252" and messages[0].dport == 5060


def test_one_message_per_segment_tcp_call() -> None:
    messages, notes = sip(shared("heplify-sip_ipv4_tcp.pcap"))
    assert notes == []
    assert [(m.frame, kind(m)) for m in messages] == [
        (3, "INVITE"), (5, "100"), (7, "180"), (9, "200"), (11, "ACK"), (81, "BYE"), (83, "200"),
    ]  # fmt: skip


def test_ipv6_fragments_are_reassembled() -> None:
    messages, notes = sip(shared("sngrep-ipv6frag.pcap"))
    assert notes == []
    assert len(messages) == 32
    assert messages[0].frames == (1, 2) and kind(messages[0]) == "INVITE"
    assert messages[0].src == "fd17:625c:f037:2:a00:27ff:feb9:1521"
    assert (messages[0].sport, messages[0].dport) == (15060, 5062)
    assert messages[1].frame == 3 and kind(messages[1]) == "100"
    assert messages[2].frames == (4, 5)
    assert b"RAck: 1 2 INVITE" in next(m for m in messages if m.frames == (8,)).data


def test_ipv6_udp_call() -> None:
    messages, notes = sip(shared("heplify-sip_ipv6_udp.pcap"))
    assert notes == []
    assert [kind(m) for m in messages] == ["INVITE", "100", "200", "ACK", "BYE", "200"]
    assert messages[0].src == "fe80::21a:a0ff:fe07:32e0"


def test_byte_identical_duplicates_are_reported_once() -> None:
    messages, notes = sip(shared("heplify-FAX-Call-t38-CA-TDM-SIP-FB-1.pcap"))
    assert len(messages) + len(notes) == 92  # tshark's SIP count: every copy
    assert {n.rule for n in notes} == {"capture.duplicate"}
    assert (24, 26) in [n.frames for n in notes]
    assert (33, 34) in [n.frames for n in notes]
    frames = {m.frame for m in messages}
    assert {23, 24, 25}.issubset(frames) and 26 not in frames
    assert Counter(kind(m) for m in messages)["488"] >= 1


@pytest.mark.parametrize(
    ("name", "count", "first"),
    [
        ("zeek-sip-wireshark.pcap", 81, "REGISTER"),
        ("sipnab-sip-auth-failure.pcapng", 8, "REGISTER"),
        ("sipnab-sip-routing-error.pcapng", 58, "REGISTER"),
        ("sipnab-rtp-protocol.pcap", 9, "INVITE"),
    ],
)
def test_committed_captures(name: str, count: int, first: str) -> None:
    messages, notes = sip(COMMITTED / name)
    assert notes == []
    assert len(messages) == count
    assert kind(messages[0]) == first
    assert all(m.transport == "UDP" and len(m.frames) == 1 for m in messages)


def test_pcapng_auth_failure_sequence() -> None:
    messages, _ = sip(COMMITTED / "sipnab-sip-auth-failure.pcapng")
    assert [(m.frame, kind(m)) for m in messages[:4]] == [
        (1, "REGISTER"), (2, "401"), (3, "REGISTER"), (4, "403"),
    ]  # fmt: skip
    assert messages[0].ts == pytest.approx(1463472095.431471, abs=1e-6)


def test_reliable_provisional_exchange_and_rtp_skipped() -> None:
    messages, _ = sip(COMMITTED / "sipnab-rtp-protocol.pcap")
    assert [m.frame for m in messages] == [1, 2, 3, 4, 5, 6, 7, 258, 259]
    frames = list(PcapEngine().frames(COMMITTED / "sipnab-rtp-protocol.pcap"))
    assert len(frames) == 259 and all(isinstance(f, Frame) for f in frames)
