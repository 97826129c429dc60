"""Link, IP and transport headers parsed with struct: raw frame bytes -> :class:`Frame`.

The :class:`Decoder` is stateful only for IP fragment reassembly (IPv4 and IPv6), kept in a
bounded table: datagrams whose fragments never all arrive are dropped after
``FRAGMENT_TIMEOUT`` seconds of capture time or when the table is full, with a
``ip.fragments`` note. Nothing here builds a scapy packet.
"""

from __future__ import annotations

import socket
import struct
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from ecc_doctor.captures.records import TCP, UDP, CaptureNote, Frame

# link types (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL: Final = 0
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW_ALIASES: Final = (12, 14, 101)
LINKTYPE_LOOP: Final = 108
LINKTYPE_LINUX_SLL: Final = 113
LINKTYPE_IPV4: Final = 228
LINKTYPE_IPV6: Final = 229
LINKTYPE_LINUX_SLL2: Final = 276

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
VLAN_TAGS: Final = (0x8100, 0x88A8, 0x9100, 0x9200)
IPV6_EXT: Final = {0, 43, 60, 135, 139, 140, 253, 254}
IPV6_FRAGMENT, IPV6_AH, IPV6_NONE = 44, 51, 59

FRAGMENT_TIMEOUT: Final = 30.0  # seconds of capture time
MAX_FRAGMENT_DATAGRAMS: Final = 1024
MAX_DATAGRAM: Final = 65535 + 8

# Called with (proto, sport, dport, payload, payload_offset) before a Frame is built;
# returning False skips the packet cheaply (RTP, non-SIP).
Want = Callable[[int, int, int, bytes, int], bool]

_u16: Final = struct.Struct("!H").unpack_from
_u16_ports: Final = struct.Struct("!HH").unpack_from
_ipv4: Final = struct.Struct("!BxHHHBB2x4s4s").unpack_from
_ipv6: Final = struct.Struct("!4xHBx16s16s").unpack_from
_tcp: Final = struct.Struct("!HHIIBB").unpack_from


def address(raw: bytes, _cache: dict[bytes, str] = {}) -> str:  # noqa: B006 - a deliberate cache
    """Text form of a 4- or 16-byte address (cached: captures reuse few addresses)."""
    text = _cache.get(raw)
    if text is None:
        if len(_cache) > 65536:
            _cache.clear()
        text = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
        _cache[raw] = text
    return text


class _Pending:
    """Fragments of one IP datagram waiting for the rest."""

    __slots__ = ("parts", "total", "frames", "first_ts", "proto", "size")

    def __init__(self, ts: float) -> None:
        self.parts: dict[int, bytes] = {}
        self.total = -1
        self.frames: list[int] = []
        self.first_ts = ts
        self.proto = -1
        self.size = 0


class Decoder:
    """Turns raw link-layer frames into :class:`Frame` records (reassembling IP fragments).

    >>> Decoder().decode(1, frame_bytes, ts, 1)   # doctest: +SKIP
    Frame(frame=1, ts=..., src='10.0.0.1', ...)
    """

    def __init__(self) -> None:
        self._frags: OrderedDict[tuple[object, ...], _Pending] = OrderedDict()
        self.notes: list[CaptureNote] = []

    def pop_notes(self) -> list[CaptureNote]:
        """Notes produced as side effects (fragments given up), oldest first."""
        notes, self.notes = self.notes, []
        return notes

    def decode(
        self, linktype: int, data: bytes, ts: float, frame_no: int, want: Want | None = None
    ) -> Frame | CaptureNote | None:
        """The TCP/UDP packet in *data*, or None (not IP, not TCP/UDP, skipped, a fragment)."""
        off, ethertype = self.l3(linktype, data)
        if ethertype == ETH_IPV4:
            return self._ipv4(data, off, ts, frame_no, want)
        if ethertype == ETH_IPV6:
            return self._ipv6(data, off, ts, frame_no, want)
        return None

    @staticmethod
    def l3(linktype: int, data: bytes) -> tuple[int, int]:
        """Offset of the network header and its ethertype (0 when not IP)."""
        if linktype == LINKTYPE_ETHERNET:
            off = 14
            if len(data) < 14:
                return 0, 0
            ethertype = (data[12] << 8) | data[13]
        elif linktype == LINKTYPE_LINUX_SLL:
            off = 16
            if len(data) < 16:
                return 0, 0
            ethertype = (data[14] << 8) | data[15]
        elif linktype == LINKTYPE_LINUX_SLL2:
            off = 20
            if len(data) < 20:
                return 0, 0
            ethertype = (data[0] << 8) | data[1]
        else:
            return _l3_other(linktype, data)
        while ethertype in VLAN_TAGS and len(data) >= off + 4:
            ethertype = (data[off + 2] << 8) | data[off + 3]
            off += 4
        return off, ethertype

    def _ipv4(
        self, data: bytes, off: int, ts: float, frame_no: int, want: Want | None
    ) -> Frame | CaptureNote | None:
        if len(data) < off + 20:
            return None
        vihl, total, ip_id, frag, _ttl, proto, src, dst = _ipv4(data, off)
        ihl = (vihl & 0x0F) * 4
        if vihl >> 4 != 4 or ihl < 20:
            return None
        end = off + total if total >= ihl else len(data)  # total 0: TSO, use what was captured
        if frag & 0x3FFF:
            key = (4, src, dst, proto, ip_id)
            body = data[off + ihl : end]
            done = self._fragment(
                key, (frag & 0x1FFF) * 8, not frag & 0x2000, body, proto, ts, frame_no
            )
            if done is None:
                return None
            payload, frames, proto = done
            return _transport(proto, payload, 0, len(payload), src, dst, ts, frames, ip_id, want)
        return _transport(proto, data, off + ihl, end, src, dst, ts, (frame_no,), ip_id, want)

    def _ipv6(
        self, data: bytes, off: int, ts: float, frame_no: int, want: Want | None
    ) -> Frame | CaptureNote | None:
        if len(data) < off + 40:
            return None
        plen, nxt, src, dst = _ipv6(data, off)
        end = off + 40 + plen if plen else len(data)  # jumbogram / TSO: what was captured
        pos = off + 40
        while nxt in IPV6_EXT or nxt == IPV6_AH:
            if pos + 8 > len(data):
                return None
            step = (data[pos + 1] + 2) * 4 if nxt == IPV6_AH else (data[pos + 1] + 1) * 8
            nxt = data[pos]
            pos += step
        if nxt == IPV6_FRAGMENT:
            if pos + 8 > len(data):
                return None
            upper = data[pos]
            offflags, ident = struct.unpack_from("!HI", data, pos + 2)
            key = (6, src, dst, ident)
            body = data[pos + 8 : end]
            done = self._fragment(
                key, offflags & 0xFFF8, not offflags & 1, body, upper, ts, frame_no
            )
            if done is None:
                return None
            payload, frames, upper = done
            return _after_ext(upper, payload, src, dst, ts, frames, want)
        return _transport(nxt, data, pos, end, src, dst, ts, (frame_no,), None, want)

    def _fragment(
        self,
        key: tuple[object, ...],
        offset: int,
        last: bool,
        body: bytes,
        proto: int,
        ts: float,
        frame_no: int,
    ) -> tuple[bytes, tuple[int, ...], int] | None:
        self._expire(ts)
        pending = self._frags.get(key)
        if pending is None:
            pending = self._frags[key] = _Pending(ts)
            if len(self._frags) > MAX_FRAGMENT_DATAGRAMS:
                old_key, old = self._frags.popitem(last=False)
                self._give_up(old, "the fragment table is full")
        pending.frames.append(frame_no)
        if offset == 0:
            pending.proto = proto
        if last:
            pending.total = offset + len(body)
        if offset not in pending.parts:
            pending.parts[offset] = body
            pending.size += len(body)
        if pending.size > MAX_DATAGRAM or offset + len(body) > MAX_DATAGRAM:
            del self._frags[key]
            self._give_up(pending, "the fragments add up to more than 64 KiB")
            return None
        if pending.total < 0 or pending.proto < 0:
            return None
        payload = _join(pending.parts, pending.total)
        if payload is None:
            return None
        del self._frags[key]
        return payload, tuple(pending.frames), pending.proto

    def _expire(self, ts: float) -> None:
        while self._frags:
            key, oldest = next(iter(self._frags.items()))
            if ts - oldest.first_ts <= FRAGMENT_TIMEOUT:
                return
            del self._frags[key]
            self._give_up(oldest, f"the rest did not arrive within {FRAGMENT_TIMEOUT:g} s")

    def _give_up(self, pending: _Pending, why: str) -> None:
        self.notes.append(
            CaptureNote(
                "ip.fragments",
                f"IP fragments in frames {', '.join(map(str, pending.frames))} were dropped: {why}",
                tuple(pending.frames),
            )
        )

    def flush(self) -> list[CaptureNote]:
        """End of capture: every incomplete fragmented datagram becomes a note."""
        for pending in self._frags.values():
            self._give_up(pending, "the capture ends before the rest of the datagram")
        self._frags.clear()
        return self.pop_notes()


def _join(parts: dict[int, bytes], total: int) -> bytes | None:
    """The reassembled datagram, or None while a hole remains (overlaps: first copy wins)."""
    out = bytearray()
    for offset in sorted(parts):
        chunk = parts[offset]
        if offset > len(out):
            return None
        if offset + len(chunk) > len(out):
            out += chunk[len(out) - offset :]
    if len(out) < total:
        return None
    return bytes(out[:total])


def _after_ext(
    nxt: int,
    payload: bytes,
    src: bytes,
    dst: bytes,
    ts: float,
    frames: tuple[int, ...],
    want: Want | None,
) -> Frame | None:
    pos = 0
    while nxt in IPV6_EXT or nxt == IPV6_AH:
        if pos + 8 > len(payload):
            return None
        step = (payload[pos + 1] + 2) * 4 if nxt == IPV6_AH else (payload[pos + 1] + 1) * 8
        nxt = payload[pos]
        pos += step
    return _transport(nxt, payload, pos, len(payload), src, dst, ts, frames, None, want)


def _transport(
    proto: int,
    data: bytes,
    off: int,
    end: int,
    src: bytes,
    dst: bytes,
    ts: float,
    frames: tuple[int, ...],
    ip_id: int | None,
    want: Want | None,
) -> Frame | None:
    if proto == UDP:
        if len(data) < off + 8:
            return None
        sport, dport, ulen = struct.unpack_from("!HHH", data, off)
        start = off + 8
        plen = end - start
        if 8 <= ulen < plen + 8:  # (not min(): this runs for every UDP packet)
            plen = ulen - 8
        if want is not None and not want(UDP, sport, dport, data, start):
            return None
        payload = data[start : start + plen]
        return Frame(
            frames[-1], ts, address(src), address(dst), UDP, sport, dport, payload,
            payload_len=plen if plen > 0 else 0, ip_id=ip_id,
            fragments=frames if len(frames) > 1 else (),
        )  # fmt: skip
    if proto == TCP:
        if len(data) < off + 14:
            return None
        sport, dport, seq, ack, doff, flags = _tcp(data, off)
        if doff < 0x50:  # a TCP header is at least 5 words
            return None
        start = off + (doff >> 4) * 4
        if want is not None and not want(TCP, sport, dport, data, start):
            return None
        payload = data[start:end]
        return Frame(
            frames[-1], ts, address(src), address(dst), TCP, sport, dport, payload,
            tcp_flags=flags, seq=seq, ack=ack, payload_len=end - start if end > start else 0, ip_id=ip_id,
            fragments=frames if len(frames) > 1 else (),
        )  # fmt: skip
    return None


def _l3_other(linktype: int, data: bytes) -> tuple[int, int]:
    if linktype in LINKTYPE_RAW_ALIASES or linktype in (LINKTYPE_IPV4, LINKTYPE_IPV6):
        if not data:
            return 0, 0
        version = data[0] >> 4
        return 0, ETH_IPV4 if version == 4 else ETH_IPV6 if version == 6 else 0
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 4:
            return 0, 0
        # NULL: address family in the capturing host's byte order; LOOP: network order
        family = struct.unpack_from("<I", data)[0]
        if family >= 256:
            family = struct.unpack_from(">I", data)[0]
        if family == 2:
            return 4, ETH_IPV4
        if family in (10, 23, 24, 28, 30):
            return 4, ETH_IPV6
        return 0, 0
    return 0, 0
