"""Neutral capture records: what engines produce and analyzers consume.

Engines (the built-in pcap reader, or tshark) turn a capture file into these small records;
analyzers never see a scapy or pyshark object. Frame numbers are 1-based, as in Wireshark.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple, Protocol, final

TCP: Final = 6
UDP: Final = 17

# TCP flag bits
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass(frozen=True, slots=True)
class Frame:
    """One transport-layer packet (after IP fragment reassembly; ``frame`` is the last fragment).

    ``payload`` is the TCP/UDP payload as captured (may be shorter than ``payload_len``
    when the snaplen cut it). ``fragments`` lists the frames of all IP fragments of a
    reassembled datagram (empty for an unfragmented packet).
    """

    frame: int
    ts: float
    src: str
    dst: str
    proto: int
    sport: int
    dport: int
    payload: bytes = b""
    tcp_flags: int = 0
    seq: int = 0
    ack: int = 0
    payload_len: int = 0
    ip_id: int | None = None
    fragments: tuple[int, ...] = ()  # every IP fragment's frame when reassembled, else ()

    def __reduce__(self) -> tuple[type[Frame], tuple[object, ...]]:
        # pickled as its fields (see CaptureNote.__reduce__)
        return Frame, (
            self.frame, self.ts, self.src, self.dst, self.proto, self.sport, self.dport,
            self.payload, self.tcp_flags, self.seq, self.ack, self.payload_len, self.ip_id,
            self.fragments,
        )  # fmt: skip


class SipMessage(NamedTuple):
    """One complete SIP message as framed on the wire (headers and body, raw bytes).

    ``frames`` lists every frame that carried part of it (several for TCP segments or IP
    fragments); ``ts`` is the time of the frame that completed it. A named tuple rather than
    a frozen dataclass: one is made per message, and a frozen dataclass's ``__init__`` costs
    about 1 us more (it sets each field through ``object.__setattr__``).
    """

    frames: tuple[int, ...]
    ts: float
    src: str
    sport: int
    dst: str
    dport: int
    transport: str  # "UDP" or "TCP"
    data: bytes
    #: True when the snapshot length cut the datagram inside its header block (a
    #: ``capture.snaplen`` note comes just before it): the headers after the cut are missing
    #: or partial, so verdicts that read them may be the capture's fault, not the peers'
    #: (see FlowDraft.build). A TCP segment cut so is dropped by the stream reassembly
    #: instead, and never makes a message.
    cut: bool = False

    @property
    def frame(self) -> int:
        """The frame that completed the message (how Wireshark numbers a reassembled PDU)."""
        return self.frames[-1]


@final  # analyzers tell a note from a message by type() is, which a subclass would defeat
@dataclass(frozen=True, slots=True)
class CaptureNote:
    """Something wrong with the capture itself: truncated file, snaplen cut, TCP gap, junk.

    ``rule`` is a stable id (``capture.truncated``, ``capture.snaplen``, ``tcp.gap``,
    ``sip.framing``...) that analyzers turn into findings.
    """

    rule: str
    message: str
    frames: tuple[int, ...] = ()

    def __reduce__(self) -> tuple[type[CaptureNote], tuple[str, str, tuple[int, ...]]]:
        """Pickled as its fields (``analyze --jobs`` sends notes to the analysis processes):
        the default restores a slots class field by field, which a frozen class compiled
        by mypyc (hatch_build.py) refuses."""
        return CaptureNote, (self.rule, self.message, self.frames)


SipRecord = SipMessage | CaptureNote
FrameRecord = Frame | CaptureNote


class Engine(Protocol):
    """A capture engine: reads a file and yields neutral records, streaming."""

    name: str

    def frames(self, path: Path) -> Iterator[FrameRecord]:
        """Every TCP/UDP packet (IPv4/IPv6, fragments reassembled), in file order."""
        ...

    def sip(self, path: Path, ports: Sequence[int] = (5060, 5061)) -> Iterator[SipRecord]:
        """Every SIP message (UDP datagrams and TCP streams reassembled), in completion order."""
        ...
