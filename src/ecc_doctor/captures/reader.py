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
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Final

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
        # closed explicitly when this generator is closed (see sip())
        with closing(open_capture(path, self.progress)) as records:
            for rec in records:
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

    def sip(self, path: Path, ports: Sequence[int] = (5060, 5061)) -> Iterator[SipRecord]:
        """Every SIP message (UDP datagrams and TCP streams reassembled), in completion order."""
        # closed explicitly: a generator compiled by mypyc (hatch_build.py) that is dropped
        # unfinished does not close the generators it holds, as CPython's does, so their
        # files would stay open until collected
        with closing(self.sip_routed(path, ports, 1, batch=16)) as batches:
            for _, batch in batches:
                yield from batch

    def sip_routed(
        self, path: Path, ports: Sequence[int], count: int, batch: int = 256
    ) -> Generator[tuple[int, list[SipRecord]], None, None]:
        """What :meth:`sip` yields, dealt out to *count* analysis processes (an extension
        of the Engine protocol, for ``analyze --jobs``): ``(owner, records)`` pairs, each
        list about *batch* records long, in file order per owner.

        A SIP message goes to the owner :func:`~ecc_doctor.captures.shard.shard_of` names
        (all messages of a Call-ID to one process, every REGISTER to process 0). Whatever a
        UDP datagram gives (its message, or a note about it) goes to one owner
        (:func:`_datagram_owner`); notes about the capture itself (truncation, TCP streams,
        fragments) go to process 0. Duplicates, junk and TCP framing are judged here, once
        for the whole capture, as in one process; a UDP datagram's Content-Length is
        checked against its body by the analysis process that parses it.
        """
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        decoder = Decoder()
        assembler = SipAssembler(ports)
        want = sip_filter(assembler, ports)
        decode = decoder.decode
        feed = assembler.feed
        # one list per owner; the lane and this loop append to the current one, and a full
        # list is handed over (and replaced) here
        outs: list[list[SipRecord]] = [[] for _ in range(count)]
        # RTP and other non-SIP UDP is dropped inside the file reader, before it is copied;
        # plain IPv4/UDP packets go through the fast lane there (see _FastLane)
        skip = (frozenset(ports), SIP_FIRST_BYTES)
        lane = _FastLane(assembler, ports, outs, batch)
        with closing(open_capture(path, self.progress, skip, lane.take)) as records:
            for rec in records:
                if type(rec) is not tuple:
                    if rec is not FLUSH:
                        outs[0].append(rec)  # type: ignore[arg-type]
                else:
                    frame = decode(rec[1], rec[2], rec[3], rec[0], want)
                    if decoder.notes:
                        outs[0].extend(decoder.pop_notes())
                    if frame is not None and type(frame) is Frame:
                        if count == 1:
                            outs[0].extend(feed(frame))
                        elif frame.proto == UDP:
                            outs[_datagram_owner(frame.payload, count)].extend(feed(frame))
                        else:
                            # TCP: the stream is reassembled here, its messages dealt out
                            for out in feed(frame):
                                outs[_record_owner(out, count)].append(out)
                for index in range(count):
                    if len(outs[index]) >= batch:
                        yield index, outs[index]
                        outs[index] = []
        outs[0].extend(decoder.flush())
        for out in assembler.flush():
            outs[_record_owner(out, count)].append(out)
        for index in range(count):
            if outs[index]:
                yield index, outs[index]
                outs[index] = []


# from IPv4 byte 2: total length, ID, (flags/offset, TTL), protocol, (checksum), both
# addresses, then the UDP ports and length
_IPV4_UDP: Final = struct.Struct("!HH4x2x8sHHH").unpack_from


class _FastLane:
    """What Decoder.decode and SipAssembler.feed do for an unfragmented IPv4/UDP packet
    without IP options (nearly every SIP packet of a trunk), done on the file reader's
    buffer: no copy of a record that is not SIP, no Frame. The file reader calls
    :meth:`take` (see pcapfile.Lane); what the packet gives is appended to its owner's list
    in *outs* (:func:`_datagram_owner`), and FLUSH asks the reader loop to hand a full
    list over.
    """

    __slots__ = ("take",)

    def __init__(
        self,
        assembler: SipAssembler,
        ports: Sequence[int],
        outs: list[list[SipRecord]],
        batch: int,
    ):
        datagram = assembler.datagram
        port_set = frozenset(ports)
        fields = _IPV4_UDP
        count = len(outs)
        pairs: dict[bytes, tuple[str, str]] = {}
        first_bytes = SIP_FIRST_BYTES

        def take(buf: bytes, ip: int, end: int, frame: int, ts: float) -> int:
            total, ip_id, addrs, sport, dport, ulen = fields(buf, ip + 2)
            stop = ip + total if total >= 20 else end
            start = ip + 28
            # (comparisons rather than min()/max(): those builtins parse their arguments as
            # keywords, several hundred instructions a call, and this runs for every packet)
            plen = stop - start
            if 8 <= ulen < plen + 8:
                plen = ulen - 8
            if (
                sport not in port_set
                and dport not in port_set
                and not looks_like_sip(buf, start, end)
            ):
                return TAKEN  # not SIP: dropped, as the Decoder's pre-filter does
            if plen > 0:
                stop = start + plen
                if stop > end:
                    stop = end
            else:
                stop = start
                plen = 0
            hosts = pairs.get(addrs)
            if hosts is None:
                if len(pairs) >= 4096:
                    pairs.clear()
                hosts = pairs[addrs] = (address(addrs[:4]), address(addrs[4:]))
            payload = buf[start:stop]
            if count == 1:
                out = outs[0]
            elif payload and payload[0] in first_bytes:  # _datagram_owner() inlined
                out = outs[shard_of(payload, count)]
            else:
                out = outs[0]
            out.extend(
                datagram(
                    (frame,),
                    ts,
                    hosts[0],
                    sport,
                    hosts[1],
                    dport,
                    payload,
                    plen,
                    ip_id,
                )
            )
            # hand over in batches: one trip through the generators per batch, and memory
            # stays flat
            return FLUSH if len(out) >= batch else TAKEN

        self.take = take


def _record_owner(rec: SipRecord, count: int) -> int:
    """The process that takes a record of a TCP stream: a message's shard, a note goes to 0."""
    return shard_of(rec.data, count) if count > 1 and type(rec) is SipMessage else 0


def _datagram_owner(data: bytes, count: int, start: int = 0, stop: int = -1) -> int:
    """The process (0..count-1) that takes the UDP payload ``data[start:stop]``: a datagram
    is one message, so its owner alone sees it (its duplicate and framing notes too).

    Junk is not looked for here (the assembler does that once, and counts it for the whole
    capture): a datagram that cannot begin a SIP start line goes to process 0, other junk
    where shard_of() puts it. A note's process does not change the merged result, which
    lists notes in frame order."""
    if stop < 0:
        stop = len(data)
    if stop <= start or data[start] not in SIP_FIRST_BYTES:
        return 0
    return shard_of(data, count, start, stop)


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
