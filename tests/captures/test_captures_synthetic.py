"""Edge cases of the built-in reader on small captures built with scapy at test time."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from scapy.packet import Packet, Raw

from ecc_doctor.captures import sipassembler, sipframing
from ecc_doctor.captures.reader import Decoder, PcapEngine, SipAssembler
from ecc_doctor.captures.records import ACK, FIN, PSH, SYN, CaptureNote, Frame, SipMessage
from ecc_doctor.captures.sip.analyze import analyze_file
from ecc_doctor.errors import CaptureError
from ecc_doctor.models import Finding, Status

MAC_A, MAC_B = "00:00:5e:00:53:01", "00:00:5e:00:53:02"
A4, B4 = "192.0.2.1", "192.0.2.2"
A6, B6 = "2001:db8::1", "2001:db8::2"
T0 = 1_700_000_000.0


# --- builders ---------------------------------------------------------------------------


def sip_message(
    first: str, call_id: str = "c1", body: bytes = b"", clen: str | None = None
) -> bytes:
    headers = [
        first,
        "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-1",
        f"Call-ID: {call_id}",
        "CSeq: 1 INVITE",
        f"Content-Length: {len(body) if clen is None else clen}",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


INVITE = sip_message("INVITE sip:bob@192.0.2.2 SIP/2.0", body=b"v=0\r\n" * 40)
OK = sip_message("SIP/2.0 200 OK")
ACK_MSG = sip_message("ACK sip:bob@192.0.2.2 SIP/2.0")
BYE = sip_message("BYE sip:bob@192.0.2.2 SIP/2.0")


def eth(pkt: Packet) -> bytes:
    return bytes(Ether(src=MAC_A, dst=MAC_B) / pkt)


def udp4(payload: bytes, sport: int = 5060, dport: int = 5060, ip_id: int = 1) -> bytes:
    return eth(IP(src=A4, dst=B4, id=ip_id) / UDP(sport=sport, dport=dport) / Raw(payload))


def tcp4(
    seq: int, payload: bytes = b"", flags: str = "PA", sport: int = 40000, dport: int = 5060
) -> bytes:
    return eth(
        IP(src=A4, dst=B4)
        / TCP(sport=sport, dport=dport, seq=seq, ack=1, flags=flags)
        / Raw(payload)
    )


def write_pcap(
    path: Path,
    frames: Sequence[bytes],
    linktype: int = 1,
    endian: str = "<",
    nanos: bool = False,
    snaplen: int = 65535,
    times: Sequence[float] | None = None,
) -> Path:
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = bytearray(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
    for i, data in enumerate(frames):
        ts = times[i] if times else T0 + i * 0.01
        frac = round((ts % 1) * (1e9 if nanos else 1e6))
        cut = data[:snaplen]
        out += struct.pack(endian + "IIII", int(ts), frac, len(cut), len(data)) + cut
    path.write_bytes(bytes(out))
    return path


def block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", length)


def shb(endian: str) -> bytes:
    return block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(endian: str, linktype: int, tsresol: int | None = None) -> bytes:
    body = struct.pack(endian + "HHI", linktype, 0, 0)
    if tsresol is not None:
        body += struct.pack(endian + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0"
        body += struct.pack(endian + "HH", 0, 0)
    return block(endian, 1, body)


def epb(endian: str, iface: int, ticks: int, data: bytes) -> bytes:
    head = struct.pack(
        endian + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)
    )
    return block(endian, 6, head + data)


def sip_records(path: Path, ports: Sequence[int] = (5060, 5061)) -> list[SipMessage | CaptureNote]:
    return list(PcapEngine().sip(path, ports))


def messages(records: Sequence[object]) -> list[SipMessage]:
    return [r for r in records if isinstance(r, SipMessage)]


def notes(records: Sequence[object]) -> list[CaptureNote]:
    return [r for r in records if isinstance(r, CaptureNote)]


# --- TCP --------------------------------------------------------------------------------


def test_coalesced_ack_and_bye_in_one_segment(tmp_path: Path) -> None:
    frames = [tcp4(1000, OK), tcp4(1000 + len(OK), ACK_MSG + BYE)]
    records = sip_records(write_pcap(tmp_path / "c.pcap", frames))
    assert notes(records) == []
    got = messages(records)
    assert [m.data for m in got] == [OK, ACK_MSG, BYE]
    assert [m.frames for m in got] == [(1,), (2,), (2,)]


def test_message_in_three_segments_out_of_order_with_retransmission(tmp_path: Path) -> None:
    a, b, c = INVITE[:100], INVITE[100:250], INVITE[250:]
    frames = [
        tcp4(999, flags="S"),
        tcp4(1000, a),
        tcp4(1250, c),
        tcp4(1100, b),
        tcp4(1100, b),  # retransmission of the middle segment
        tcp4(1000 + len(INVITE), BYE),
    ]
    records = sip_records(write_pcap(tmp_path / "o.pcap", frames))
    assert notes(records) == []
    got = messages(records)
    assert [m.data for m in got] == [INVITE, BYE]
    assert got[0].frames == (2, 3, 4)  # the last one (4) completed it
    assert got[1].frames == (6,)


def test_crlf_keepalives_and_compact_and_missing_content_length(tmp_path: Path) -> None:
    compact = b"MESSAGE sip:bob@x SIP/2.0\r\nCall-ID: c2\r\nl: 5\r\n\r\nhello"
    no_length = b"OPTIONS sip:bob@x SIP/2.0\r\nCall-ID: c3\r\n\r\n"
    frames = [tcp4(1000, b"\r\n\r\n"), tcp4(1004, compact), tcp4(1004 + len(compact), b"\r\n")]
    frames.append(tcp4(1006 + len(compact), no_length + OK))
    records = sip_records(write_pcap(tmp_path / "k.pcap", frames))
    assert notes(records) == []
    assert [(m.data, m.frames) for m in messages(records)] == [
        (compact, (2,)),
        (no_length, (4,)),
        (OK, (4,)),
    ]


def test_sip_on_any_tcp_port_is_found_by_its_start_line(tmp_path: Path) -> None:
    frames = [tcp4(1, OK, sport=7000, dport=7001), tcp4(1, b"\x16\x03\x01 not sip", dport=7002)]
    got = messages(sip_records(write_pcap(tmp_path / "p.pcap", frames)))
    assert [(m.data, m.sport, m.dport) for m in got] == [(OK, 7000, 7001)]


def test_tcp_gap_is_reported_and_the_stream_resynchronises(tmp_path: Path) -> None:
    a1, a3 = INVITE[:100], INVITE[200:]
    frames = [tcp4(1000, a1), tcp4(1200, a3), tcp4(1000 + len(INVITE), BYE)]
    times = [T0, T0 + 1, T0 + 30]
    records = sip_records(write_pcap(tmp_path / "g.pcap", frames, times=times))
    (gap,) = notes(records)
    assert gap.rule == "tcp.gap" and "100 bytes missing before frame 2" in gap.message
    assert gap.frames == (1, 2)
    assert [m.data for m in messages(records)] == [BYE]


def test_incomplete_message_at_end_of_file(tmp_path: Path) -> None:
    records = sip_records(write_pcap(tmp_path / "t.pcap", [tcp4(1000, INVITE[:300])]))
    (note,) = notes(records)
    assert note.rule == "sip.truncated" and note.frames == (1,)
    assert messages(records) == []


def test_fin_closes_the_stream_and_reports_leftovers(tmp_path: Path) -> None:
    frames = [tcp4(1000, OK), tcp4(1000 + len(OK), INVITE[:50]), tcp4(1050 + len(OK), flags="FA")]
    records = sip_records(write_pcap(tmp_path / "f.pcap", frames))
    assert [m.data for m in messages(records)] == [OK]
    assert [(n.rule, n.frames) for n in notes(records)] == [("sip.truncated", (2,))]


def frame(seq: int, payload: bytes, number: int, flags: int = PSH | ACK, ts: float = T0) -> Frame:
    return Frame(number, ts, A4, B4, 6, 40000, 5060, payload, flags, seq, 1, len(payload))


def test_junk_and_a_huge_header_line_are_skipped_with_bounded_memory() -> None:
    asm = SipAssembler()
    out = asm.feed(frame(0, OK, 1))
    seq = len(OK)
    out += asm.feed(frame(seq, b"INVITE sip:x SIP/2.0\r\nX-Long: ", 2))
    seq += 30
    number = 3
    peak = 0
    for _ in range(750):  # 1 MB header line in 1400-byte segments
        out += asm.feed(frame(seq, b"a" * 1400, number))
        seq += 1400
        number += 1
        peak = max(peak, *(s.pending for s in asm.streams.values()))
    out += asm.feed(frame(seq, b"\x00\x01\x02binary junk\r\n\r\n", number))
    out += asm.feed(frame(seq + 17, BYE, number + 1))
    out += asm.flush()
    assert [m.data for m in out if isinstance(m, SipMessage)] == [OK, BYE]
    framing = [n for n in out if isinstance(n, CaptureNote)]
    assert [n.rule for n in framing] == ["sip.framing"]
    assert "no end of header block within 65536 bytes" in framing[0].message
    assert peak <= sipframing.MAX_HEADER + 2 * 1400 + 256 * 1024


@pytest.mark.parametrize(
    ("clen", "why"),
    [("abc", "not a number"), ("99999999", "exceeds"), ("5\r\nContent-Length: 6", "conflicting")],
)
def test_bad_content_length_on_tcp(clen: str, why: str) -> None:
    asm = SipAssembler()
    bad = sip_message("INVITE sip:bob@x SIP/2.0", clen=clen)
    out = asm.feed(frame(0, bad, 1)) + asm.feed(frame(len(bad), OK, 2)) + asm.flush()
    assert [m.data for m in out if isinstance(m, SipMessage)] == [OK]
    (note,) = [n for n in out if isinstance(n, CaptureNote)]
    assert note.rule == "sip.framing" and why in note.message


def test_connection_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sipassembler, "MAX_STREAMS", 4)
    asm = SipAssembler()
    out = []
    for port in range(10):
        f = Frame(port + 1, T0, A4, B4, 6, 40000 + port, 5060, INVITE[:80], PSH | ACK, 1, 1, 80)
        out += asm.feed(f)
    assert len(asm.streams) == 4
    assert [n.rule for n in out] == ["sip.truncated"] * 6


# --- UDP, IP ----------------------------------------------------------------------------


def test_ipv4_fragments_out_of_order(tmp_path: Path) -> None:
    big = sip_message("INVITE sip:bob@x SIP/2.0", body=b"a=x\r\n" * 400)
    frags = fragment(
        IP(src=A4, dst=B4, id=77) / UDP(sport=5060, dport=5060) / Raw(big), fragsize=800
    )
    assert len(frags) == 3
    frames = [eth(frags[2]), udp4(OK, ip_id=5), eth(frags[0]), eth(frags[1])]
    records = sip_records(write_pcap(tmp_path / "f4.pcap", frames))
    assert notes(records) == []
    got = messages(records)
    assert [(m.data, m.frames) for m in got] == [(OK, (2,)), (big, (1, 3, 4))]
    assert (got[1].src, got[1].sport) == (A4, 5060)


def test_ipv6_fragments_and_extension_headers(tmp_path: Path) -> None:
    big = sip_message("INVITE sip:bob@x SIP/2.0", body=b"a=x\r\n" * 300)
    pkt = IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(id=9) / UDP(sport=5062, dport=15060) / Raw(big)
    frags = fragment6(pkt, 700)
    assert len(frags) >= 3
    frames = [eth(f) for f in frags]
    records = sip_records(write_pcap(tmp_path / "f6.pcap", frames), ports=(5062,))
    assert notes(records) == []
    (got,) = messages(records)
    assert got.data == big and got.frames == tuple(range(1, len(frags) + 1))
    assert (got.src, got.dst, got.sport, got.dport) == (A6, B6, 5062, 15060)


def test_incomplete_fragments_become_a_note(tmp_path: Path) -> None:
    big = sip_message("INVITE sip:bob@x SIP/2.0", body=b"a=x\r\n" * 400)
    frags = fragment(
        IP(src=A4, dst=B4, id=78) / UDP(sport=5060, dport=5060) / Raw(big), fragsize=800
    )
    records = sip_records(write_pcap(tmp_path / "lost.pcap", [eth(frags[0]), eth(frags[2])]))
    assert messages(records) == []
    assert [(n.rule, n.frames) for n in notes(records)] == [("ip.fragments", (1, 2))]


def test_vlan_and_qinq(tmp_path: Path) -> None:
    udp = UDP(sport=5060, dport=5060) / Raw(OK)
    frames = [
        bytes(Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=10) / IP(src=A4, dst=B4, id=1) / udp),
        bytes(
            Ether(src=MAC_A, dst=MAC_B)
            / Dot1AD(vlan=20)
            / Dot1Q(vlan=30)
            / IP(src=A4, dst=B4, id=2)
            / udp
        ),
    ]
    got = messages(sip_records(write_pcap(tmp_path / "v.pcap", frames)))
    assert [(m.data, m.frame) for m in got] == [(OK, 1), (OK, 2)]


def test_duplicate_datagram_versus_retransmission(tmp_path: Path) -> None:
    frames = [udp4(OK, ip_id=0x3F9E), udp4(OK, ip_id=0x3F9E), udp4(OK, ip_id=0x3F9F)]
    records = sip_records(write_pcap(tmp_path / "d.pcap", frames))
    assert [m.frame for m in messages(records)] == [1, 3]  # 3 is a real retransmission
    (dup,) = notes(records)
    assert dup.rule == "capture.duplicate" and dup.frames == (1, 2) and "0x3f9e" in dup.message


def test_udp_junk_keepalives_and_stun(tmp_path: Path) -> None:
    stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"\x00" * 12
    frames = [
        udp4(b"\r\n\r\n"),
        udp4(stun),
        udp4(b"hello there"),
        udp4(b"\x80\x00rtp", 20000, 30000),
    ]
    records = sip_records(write_pcap(tmp_path / "j.pcap", frames))
    assert messages(records) == []
    assert [(n.rule, n.frames) for n in notes(records)] == [("sip.framing", (3,))]


def framing_notes(path: Path) -> list[Finding]:
    """The ``sip.framing`` notes of the analysis: a UDP datagram's Content-Length is checked
    against its body where the datagram is parsed, not by the reader."""
    return [n for n in analyze_file(path, jobs=1).notes if n.rule == "sip.framing"]


def test_udp_content_length_larger_than_the_datagram(tmp_path: Path) -> None:
    bad = sip_message("INVITE sip:bob@x SIP/2.0", body=b"v=0\r\n", clen="500")
    path = write_pcap(tmp_path / "cl.pcap", [udp4(bad)])
    records = sip_records(path)
    assert [m.data for m in messages(records)] == [bad]
    assert notes(records) == []  # the reader passes the datagram on as it is
    (note,) = framing_notes(path)
    assert note.message == (
        "frame 1: malformed SIP message: Content-Length 500 but only 5 body bytes"
    )
    assert note.frames == (1,) and note.severity is Status.WARN


# --- link types and file formats ------------------------------------------------------


def sll2(ip_packet: bytes, proto: int = 0x0800) -> bytes:
    return struct.pack("!HHIHBB8s", proto, 0, 1, 1, 0, 6, bytes(8)) + ip_packet


def test_link_types(tmp_path: Path) -> None:
    ip4 = bytes(IP(src=A4, dst=B4) / UDP(sport=5060, dport=5060) / Raw(OK))
    ip6 = bytes(IPv6(src=A6, dst=B6) / UDP(sport=5060, dport=5060) / Raw(BYE))
    sll = struct.pack("!HHH8sH", 0, 1, 6, bytes(8), 0x0800) + ip4
    cases = {
        276: ([sll2(ip4), sll2(ip6, 0x86DD)], [OK, BYE]),
        113: ([sll], [OK]),
        101: ([ip4, ip6], [OK, BYE]),
        228: ([ip4], [OK]),
        229: ([ip6], [BYE]),
        0: ([struct.pack("<I", 2) + ip4, struct.pack("<I", 30) + ip6], [OK, BYE]),
        108: ([struct.pack(">I", 2) + ip4], [OK]),
    }
    for linktype, (frames, expected) in cases.items():
        path = write_pcap(tmp_path / f"l{linktype}.pcap", frames, linktype=linktype)
        assert [m.data for m in messages(sip_records(path))] == expected, linktype


@pytest.mark.parametrize(
    ("endian", "nanos"), [("<", False), (">", False), ("<", True), (">", True)]
)
def test_pcap_byte_orders_and_resolutions(tmp_path: Path, endian: str, nanos: bool) -> None:
    ts = T0 + 0.123456
    path = write_pcap(tmp_path / "e.pcap", [udp4(OK)], endian=endian, nanos=nanos, times=[ts])
    (got,) = messages(sip_records(path))
    assert got.data == OK and got.ts == pytest.approx(ts, abs=1e-6)


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_two_interfaces_nanoseconds_and_odd_blocks(tmp_path: Path, endian: str) -> None:
    ip4 = bytes(IP(src=A4, dst=B4) / UDP(sport=5060, dport=5060) / Raw(BYE))
    ns = 1_700_000_000_123_456_789
    data = shb(endian) + idb(endian, 1) + idb(endian, 228, tsresol=9)
    data += epb(endian, 0, 1_700_000_000_500_000, udp4(OK))
    data += block(endian, 0x0BAD, b"unknown block, skipped")
    data += epb(endian, 1, ns, ip4)
    spb = block(endian, 3, struct.pack(endian + "I", len(udp4(ACK_MSG))) + udp4(ACK_MSG))
    obsolete = struct.pack(endian + "HHIIII", 0, 0, 0, 1_700_000_000, len(udp4(OK)), len(udp4(OK)))
    data += spb + block(endian, 2, obsolete + udp4(OK))
    path = tmp_path / "two.pcapng"
    path.write_bytes(data)
    got = messages(sip_records(path))
    assert [(m.data, m.frame) for m in got] == [(OK, 1), (BYE, 2), (ACK_MSG, 3), (OK, 4)]
    assert got[0].ts == pytest.approx(T0 + 0.5, abs=1e-6)
    assert got[1].ts == pytest.approx(1_700_000_000.123456789, abs=1e-6)


def test_truncated_file_stops_cleanly(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "cut.pcap", [udp4(OK), udp4(BYE), udp4(ACK_MSG)])
    path.write_bytes(path.read_bytes()[:-20])
    records = sip_records(path)
    assert [m.frame for m in messages(records)] == [1, 2]
    (note,) = notes(records)
    assert note.rule == "capture.truncated" and note.frames == (3,)
    assert "inside frame 3" in note.message


def test_truncated_pcapng(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcapng"
    path.write_bytes(
        (shb("<") + idb("<", 1) + epb("<", 0, 1, udp4(OK)) + epb("<", 0, 2, udp4(BYE)))[:-9]
    )
    records = sip_records(path)
    assert [m.frame for m in messages(records)] == [1]
    assert [(n.rule, n.frames) for n in notes(records)] == [("capture.truncated", (2,))]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"Hello, this is a text file\n", "not a pcap or pcapng file (magic 48656c6c)"),
        (b"", "not a pcap or pcapng file (the file is empty)"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "pcap file header is truncated"),
    ],
)
def test_not_a_capture(tmp_path: Path, content: bytes, error: str) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match=error.replace("(", r"\(").replace(")", r"\)")):
        list(PcapEngine().sip(path))
    with pytest.raises(CaptureError, match="x.pcap"):
        list(PcapEngine().frames(path))


def test_missing_file_is_a_capture_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot open capture"):
        list(PcapEngine().sip(tmp_path / "nope.pcap"))


def test_snaplen_cut(tmp_path: Path) -> None:
    path = write_pcap(
        tmp_path / "s.pcap", [udp4(INVITE), udp4(b"\x80" * 300, 20000, 30000)], snaplen=200
    )
    records = sip_records(path)
    assert [n.rule for n in notes(records)] == ["capture.snaplen"]
    frame_records = list(PcapEngine().frames(path))
    snap = [r for r in frame_records if isinstance(r, CaptureNote)]
    assert [n.rule for n in snap] == ["capture.snaplen", "capture.snaplen"]  # first + summary
    first = next(r for r in frame_records if isinstance(r, Frame))
    assert len(first.payload) == 200 - 42 and first.payload_len == len(INVITE)


def test_progress_hook_and_frames(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "p.pcap", [udp4(OK), tcp4(1, BYE, flags="S")])
    calls: list[tuple[int, int]] = []
    frames = list(PcapEngine(progress=lambda done, total: calls.append((done, total))).frames(path))
    size = path.stat().st_size
    assert calls[-1] == (size, size)
    assert [(f.frame, f.proto) for f in frames if isinstance(f, Frame)] == [(1, 17), (2, 6)]
    tcp = frames[1]
    assert isinstance(tcp, Frame) and tcp.tcp_flags == SYN and tcp.seq == 1
    assert not tcp.tcp_flags & FIN


def test_decoder_on_live_packets() -> None:
    decoder = Decoder()
    got = decoder.decode(1, udp4(OK, ip_id=9), T0, 7)
    assert isinstance(got, Frame)
    assert (got.frame, got.src, got.dst, got.payload, got.ip_id) == (7, A4, B4, OK, 9)
    assert decoder.decode(1, b"\x00" * 10, T0, 8) is None
    assert (
        decoder.decode(1, bytes(Ether(src=MAC_A, dst=MAC_B, type=0x0806) / Raw(b"\0" * 28)), T0, 9)
        is None
    )


# --- the same synthetic edge cases through tshark --------------------------------------


@pytest.mark.peer
def test_tshark_agrees_on_synthetic_edge_cases(tmp_path: Path) -> None:
    from tests.conftest import require_tool

    from ecc_doctor.captures.tshark_engine import TsharkEngine

    require_tool("tshark")
    big = sip_message("INVITE sip:bob@x SIP/2.0", body=b"a=x\r\n" * 400)
    frags = fragment(
        IP(src=A4, dst=B4, id=77) / UDP(sport=5060, dport=5060) / Raw(big), fragsize=800
    )
    a, b, c = INVITE[:100], INVITE[100:250], INVITE[250:]
    frames = [
        tcp4(999, flags="S"),
        tcp4(1000, OK),
        tcp4(1000 + len(OK), ACK_MSG + BYE),
        *(eth(f) for f in frags),
        bytes(
            Ether(src=MAC_A, dst=MAC_B)
            / Dot1Q(vlan=10)
            / IP(src=B4, dst=A4, id=3)
            / UDP(sport=5062, dport=5060)
            / Raw(OK)
        ),
        tcp4(1, a, sport=40001),
        tcp4(101, b, sport=40001),
        tcp4(251, c, sport=40001),
    ]
    path = write_pcap(tmp_path / "mix.pcap", frames)
    ours = [(m.frames, m.data, m.transport) for m in messages(sip_records(path))]
    theirs = [(m.frames, m.data, m.transport) for m in messages(list(TsharkEngine().sip(path)))]
    assert len(ours) == 6
    assert ours == theirs


def test_corrupted_captures_end_in_notes_or_capture_error(tmp_path: Path) -> None:
    """Random byte damage (seeded): records, notes or CaptureError, never another exception."""
    import random

    from tests.conftest import FIXTURES

    rng = random.Random(6)
    tcp_file = write_pcap(
        tmp_path / "tcp.pcap",
        [
            tcp4(999, flags="S"),
            tcp4(1000, INVITE[:120]),
            tcp4(1120, INVITE[120:]),
            tcp4(1000 + len(INVITE), BYE),
        ],
    )
    sources = [
        tcp_file.read_bytes(),
        (FIXTURES / "captures" / "sipnab-sip-auth-failure.pcapng").read_bytes(),
    ]
    damaged = tmp_path / "damaged.pcap"
    outcomes = set()
    for _ in range(60):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.choice([1, 10, 100])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        damaged.write_bytes(bytes(data))
        try:
            records = list(PcapEngine().sip(damaged)) + list(PcapEngine().frames(damaged))
            outcomes.add("read" if not notes(records) else "notes")
        except CaptureError:
            outcomes.add("error")
    assert outcomes == {"read", "notes", "error"}


def test_snaplen_cut_tcp_segment_drops_the_message_and_resynchronises(tmp_path: Path) -> None:
    frames = [tcp4(1000, INVITE), tcp4(1000 + len(INVITE), OK)]
    path = write_pcap(tmp_path / "cut.pcap", frames, snaplen=len(OK) + 54 + 10)
    records = sip_records(path)
    assert [m.data for m in messages(records)] == [OK]
    assert [(n.rule, n.frames) for n in notes(records)] == [("capture.snaplen", (1,))]


def test_udp_junk_notes_are_capped(tmp_path: Path) -> None:
    frames = [udp4(b"junk %d" % i, ip_id=i + 1) for i in range(30)]
    got = notes(sip_records(write_pcap(tmp_path / "junk.pcap", frames)))
    assert len(got) == sipassembler.MAX_JUNK_NOTES + 1
    assert "30 UDP datagrams on SIP ports were not SIP messages" in got[-1].message


def test_bytes_held_for_all_connections_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sipassembler, "MAX_PENDING", 100_000)
    asm = SipAssembler()
    out = []
    for n in range(2048):  # 2048 connections, each holding a partial 1 KB header
        head = b"INVITE sip:x SIP/2.0\r\nX: " + b"a" * 1000
        out += asm.feed(
            Frame(n + 1, T0, A4, B4, 6, 10000 + n, 5060, head, PSH | ACK, 1, 1, len(head))
        )
    assert sum(s.pending for s in asm.streams.values()) <= 100_000 + 1024 * 1030
    assert any(
        "KiB are held for all connections" in n.message for n in out if isinstance(n, CaptureNote)
    )


def test_ipv6_extension_headers_before_udp_and_tcp(tmp_path: Path) -> None:
    from scapy.layers.inet6 import IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop

    ext = IPv6(src=A6, dst=B6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt()
    frames = [
        eth(ext / UDP(sport=5060, dport=5060) / Raw(OK)),
        eth(ext / TCP(sport=40000, dport=5061, seq=5, flags="PA") / Raw(BYE)),
    ]
    got = messages(sip_records(write_pcap(tmp_path / "ext.pcap", frames)))
    assert [(m.data, m.transport, m.src) for m in got] == [(OK, "UDP", A6), (BYE, "TCP", A6)]


def test_tls_on_5061_is_ignored_and_a_junk_only_connection_is_reported(tmp_path: Path) -> None:
    frames = [
        tcp4(1, b"\x16\x03\x01\x02\x00" + b"\x01" * 200, dport=5061),
        tcp4(1, b"\x00\x01\x02 not sip at all", sport=40001),
        tcp4(22, b"more junk", sport=40001),
    ]
    records = sip_records(write_pcap(tmp_path / "tls.pcap", frames))
    assert messages(records) == []
    (note,) = notes(records)
    assert note.rule == "sip.framing" and note.frames == (2, 3)
    assert "none starting a SIP message" in note.message


@pytest.mark.parametrize("form", ["ethernet", "sll", "sll2", "pcapng"])
def test_rtp_is_skipped_and_frame_numbers_stay_right(tmp_path: Path, form: str) -> None:
    def ip_udp(payload: bytes, sport: int, dport: int, ip_id: int) -> bytes:
        return bytes(IP(src=A4, dst=B4, id=ip_id) / UDP(sport=sport, dport=dport) / Raw(payload))

    rtp = b"\x80\x00" + bytes(170)
    packets = [
        ip_udp(rtp, 20000, 30000, 1),
        ip_udp(rtp, 20000, 30000, 2),
        ip_udp(OK, 5060, 5060, 3),
        ip_udp(b"Z" + bytes(40), 20000, 30000, 4),  # a capital letter, but no start line
        ip_udp(BYE, 7000, 7002, 5),
    ]
    sll = struct.pack("!HHH8sH", 0, 1, 6, bytes(8), 0x0800)
    if form == "pcapng":
        path = tmp_path / "r.pcapng"
        blocks = [
            epb("<", 0, i, bytes(Ether(src=MAC_A, dst=MAC_B, type=0x0800)) + p)
            for i, p in enumerate(packets)
        ]
        path.write_bytes(shb("<") + idb("<", 1) + b"".join(blocks))
    else:
        link = {"ethernet": 1, "sll": 113, "sll2": 276}[form]
        wrap = {
            1: lambda p: bytes(Ether(src=MAC_A, dst=MAC_B, type=0x0800)) + p,
            113: lambda p: sll + p,
            276: sll2,
        }[link]
        path = write_pcap(tmp_path / "r.pcap", [wrap(p) for p in packets], linktype=link)
    records = sip_records(path)
    assert notes(records) == []
    assert [(m.frame, m.data) for m in messages(records)] == [(3, OK), (5, BYE)]


def test_start_line_split_after_a_few_bytes(tmp_path: Path) -> None:
    frames = [tcp4(1000, INVITE[:10]), tcp4(1010, INVITE[10:30]), tcp4(1030, INVITE[30:])]
    records = sip_records(write_pcap(tmp_path / "tiny.pcap", frames))
    assert notes(records) == []
    assert [(m.data, m.frames) for m in messages(records)] == [(INVITE, (1, 2, 3))]


@pytest.mark.parametrize("seed", range(5))
def test_random_segmentation_reordering_and_retransmission(seed: int) -> None:
    """Any cut, local reordering and overlapping retransmission yields each message once."""
    import random

    rng = random.Random(seed)
    sent = [
        sip_message(f"MESSAGE sip:{i}@x SIP/2.0", call_id=str(i), body=b"x" * rng.randrange(300))
        for i in range(30)
    ]
    stream = b"".join(m + (b"\r\n\r\n" if rng.random() < 0.2 else b"") for m in sent)
    cuts = sorted({0, len(stream), *(rng.randrange(1, len(stream)) for _ in range(80))})
    segments = [(a, stream[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    for _ in range(15):  # overlapping retransmissions
        a = rng.randrange(len(stream) - 10)
        segments.insert(rng.randrange(len(segments)), (a, stream[a : a + rng.randrange(1, 600)]))
    for i in range(0, len(segments) - 3, 3):  # local reordering
        window = segments[i : i + 3]
        rng.shuffle(window)
        segments[i : i + 3] = window
    first = min(range(len(segments)), key=lambda i: segments[i][0])
    segments.insert(0, segments.pop(first))  # the capture starts with the first segment
    base = 0xFFFFF000 if seed % 2 else 7000  # odd seeds wrap the sequence space
    asm = SipAssembler()
    out = []
    for n, (offset, data) in enumerate(segments, 1):
        out += asm.feed(frame((base + offset) & 0xFFFFFFFF, data, n))
    out += asm.flush()
    assert [r.data for r in out if isinstance(r, SipMessage)] == sent
    assert [r for r in out if isinstance(r, CaptureNote)] == []


@pytest.mark.parametrize(
    ("clen", "why"),
    [
        ("abc", "not a number"),
        ("99999999", "exceeds"),
        ("5\r\nContent-Length: 6", "conflicting"),
        ("5\r\nl: 5", None),  # the same value twice is not a conflict
        ("1 2", "not a number"),
    ],
)
def test_bad_content_length_on_udp(tmp_path: Path, clen: str, why: str | None) -> None:
    """The reader's fast lane (plain IPv4/UDP) and the general path (VLAN-tagged) agree,
    and the analysis of either notes the bad Content-Length."""
    bad = sip_message("INVITE sip:bob@x SIP/2.0", body=b"v=0\r\n", clen=clen)
    plain_path = write_pcap(tmp_path / "plain.pcap", [udp4(bad)])
    plain = sip_records(plain_path)
    ip = IP(src=A4, dst=B4, id=1) / UDP(sport=5060, dport=5060) / Raw(bad)
    tagged = bytes(Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=10) / ip)
    general_path = write_pcap(tmp_path / "vlan.pcap", [tagged])
    general = sip_records(general_path)
    assert plain == general
    assert [m.data for m in messages(plain)] == [bad]
    assert notes(plain) == []
    found = framing_notes(plain_path)
    assert found == framing_notes(general_path)
    if why is None:
        assert found == []
    else:
        (note,) = found
        assert why in note.message and note.frames == (1,)
