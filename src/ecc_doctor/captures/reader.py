"""The built-in capture engine: pcap/pcapng -> Frame and SipMessage records, streaming.

Headers are parsed with ``struct`` (no scapy dissection per packet): a packet that cannot be
SIP (RTP, other UDP, TCP that is not on a SIP port or connection) is dropped after a few
byte comparisons, before any record is built.

>>> engine = PcapEngine()
>>> for record in engine.sip(Path("call.pcap"), ports=(5060, 6060)):   # doctest: +SKIP
...     print(record)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ecc_doctor.captures.decode import Decoder, Want
from ecc_doctor.captures.pcapfile import Progress, open_capture
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
        if shard is not None and shard[1] > 1:
            yield from self._sip_shard(path, ports, *shard)
            return
        decoder = Decoder()
        assembler = SipAssembler(ports)
        want = sip_filter(assembler, ports)
        decode = decoder.decode
        feed = assembler.feed
        # RTP and other non-SIP UDP is dropped inside the file reader, before it is copied
        skip = (frozenset(ports), SIP_FIRST_BYTES)
        for rec in open_capture(path, self.progress, skip):
            if type(rec) is not tuple:
                yield rec  # type: ignore[misc]
                continue
            frame = decode(rec[1], rec[2], rec[3], rec[0], want)
            if decoder.notes:
                yield from decoder.pop_notes()
            if frame is not None and type(frame) is Frame:
                yield from feed(frame)
        yield from decoder.flush()
        yield from assembler.flush()

    def _sip_shard(
        self, path: Path, ports: Sequence[int], index: int, count: int
    ) -> Iterator[SipRecord]:
        decoder = Decoder()
        assembler = SipAssembler(ports)
        want = sip_filter(assembler, ports)
        decode = decoder.decode
        feed = assembler.feed
        first = index == 0
        skip = (frozenset(ports), SIP_FIRST_BYTES)
        for rec in open_capture(path, self.progress if first else None, skip):
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
            if frame.proto == UDP:
                # a datagram is one message: the owner alone sees it, its duplicate and
                # framing notes included; junk on a SIP port is shard 0's to report
                if looks_like_sip(frame.payload):
                    if shard_of(frame.payload, count) == index:
                        yield from feed(frame)
                elif first:
                    yield from feed(frame)
                continue
            # every shard reassembles every TCP stream to find where messages start
            yield from _own(feed(frame), index, count)
        if first:
            yield from decoder.flush()
        yield from _own(assembler.flush(), index, count)


def _own(records: Iterable[SipRecord], index: int, count: int) -> Iterator[SipRecord]:
    """The messages of shard *index*, and (shard 0) the notes."""
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
