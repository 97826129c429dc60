"""Stream raw records out of pcap and pcapng files with plain struct parsing.

Records are ``(frame, linktype, data, ts, origlen)`` tuples,
read from fixed-size chunks so memory stays flat however big the file is. A damaged file
ends with a :class:`CaptureNote` (``capture.truncated``, ``capture.corrupt``) instead of an
exception; a file that is not a capture at all raises :class:`CaptureError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import BinaryIO, Final

from ecc_doctor.cancel import raise_if_stopped
from ecc_doctor.captures.records import CaptureNote
from ecc_doctor.errors import CaptureError

Record = tuple[int, int, bytes, float, int]  # frame number, linktype, data, ts, original length
Progress = Callable[[int, int], None]
# (SIP ports, bytes a SIP start line can begin with): frames that are plain IPv4/UDP on other
# ports whose payload cannot start a SIP message are skipped before they are even copied
Skip = tuple[frozenset[int], frozenset[int]]
# (read buffer, offset of the IPv4 header, end of the record, frame number, timestamp) ->
# TAKEN when the lane took the packet (it is then not yielded), FLUSH when it also wants the
# reader to yield FLUSH now (it holds results to pass on), falsy to decline. Called, with
# *skip*, for the unfragmented IPv4/UDP packets without IP options on Ethernet/SLL/SLL2 that
# the skip let through, before they are copied out of the read buffer (reader._FastLane)
Lane = Callable[[bytes, int, int, int, float], int]
TAKEN, FLUSH = 1, 2

# not Final, unlike the other constants: the tests shrink it with monkeypatch
CHUNK = 1 << 20  # 1 MiB reads (a refill briefly holds the old window, the read and the new one)
MAX_RECORD: Final = 1 << 26  # 64 MiB: larger record lengths mean a corrupt file
PROGRESS_EVERY: Final = 1 << 24  # call the progress hook every 16 MiB

PCAP_MAGICS: Final = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB: Final = b"\x0a\x0d\x0d\x0a"
BT_IDB, BT_PB, BT_SPB, BT_EPB = 1, 2, 3, 6
OPT_TSRESOL, OPT_TSOFFSET = 9, 14


class ChunkReader:
    """A sliding window over a binary file: ``need(n)`` makes ``buf[pos:pos+n]`` available."""

    def __init__(self, fh: BinaryIO, total: int, progress: Progress | None) -> None:
        self.fh = fh
        self.buf = b""
        self.pos = 0
        self.base = 0  # file offset of buf[0]
        self.total = total
        self.progress = progress
        self._next_report = PROGRESS_EVERY

    def need(self, n: int) -> bool:
        """True when *n* bytes from ``pos`` are in ``buf`` (reading more if needed)."""
        if self.pos + n <= len(self.buf):
            return True
        # read again from the unread part (the file is seekable, see open_capture): no copy
        # of the old window into the new one
        raise_if_stopped()  # once per chunk: a check cut at its timeout ends its reading here
        self.base += self.pos
        self.fh.seek(self.base)
        self.buf = self.fh.read(max(CHUNK, n))
        self.pos = 0
        if self.progress is not None and self.base >= self._next_report:
            self._next_report = self.base + PROGRESS_EVERY
            self.progress(self.base, self.total)
        return n <= len(self.buf)

    @property
    def offset(self) -> int:
        return self.base + self.pos


# link types with a fixed-size header ending in the ethertype: offset of the network header
# and where the ethertype sits relative to it (Ethernet, Linux SLL, Linux SLL2)
FIXED_LINKS: Final = {1: (14, -2), 113: (16, -2), 276: (20, -20)}
_PORTS: Final = struct.Struct("!HH").unpack_from


def _plain_udp(buf: bytes, ip: int, et: int, end: int) -> bool:
    """An unfragmented IPv4/UDP packet without IP options at *ip* (what a Lane takes)."""
    return (
        end >= ip + 28
        and buf[ip] == 0x45
        and buf[ip + 9] == 17
        and buf[ip + et] == 8
        and buf[ip + et + 1] == 0
        and not buf[ip + 6] & 0x3F
        and not buf[ip + 7]
    )


def _rtp_like(buf: bytes, ip: int, et: int, end: int, skip: Skip) -> bool:
    """True for an unfragmented IPv4/UDP packet (no options) that cannot carry SIP."""
    return (
        end > ip + 28
        and _plain_udp(buf, ip, et, end)
        and buf[ip + 28] not in skip[1]
        and not skip[0].intersection(_PORTS(buf, ip + 20))
    )


def open_capture(
    path: Path,
    progress: Progress | None = None,
    skip: Skip | None = None,
    lane: Lane | None = None,
) -> Generator[Record | CaptureNote | int, None, None]:
    """Records of the pcap or pcapng file at *path*, in file order (see ``Skip`` and
    ``Lane``; *lane* is used together with *skip*)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the generator's finally
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open capture: {exc.strerror or exc}") from exc
    try:
        total = Path(path).stat().st_size
        head = fh.read(24)
        fh.seek(0)
        _check_head(path, head)
        reader = ChunkReader(fh, total, progress)
        if head[:4] in PCAP_MAGICS:
            yield from _pcap_records(reader, path, skip, lane)
        else:
            yield from _pcapng_records(reader, path, skip, lane)
        if progress is not None:
            progress(total, total)
    finally:
        fh.close()


def check_capture(path: Path) -> None:
    """Raise the CaptureError :func:`open_capture` raises when *path* cannot be opened or its
    first bytes are not a pcap or pcapng header (the tshark engine checks with this before it
    runs tshark, so both engines reject the same files with the same message)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open capture: {exc.strerror or exc}") from exc
    _check_head(path, head)


def _check_head(path: Path, head: bytes) -> None:
    """CaptureError unless *head* (the file's first 24 bytes, or all of a shorter file)
    begins a pcap file header or a pcapng section header block."""
    magic = head[:4]
    if magic in PCAP_MAGICS:
        if len(head) < 24:
            raise CaptureError(f"{path}: pcap file header is truncated ({len(head)} of 24 bytes)")
    elif magic == PCAPNG_SHB:
        bom = head[8:12]
        if len(bom) == 4 and bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
            raise CaptureError(f"{path}: not a pcap or pcapng file (byte-order magic {bom.hex()})")
    else:
        shown = f"magic {magic.hex()}" if magic else "the file is empty"
        raise CaptureError(f"{path}: not a pcap or pcapng file ({shown})")


def _wide_header(endian: str, link: int, et: int) -> struct.Struct:
    """One struct for a record header and the fields the RTP skip looks at (Ethernet/SLL/SLL2
    with IPv4/UDP): sec, frac, caplen, origlen, ethertype, version/IHL, the two flag/offset
    bytes, protocol, both ports and the first payload byte, all in the file's byte order."""
    pad = link + et
    return struct.Struct(f"{endian}IIII{pad}xH{-et - 2}xB5xBBxB10xHH4xB")


def _pcap_records(
    r: ChunkReader, path: Path, skip: Skip | None, lane: Lane | None = None
) -> Iterator[Record | CaptureNote | int]:
    if not r.need(24):
        raise CaptureError(f"{path}: pcap file header is truncated ({len(r.buf)} of 24 bytes)")
    endian, scale = PCAP_MAGICS[r.buf[:4]]
    linktype = struct.unpack_from(endian + "I", r.buf, 20)[0] & 0x0FFFFFFF
    unpack = struct.Struct(endian + "IIII").unpack_from
    link, et = FIXED_LINKS.get(linktype, (-1, 0)) if skip is not None else (-1, 0)
    sip_ports, first = skip if skip is not None else (frozenset(), frozenset())
    # the RTP skip with one unpack per packet: values compared in the file's byte order
    wide_struct = _wide_header(endian, link, et) if link >= 0 else None
    wide = wide_struct.unpack_from if wide_struct is not None else None
    wide_size = wide_struct.size if wide_struct is not None else 0
    ipv4 = struct.unpack(endian + "H", b"\x08\x00")[0]
    swapped = frozenset(
        struct.unpack(endian + "H", struct.pack("!H", p))[0] for p in sip_ports if 0 <= p < 65536
    )
    min_cap = link + 28
    frame = 0
    buf, pos, n = r.buf, 24, len(r.buf)
    while True:
        if wide is not None and pos + wide_size <= n:
            sec, frac, caplen, origlen, ether, vihl, hi, lo, proto, sp, dp, b0 = wide(buf, pos)
            frame += 1
            end = pos + 16 + caplen
            if end <= n:
                if (
                    caplen > min_cap
                    and vihl == 0x45
                    and proto == 17
                    and ether == ipv4
                    and not hi & 0x3F
                    and not lo
                    and b0 not in first
                    and sp not in swapped
                    and dp not in swapped
                ):
                    pos = end
                    continue
                if (
                    lane is not None
                    and caplen >= min_cap
                    and vihl == 0x45
                    and proto == 17
                    and ether == ipv4
                    and not hi & 0x3F
                    and not lo
                    and (took := lane(buf, pos + 16 + link, end, frame, sec + frac * scale))
                ):
                    pos = end
                    if took == FLUSH:
                        yield FLUSH
                    continue
                if caplen <= MAX_RECORD:
                    data = buf[pos + 16 : end]
                    pos = end
                    yield (frame, linktype, data, sec + frac * scale, origlen)
                    continue
        else:
            if pos + 16 > n:
                r.pos = pos
                if not r.need(16):
                    if r.pos < len(r.buf):
                        yield _truncated(frame + 1, "record header")
                    return
                buf, pos, n = r.buf, r.pos, len(r.buf)
            sec, frac, caplen, origlen = unpack(buf, pos)
            frame += 1
        if caplen > MAX_RECORD:
            yield CaptureNote(
                "capture.corrupt",
                f"frame {frame}: record length {caplen} is impossible; the rest of the file is not read",
                (frame,),
            )
            return
        end = pos + 16 + caplen
        if end > n:
            r.pos = pos
            if not r.need(16 + caplen):
                yield _truncated(frame, f"{len(r.buf) - r.pos - 16} of {caplen} bytes")
                return
            buf, pos, n = r.buf, r.pos, len(r.buf)
            end = pos + 16 + caplen
        if skip is not None and link >= 0:
            # the records the one-unpack test above could not see (cut by a chunk end)
            ip = pos + 16 + link
            if _rtp_like(buf, ip, et, end, skip):
                pos = end
                continue
            if (
                lane is not None
                and _plain_udp(buf, ip, et, end)
                and (took := lane(buf, ip, end, frame, sec + frac * scale))
            ):
                pos = end
                if took == FLUSH:
                    yield FLUSH
                continue
        data = buf[pos + 16 : end]
        pos = end
        yield (frame, linktype, data, sec + frac * scale, origlen)


def _truncated(frame: int, what: str) -> CaptureNote:
    return CaptureNote(
        "capture.truncated",
        f"the file ends inside frame {frame} ({what}); frames before it were read",
        (frame,),
    )


class _Iface:
    __slots__ = ("linktype", "per_second", "offset", "snaplen")

    def __init__(self, linktype: int, per_second: float, offset: int, snaplen: int) -> None:
        self.linktype = linktype
        self.per_second = per_second  # timestamp units per second (if_tsresol)
        self.offset = offset
        self.snaplen = snaplen


def _pcapng_records(
    r: ChunkReader, path: Path, skip: Skip | None, lane: Lane | None = None
) -> Iterator[Record | CaptureNote | int]:
    endian = "<"
    ifaces: list[_Iface] = []
    frame = 0
    first = True
    while True:
        if not r.need(12):
            if r.pos < len(r.buf):
                yield _truncated(frame + 1, "block header")
            return
        buf, pos = r.buf, r.pos
        if buf[pos : pos + 4] == PCAPNG_SHB:
            bom = buf[pos + 8 : pos + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            elif first:
                raise CaptureError(
                    f"{path}: not a pcap or pcapng file (byte-order magic {bom.hex()})"
                )
            else:
                yield CaptureNote(
                    "capture.corrupt", f"after frame {frame}: bad section header; stopped", (frame,)
                )
                return
            ifaces = []
        first = False
        btype, blen = struct.unpack_from(endian + "II", buf, pos)
        if blen < 12 or blen % 4 or blen > MAX_RECORD:
            yield CaptureNote(
                "capture.corrupt",
                f"after frame {frame}: pcapng block length {blen} is invalid; the rest of the file is not read",
                (frame,) if frame else (),
            )
            return
        if not r.need(blen):
            is_packet = btype in (BT_EPB, BT_SPB, BT_PB)
            yield _truncated(
                frame + 1 if is_packet else frame,
                f"{len(r.buf) - r.pos} of {blen} bytes of a pcapng block",
            )
            return
        buf, pos = r.buf, r.pos
        r.pos = pos + blen
        if btype == BT_EPB:
            frame += 1
            iface_id, hi, lo, caplen, origlen = struct.unpack_from(endian + "IIIII", buf, pos + 8)
            if skip is not None and iface_id < len(ifaces) and caplen <= blen - 32:
                link, et = FIXED_LINKS.get(ifaces[iface_id].linktype, (-1, 0))
                if link >= 0:
                    ip, end = pos + 28 + link, pos + 28 + caplen
                    if _rtp_like(buf, ip, et, end, skip):
                        continue
                    if lane is not None and _plain_udp(buf, ip, et, end):
                        iface = ifaces[iface_id]
                        ts = ((hi << 32) | lo) / iface.per_second + iface.offset
                        took = lane(buf, ip, end, frame, ts)
                        if took:
                            if took == FLUSH:
                                yield FLUSH
                            continue
            rec = _packet(
                ifaces, iface_id, hi, lo, buf, pos + 28, caplen, origlen, blen - 32, frame
            )
        elif btype == BT_SPB:
            frame += 1
            origlen = struct.unpack_from(endian + "I", buf, pos + 8)[0]
            snap = ifaces[0].snaplen if ifaces and ifaces[0].snaplen else origlen
            caplen = min(origlen, snap, blen - 16)
            iface = ifaces[0] if ifaces else None
            if iface is None:
                rec = _no_iface(frame, 0)
            else:
                rec = (frame, iface.linktype, buf[pos + 12 : pos + 12 + caplen], 0.0, origlen)
        elif btype == BT_PB:
            frame += 1
            iface_id, _drops, hi, lo, caplen, origlen = struct.unpack_from(
                endian + "HHIIII", buf, pos + 8
            )
            rec = _packet(
                ifaces, iface_id, hi, lo, buf, pos + 28, caplen, origlen, blen - 32, frame
            )
        else:
            if btype == BT_IDB:
                ifaces.append(_parse_idb(buf, pos, blen, endian))
            continue
        yield rec


def _packet(
    ifaces: list[_Iface],
    iface_id: int,
    hi: int,
    lo: int,
    buf: bytes,
    start: int,
    caplen: int,
    origlen: int,
    room: int,
    frame: int,
) -> Record | CaptureNote:
    if iface_id >= len(ifaces):
        return _no_iface(frame, iface_id)
    if caplen > room:
        return CaptureNote(
            "capture.corrupt",
            f"frame {frame}: captured length {caplen} exceeds its pcapng block; frame skipped",
            (frame,),
        )
    iface = ifaces[iface_id]
    ts = ((hi << 32) | lo) / iface.per_second + iface.offset
    return (frame, iface.linktype, buf[start : start + caplen], ts, origlen)


def _no_iface(frame: int, iface_id: int) -> CaptureNote:
    return CaptureNote(
        "capture.corrupt",
        f"frame {frame}: refers to interface {iface_id}, which no interface block describes; frame skipped",
        (frame,),
    )


def _parse_idb(buf: bytes, pos: int, blen: int, endian: str) -> _Iface:
    linktype, _reserved, snaplen = struct.unpack_from(endian + "HHI", buf, pos + 8)
    per_second = 1e6
    offset = 0
    opt = pos + 16
    end = pos + blen - 4
    while opt + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", buf, opt)
        value = buf[opt + 4 : opt + 4 + length]
        if code == 0:
            break
        if code == OPT_TSRESOL and length >= 1:
            res = value[0]
            per_second = float(2 ** (res & 0x7F) if res & 0x80 else 10**res)
        elif code == OPT_TSOFFSET and length >= 8:
            offset = struct.unpack_from(endian + "q", value)[0]
        opt += 4 + ((length + 3) & ~3)
    return _Iface(linktype, per_second, offset, snaplen)
