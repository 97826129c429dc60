"""The built-in capture engine: pcap/pcapng -> Frame and SipMessage records, streaming.

Headers are parsed with ``struct`` (no scapy dissection per packet): a packet that cannot be
SIP (RTP, other UDP, TCP that is not on a SIP port or connection) is dropped after a few
byte comparisons, before any record is built.

>>> engine = PcapEngine()
>>> for record in engine.sip(Path("call.pcap"), ports=(5060, 6060)):   # doctest: +SKIP
...     print(record)
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ecc_doctor.captures.decode import Decoder, Want, address
from ecc_doctor.captures.pcapfile import FLUSH, TAKEN, Progress, open_capture
from ecc_doctor.captures.records import (
    TCP,
    UDP,
    CaptureNote,
    Frame,
    FrameRecord,
    SipMessage,
    SipRecord,
)
from ecc_doctor.captures.shard import shard_of
from ecc_doctor.captures.sipassembler import SipAssembler
from ecc_doctor.captures.sipframing import SIP_FIRST_BYTES, looks_like_sip

__all__ = ["Decoder", "PcapEngine", "SipAssembler"]


class PcapEngine:
    """Reads pcap and pcapng files with plain struct parsing (the default engine, "scapy").

    ``progress(bytes_read, total_bytes)`` is called every few MiB and once at the end.
    """

    name = "scapy"

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress

    def frames(self, path: Path, ports: Iterable[int] | None = None) -> Iterator[FrameRecord]:
        """Every TCP/UDP packet (IPv4/IPv6, fragments reassembled), in file order.

        With *ports* (an extension of the Engine protocol), only packets from or to one of
        them are built, e.g. ``ports=(2944, 2945)`` for H.248: everything else is skipped cheaply.
        """
        decoder = Decoder()
        want = port_filter(ports) if ports is not None else None
        cut = 0
        for rec in open_capture(path, self.progress):
            if type(rec) is not tuple:
                yield rec  # type: ignore[misc]
                continue
            frame_no, linktype, data, ts, origlen = rec
            out = decoder.decode(linktype, data, ts, frame_no, want)
            if decoder.notes:
                yield from decoder.pop_notes()
            if out is None:
                continue
            if (
                len(data) < origlen
                and isinstance(out, Frame)
                and len(out.payload) < out.payload_len
            ):
                cut += 1
                if cut == 1:
                    yield _snaplen_note(frame_no, len(data), origlen)
            yield out
        yield from decoder.flush()
        if cut > 1:
            yield CaptureNote(
                "capture.snaplen",
                f"{cut} frames in all had their payload cut by the snapshot length",
            )

    def sip(
        self,
        path: Path,
        ports: Sequence[int] = (5060, 5061),
        shard: tuple[int, int] | None = None,
    ) -> Iterator[SipRecord]:
        """Every SIP message (UDP datagrams and TCP streams reassembled), in completion order.

        With *shard* ``(index, count)`` (an extension of the Engine protocol, for
        ``analyze --jobs``), only the messages :func:`~ecc_doctor.captures.shard.shard_of`
        gives to *index* are yielded, with the notes about them; notes about the capture
        itself (truncation, TCP streams, fragments, UDP junk) come from shard 0 only.
        """
        index, count = shard if shard is not None and shard[1] > 1 else (0, 1)
        first = index == 0
        decoder = Decoder()
        assembler = SipAssembler(ports)
        want = sip_filter(assembler, ports)
        decode = decoder.decode
        feed = assembler.feed
        # RTP and other non-SIP UDP is dropped inside the file reader, before it is copied;
        # plain IPv4/UDP packets go through the fast lane there (see _FastLane), which
        # leaves what they give in ``lane.out`` for this loop to pass on in file order
        skip = (frozenset(ports), SIP_FIRST_BYTES)
        lane = _FastLane(assembler, ports, index, count)
        out = lane.out
        for rec in open_capture(path, self.progress if first else None, skip, lane.take):
            if out:
                yield from out
                out.clear()
            if rec is FLUSH:
                continue
            if type(rec) is not tuple:
                if first:
                    yield rec  # type: ignore[misc]
                continue
            frame = decode(rec[1], rec[2], rec[3], rec[0], want)
            if decoder.notes:
                notes = decoder.pop_notes()
                if first:
                    yield from notes
            if frame is None or type(frame) is not Frame:
                continue
            if count == 1:
                yield from feed(frame)
            elif frame.proto == UDP:
                if _owns_datagram(frame.payload, index, count):
                    yield from feed(frame)
            else:
                # every shard reassembles every TCP stream to find where messages start
                yield from _own(feed(frame), index, count)
        yield from out
        if first:
            yield from decoder.flush()
        yield from _own(assembler.flush(), index, count)


# from IPv4 byte 2: total length, ID, (flags/offset, TTL), protocol, (checksum), both
# addresses, then the UDP ports and length
_IPV4_UDP = struct.Struct("!HH4x2x8sHHH").unpack_from


class _FastLane:
    """What Decoder.decode and SipAssembler.feed do for an unfragmented IPv4/UDP packet
    without IP options (nearly every SIP packet of a trunk), done on the file reader's
    buffer: no copy of the record, no Frame. The file reader calls :meth:`take` (see
    pcapfile.Lane); what the packet gives is left in :attr:`out`.

    With several processes (``shard``) it keeps only this process's datagrams
    (:func:`_owns_datagram`).
    """

    __slots__ = ("out", "take")

    def __init__(self, assembler: SipAssembler, ports: Sequence[int], index: int, count: int):
        self.out: list[SipRecord] = []
        out = self.out
        datagram = assembler.datagram
        port_set = frozenset(ports)
        fields = _IPV4_UDP
        pairs: dict[bytes, tuple[str, str]] = {}

        def take(buf: bytes, ip: int, end: int, frame: int, ts: float) -> int:
            total, ip_id, addrs, sport, dport, ulen = fields(buf, ip + 2)
            stop = ip + total if total >= 20 else end
            start = ip + 28
            plen = min(ulen - 8, stop - start) if ulen >= 8 else stop - start
            if (
                sport not in port_set
                and dport not in port_set
                and not looks_like_sip(buf, start, end)
            ):
                return TAKEN  # not SIP: dropped, as the Decoder's pre-filter does
            stop = min(start + plen, end) if plen > 0 else start
            # decided on the read buffer: a message another process owns is not copied
            if count > 1 and not _owns_datagram(buf, index, count, start, stop):
                return TAKEN
            payload = buf[start:stop]
            hosts = pairs.get(addrs)
            if hosts is None:
                if len(pairs) >= 4096:
                    pairs.clear()
                hosts = pairs[addrs] = (address(addrs[:4]), address(addrs[4:]))
            out.extend(
                datagram(
                    (frame,), ts, hosts[0], sport, hosts[1], dport, payload, max(plen, 0), ip_id
                )
            )
            # hand over in small batches: one trip through the generators per batch, and
            # memory stays flat
            return FLUSH if len(out) >= 16 else TAKEN

        self.take = take


def _owns_datagram(data: bytes, index: int, count: int, start: int = 0, stop: int = -1) -> bool:
    """Whether process *index* of *count* takes the UDP payload ``data[start:stop]``: a
    datagram is one message, so its owner alone sees it (its duplicate and framing notes
    too); junk on a SIP port is process 0's to report."""
    if stop < 0:
        stop = len(data)
    if stop <= start or data[start] not in SIP_FIRST_BYTES:
        return index == 0  # cannot begin a SIP start line: junk (RTP, binary), cheaply
    # shard_of() before the start-line test (a regex): where the two rules give the same
    # answer, which is for most messages, the test is not needed
    mine = shard_of(data, count, start, stop) == index
    if mine == (index == 0):  # SIP or junk: the answer is the same either way
        return mine
    return mine if looks_like_sip(data, start, stop) else index == 0


def _own(records: Iterable[SipRecord], index: int, count: int) -> Iterator[SipRecord]:
    """The messages of shard *index*, and (shard 0) the notes."""
    if count == 1:
        yield from records
        return
    for rec in records:
        if type(rec) is SipMessage:
            if shard_of(rec.data, count) == index:
                yield rec
        elif index == 0:
            yield rec


def sip_filter(assembler: SipAssembler, ports: Iterable[int]) -> Want:
    """The cheap test run before a Frame is built: could this packet be SIP?"""
    port_set = frozenset(ports)
    pairs = assembler.port_pairs

    def want(proto: int, sport: int, dport: int, data: bytes, start: int) -> bool:
        if sport in port_set or dport in port_set:
            return True
        if proto == TCP and (sport, dport) in pairs:
            return True
        return looks_like_sip(data, start)

    return want


def port_filter(ports: Iterable[int]) -> Want:
    """The pre-filter of ``frames(path, ports=...)``: a packet from or to one of *ports*."""
    port_set = frozenset(ports)

    def want(proto: int, sport: int, dport: int, data: bytes, start: int) -> bool:
        return sport in port_set or dport in port_set

    return want


def _snaplen_note(frame_no: int, caplen: int, origlen: int) -> CaptureNote:
    return CaptureNote(
        "capture.snaplen",
        f"frame {frame_no}: only {caplen} of {origlen} bytes were captured (snapshot length "
        "too small); payloads are incomplete",
        (frame_no,),
    )
