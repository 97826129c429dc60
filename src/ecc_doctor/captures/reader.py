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

from ecc_doctor.captures.decode import Decoder, Want
from ecc_doctor.captures.pcapfile import Progress, open_capture
from ecc_doctor.captures.records import TCP, CaptureNote, Frame, FrameRecord, SipRecord
from ecc_doctor.captures.sipassembler import SipAssembler
from ecc_doctor.captures.sipframing import SIP_FIRST_BYTES, looks_like_sip

__all__ = ["Decoder", "PcapEngine", "SipAssembler"]

# link types whose header has a fixed size and ends with the ethertype: offset of the IP header
# (Ethernet without VLAN tag, Linux SLL); others take the general decoder
_FIXED_LINKS = {1: 14, 113: 16}
_PORTS = struct.Struct("!HH").unpack_from


class PcapEngine:
    """Reads pcap and pcapng files with plain struct parsing (the default engine, "scapy").

    ``progress(bytes_read, total_bytes)`` is called every few MiB and once at the end.
    """

    name = "scapy"

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress

    def frames(self, path: Path) -> Iterator[FrameRecord]:
        """Every TCP/UDP packet (IPv4/IPv6, fragments reassembled), in file order."""
        decoder = Decoder()
        frame_no = 0
        cut = 0
        for rec in open_capture(path, self.progress):
            if type(rec) is not tuple:
                yield rec  # type: ignore[misc]
                continue
            frame_no += 1
            linktype, data, ts, origlen = rec
            out = decoder.decode(linktype, data, ts, frame_no)
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
        decoder = Decoder()
        assembler = SipAssembler(ports)
        want = sip_filter(assembler, ports)
        decode = decoder.decode
        feed = assembler.feed
        frame_no = 0
        port_set = frozenset(ports)
        first = SIP_FIRST_BYTES
        unpack_ports = _PORTS
        for rec in open_capture(path, self.progress):
            if type(rec) is not tuple:
                yield rec  # type: ignore[misc]
                continue
            frame_no += 1
            linktype, data, ts, _ = rec
            # Fast path (RTP): plain IPv4 + UDP on a fixed-size link header, not a fragment,
            # not a SIP port and no capital letter where a SIP start line would begin.
            link = _FIXED_LINKS.get(linktype)
            if (
                link is not None
                and len(data) > link + 28
                and (
                    data[link] == 0x45
                    and data[link + 9] == 17
                    and data[link - 2 : link] == b"\x08\x00"
                    and not data[link + 6] & 0x3F
                    and not data[link + 7]
                )
            ):
                sport, dport = unpack_ports(data, link + 20)
                if sport not in port_set and dport not in port_set and data[link + 28] not in first:
                    continue
            frame = decode(linktype, data, ts, frame_no, want)
            if decoder.notes:
                yield from decoder.pop_notes()
            if frame is not None and type(frame) is Frame:
                yield from feed(frame)
        yield from decoder.flush()
        yield from assembler.flush()


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


def _snaplen_note(frame_no: int, caplen: int, origlen: int) -> CaptureNote:
    return CaptureNote(
        "capture.snaplen",
        f"frame {frame_no}: only {caplen} of {origlen} bytes were captured (snapshot length "
        "too small); payloads are incomplete",
        (frame_no,),
    )
