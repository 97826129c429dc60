"""Tiny classic-pcap writer for tests that need a capture of a given shape or size.

Frames are Ethernet (explicit documentation MACs 00:00:5e:00:53:01/02, so nothing is ever
resolved on a real network) + IPv4 with a valid header checksum + UDP or TCP. Timestamps
start at 1000 s and step 1 ms per frame.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
UDP, TCP = 17, 6
_ETHER = b"\x00\x00\x5e\x00\x53\x02\x00\x00\x5e\x00\x53\x01\x08\x00"


def ipv4_frame(
    proto: int,
    payload: bytes,
    sport: int = 40000,
    dport: int = 5060,
    *,
    seq: int = 0,
    src: bytes = A,
    dst: bytes = B,
) -> bytes:
    """One Ethernet/IPv4/UDP-or-TCP frame (TCP: PSH+ACK with sequence number *seq*)."""
    if proto == TCP:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 5 << 4, 0x18, 65535, 0, 0)
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4) + len(payload), 0, 0x4000, 64, proto, 0, src, dst
    )
    s = sum(struct.unpack("!10H", ip))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xFFFF) + ip[12:]
    return _ETHER + ip + l4 + payload


def tcp_stream(
    payloads: Iterable[bytes], seq: int = 1000, sport: int = 40000, dport: int = 5060
) -> list[bytes]:
    """Consecutive TCP segments of one direction, a segment per payload."""
    frames = []
    for payload in payloads:
        frames.append(ipv4_frame(TCP, payload, sport, dport, seq=seq))
        seq += len(payload)
    return frames


def write_pcap(path: Path, frames: Iterable[bytes]) -> Path:
    """Write *frames* as a little-endian microsecond pcap (link type Ethernet)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for i, frame in enumerate(frames):
        out.append(
            struct.pack("<IIII", 1000 + i // 1000, (i % 1000) * 1000, len(frame), len(frame))
        )
        out.append(frame)
    path.write_bytes(b"".join(out))
    return path


def cut_snaplen(path: Path, out: Path, snaplen: int) -> Path:
    """A copy of the little-endian pcap at *path* as if captured with snapshot length
    *snaplen*: every record cut to it, its original length kept."""
    data = path.read_bytes()
    head = bytearray(data[:24])
    struct.pack_into("<I", head, 16, snaplen)
    parts, pos = [bytes(head)], 24
    while pos + 16 <= len(data):
        sec, frac, caplen, origlen = struct.unpack_from("<IIII", data, pos)
        kept = data[pos + 16 : pos + 16 + min(caplen, snaplen)]
        parts.append(struct.pack("<IIII", sec, frac, len(kept), origlen) + kept)
        pos += 16 + caplen
    out.write_bytes(b"".join(parts))
    return out
