"""The file reader's RTP skip drops exactly the packets it should, whatever the chunking.

``open_capture(path, skip=...)`` decides with one struct unpack per packet (issue #6). The
records it yields must be those of ``open_capture(path)`` (no skip) minus the plain
IPv4/UDP packets that are not on a SIP port and cannot start a SIP message, tested here
byte by byte, on every committed and public capture and on synthetic files in both byte
orders and three link types, with read chunks small enough to cut records anywhere.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from tests.conftest import FIXTURES, PUBLIC_CAPTURES, require_shared

from ecc_doctor.captures import pcapfile
from ecc_doctor.captures.pcapfile import open_capture
from ecc_doctor.captures.sipframing import SIP_FIRST_BYTES

PORTS = frozenset({5060, 5061, 5062})
SKIP = (PORTS, SIP_FIRST_BYTES)
LINKS = {1: 14, 113: 16, 276: 20}  # network header offset
ETHERTYPE_AT = {1: 12, 113: 14, 276: 0}


def droppable(linktype: int, data: bytes) -> bool:
    """What the skip may drop, written out plainly: unfragmented IPv4 (no options)/UDP, not
    on a SIP port, payload not starting with a capital letter."""
    if linktype not in LINKS:
        return False
    ip = LINKS[linktype]
    at = ETHERTYPE_AT[linktype]
    if len(data) <= ip + 28 or data[at : at + 2] != b"\x08\x00":
        return False
    if data[ip] != 0x45 or data[ip + 9] != 17 or data[ip + 6] & 0x3F or data[ip + 7]:
        return False
    sport, dport = struct.unpack_from("!HH", data, ip + 20)
    return data[ip + 28] not in SIP_FIRST_BYTES and sport not in PORTS and dport not in PORTS


def check(path: Path) -> int:
    everything = list(open_capture(path))
    want = [r for r in everything if type(r) is not tuple or not droppable(r[1], r[2])]
    got = list(open_capture(path, None, SKIP))
    assert got == want
    return len(everything) - len(want)


ALL = sorted(FIXTURES.rglob("*.pcap*"))
PUBLIC = sorted(p.name for p in PUBLIC_CAPTURES.glob("*.pcap*")) if PUBLIC_CAPTURES.is_dir() else []


@pytest.mark.parametrize("chunk", [1 << 20, 4096, 97])
def test_committed_captures(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcapfile, "CHUNK", chunk)
    for path in ALL:
        check(path)


@pytest.mark.parametrize("name", PUBLIC or ["(none)"])
def test_public_captures(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = require_shared(PUBLIC_CAPTURES / name)
    check(path)
    monkeypatch.setattr(pcapfile, "CHUNK", 211)
    check(path)


def frames(linktype: int, rng: random.Random) -> list[bytes]:
    """RTP, SIP, other UDP, TCP, fragments, IP options, short and odd frames, shuffled."""
    link = {
        1: bytes.fromhex("00005e00530200005e005301") + b"\x08\x00",
        113: struct.pack("!HHH8sH", 0, 1, 6, bytes(8), 0x0800),
        276: struct.pack("!HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, bytes(8)),
    }[linktype]

    def ip(payload: bytes, proto: int = 17, vihl: int = 0x45, flags: int = 0x4000) -> bytes:
        opts = bytes((vihl & 0x0F) * 4 - 20)
        head = struct.pack("!BBHHHBBH4s4s", vihl, 0, 20 + len(opts) + len(payload), 7, flags,
                           64, proto, 0, bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))  # fmt: skip
        return link + head + opts + payload

    def udp(sport: int, dport: int, payload: bytes) -> bytes:
        return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload

    rtp = b"\x80\x00" + bytes(rng.randrange(10, 200))
    sip = b"INVITE sip:x SIP/2.0\r\n\r\n"
    out = [
        ip(udp(20000, 30000, rtp)),
        ip(udp(20000, 30000, b"Z" + rtp)),  # could start a SIP message: kept
        ip(udp(5062, 30000, rtp)),  # a SIP port: kept
        ip(udp(30000, 5060, rtp)),
        ip(udp(7000, 7002, sip)),
        ip(udp(20000, 30000, rtp), proto=6),
        ip(udp(20000, 30000, rtp), vihl=0x46),
        ip(udp(20000, 30000, rtp), flags=0x2000),  # more fragments
        ip(udp(20000, 30000, rtp), flags=0x0001),  # a fragment offset
        ip(udp(20000, 30000, b"")),  # no payload byte
        ip(udp(20000, 30000, b"\x80")),
        link[:5],
        b"",
        link.replace(b"\x08\x00", b"\x86\xdd") + bytes(60),
    ]
    picked = [rng.choice(out) for _ in range(400)]
    return picked + out


def write(path: Path, linktype: int, endian: str, data: list[bytes], cut: int = 0) -> Path:
    raw = bytearray(struct.pack(endian + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
    for i, frame in enumerate(data):
        raw += struct.pack(endian + "IIII", 1_700_000_000 + i, i, len(frame), len(frame)) + frame
    path.write_bytes(bytes(raw[: len(raw) - cut]))
    return path


@pytest.mark.parametrize("linktype", sorted(LINKS))
@pytest.mark.parametrize("endian", ["<", ">"])
def test_synthetic_files(
    tmp_path: Path, linktype: int, endian: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(f"{linktype}{endian}")
    data = frames(linktype, rng)
    for chunk in (1 << 20, 61, 64, 4096):
        monkeypatch.setattr(pcapfile, "CHUNK", chunk)
        for cut in (0, 1, 30):  # whole, and ending inside the last record
            assert check(write(tmp_path / "s.pcap", linktype, endian, data, cut)) > 40
