"""Frames -> SIP messages: UDP datagrams as they are, TCP streams reassembled and framed.

A packet counts as SIP when it uses a configured SIP port (default 5060/5061) or when its
payload starts with a SIP start line (any port). Byte-identical copies of one UDP datagram
(same addresses, ports, IPv4 ID and payload within ``DUPLICATE_WINDOW`` seconds) are the
same packet captured twice (e.g. on two interfaces or a doubled SPAN), not a SIP
retransmission (a retransmission is a new IP datagram with a new ID): the copy is reported
as a ``capture.duplicate`` note and not delivered again.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from collections.abc import Iterable
from typing import Final

from ecc_doctor.captures.records import FIN, RST, SYN, TCP, UDP, CaptureNote, Frame, SipMessage
from ecc_doctor.captures.sipframing import (
    CONTENT_LENGTH,
    MAX_BODY,
    FramingError,
    content_length,
    header_end,
    looks_like_sip,
)
from ecc_doctor.captures.tcpstream import TcpStream

# MAX_STREAMS, MAX_PENDING and MAX_RECENT are not Final, unlike the other constants: the
# tests lower them with monkeypatch.
MAX_STREAMS = 4096
MAX_PENDING = 64 << 20  # bytes held for all TCP connections together
MAX_JUNK_NOTES: Final = 20  # UDP junk on SIP ports: notes for the first ones, then a count
DUPLICATE_WINDOW: Final = 1.0  # seconds
MAX_RECENT = 4096

#: A UDP datagram as the duplicate filter knows it: (src, dst, sport, dport, IPv4 ID, payload).
DatagramKey = tuple[str, str, int, int, int, bytes]

_KEEPALIVE_BYTES: Final = frozenset(b"\r\n\x00 ")

Out = list[SipMessage | CaptureNote]
StreamKey = tuple[str, int, str, int]


class SipAssembler:
    """Feed it frames in capture order; it returns SIP messages as they complete.

    >>> asm = SipAssembler((5060,))            # doctest: +SKIP
    >>> for frame in frames: records += asm.feed(frame)
    >>> records += asm.flush()
    """

    def __init__(self, ports: Iterable[int] = (5060, 5061)) -> None:
        self.ports = frozenset(ports)
        self.streams: OrderedDict[StreamKey, TcpStream] = OrderedDict()
        self.duplicates = DuplicateFilter()
        self._tcp_frames = 0
        self.udp_junk = 0
        # (sport, dport) of tracked TCP directions: the engine's pre-filter lets their
        # segments through even when they do not start with a SIP start line
        self.port_pairs: dict[tuple[int, int], int] = {}

    def feed(self, frame: Frame) -> Out:
        """Messages completed (and notes raised) by *frame*."""
        if frame.proto == UDP:
            return self._udp(frame)
        if frame.proto == TCP:
            return self._tcp(frame)
        return []

    def tracks(self, key: StreamKey) -> bool:
        """True when the TCP direction *key* (src, sport, dst, dport) is being reassembled."""
        return key in self.streams

    def _udp(self, frame: Frame) -> Out:
        return self.datagram(
            frame.fragments or (frame.frame,),
            frame.ts,
            frame.src,
            frame.sport,
            frame.dst,
            frame.dport,
            frame.payload,
            frame.payload_len,
            frame.ip_id,
        )

    def datagram(
        self,
        frames: tuple[int, ...],
        ts: float,
        src: str,
        sport: int,
        dst: str,
        dport: int,
        payload: bytes,
        payload_len: int,
        ip_id: int | None,
    ) -> Out:
        """What one UDP datagram gives (``frames``: its IP fragments' frames, or its own).

        The engine's fast lane calls this directly for plain IPv4/UDP packets, without
        building a :class:`Frame` first."""
        if not looks_like_sip(payload):
            if (sport in self.ports or dport in self.ports) and not _keepalive(payload):
                self.udp_junk += 1
                if self.udp_junk <= MAX_JUNK_NOTES:
                    return [_junk(frames[-1], src, sport, dst, dport, payload)]
            return []
        # every field given, at C level (SipMessage(...) runs namedtuple's Python __new__)
        message = _new(SipMessage, (frames, ts, src, sport, dst, dport, "UDP", payload, False))
        if ip_id:
            dup = self.duplicates.seen(frames[-1], ts, (src, dst, sport, dport, ip_id, payload))
            if dup is not None:
                return [dup]
        if len(payload) < payload_len:
            return [
                _snaplen(frames[-1], len(payload), payload_len, frames),
                mark_cut(message),
            ]
        # its Content-Length is checked against the body where it is parsed (the analyzer:
        # udp_body_check), not by scanning the header block here as well
        return [message]

    def _tcp(self, frame: Frame) -> Out:
        key = (frame.src, frame.sport, frame.dst, frame.dport)
        stream = self.streams.get(key)
        out: Out = []
        if stream is None:
            if not frame.payload or frame.tcp_flags & SYN:
                return out
            if not looks_like_sip(frame.payload) and (
                _tls(frame.payload)
                or (frame.sport not in self.ports and frame.dport not in self.ports)
            ):
                return out
            stream = self._open(key)
            if len(self.streams) > MAX_STREAMS:
                old_key = next(iter(self.streams))
                out += self._close(
                    old_key, "the connection table is full (oldest connection dropped)"
                )
        else:
            self.streams.move_to_end(key)
            stream.check_gap(frame.ts, out)
        if len(frame.payload) < frame.payload_len:
            # the rest of the segment is missing: drop the partial message, resynchronise
            out.append(
                _snaplen(
                    frame.frame,
                    len(frame.payload),
                    frame.payload_len,
                    (*(f for _, f in stream.frames), frame.frame),
                )
            )
            stream.lose()
        elif frame.payload:
            out += stream.segment(frame.seq, frame.payload, frame.frame, frame.ts)
        self._tcp_frames += 1
        if not self._tcp_frames & 0x3FF:
            out += self._budget()
        if frame.tcp_flags & (FIN | RST):
            why = "the connection is reset" if frame.tcp_flags & RST else "the connection is closed"
            if not stream.ooo:
                out += self._close(key, why)
        return out

    def _budget(self) -> Out:
        """Keep the bytes held for all connections under MAX_PENDING (oldest dropped first)."""
        out: Out = []
        held = sum(s.pending for s in self.streams.values())
        while held > MAX_PENDING and self.streams:
            key = next(iter(self.streams))
            held -= self.streams[key].pending
            out += self._close(
                key, f"more than {MAX_PENDING // 1024:,} KiB are held for all connections"
            )
        return out

    def _open(self, key: StreamKey) -> TcpStream:
        stream = self.streams[key] = TcpStream(*key)
        pair = (key[1], key[3])
        self.port_pairs[pair] = self.port_pairs.get(pair, 0) + 1
        return stream

    def _close(self, key: StreamKey, why: str) -> Out:
        stream = self.streams.pop(key)
        pair = (key[1], key[3])
        left = self.port_pairs.get(pair, 1) - 1
        if left > 0:
            self.port_pairs[pair] = left
        else:
            self.port_pairs.pop(pair, None)
        return stream.close(why)

    def flush(self) -> Out:
        """End of capture: incomplete messages and open holes become notes."""
        out: Out = []
        for key in list(self.streams):
            out += self._close(key, "the capture ends")
        if self.udp_junk > MAX_JUNK_NOTES:
            out.append(
                CaptureNote(
                    "sip.framing",
                    f"{self.udp_junk} UDP datagrams on SIP ports were not SIP messages "
                    f"(only the first {MAX_JUNK_NOTES} are listed)",
                )
            )
        return out


_new: Final = tuple.__new__


class DuplicateFilter:
    """Spots the same UDP datagram captured twice (same IPv4 ID and bytes, within a second).

    The rule (the reference form, :meth:`_ordered`): the datagrams seen are kept in order of
    insertion; before each look-up the oldest are dropped while they are more than
    ``DUPLICATE_WINDOW`` older than the new one or while ``MAX_RECENT`` are kept; a datagram
    found (within the window) is a duplicate, else it is remembered (a stale entry that was
    still kept is updated in place and keeps its position).

    The fast form gives the same notes without that per-datagram housekeeping, as long as
    timestamps never go back (every real capture): then no kept entry is ever stale when
    found (the kept entries are sorted by time, so the stale ones are dropped first, and an
    entry found fresh is a duplicate and not updated), so nothing is updated in place and
    the kept entries are exactly the newest datagrams remembered that are (a) among the last
    ``MAX_RECENT - 1`` remembered before this one and (b) within the window. Each entry
    carries its number in the order remembered, so a look-up tests (a) and (b) itself. The
    entries live in two generations: every ``MAX_RECENT`` datagrams remembered, the newer
    one becomes the older and the older is dropped whole (its numbers all fail (a) from then
    on), with no pass over the entries; once ``PRUNE_BYTES`` of payload were added sooner
    (big datagrams), a prune keeps exactly what the reference form holds. So at most
    ``2 * MAX_RECENT`` datagrams are kept, and beyond the older generation's (at most
    ``MAX_RECENT``) at most ``PRUNE_BYTES`` of payload and one datagram. The
    first timestamp that goes back (or is not a number) rebuilds the reference form's
    ordered table from the same two tests and uses it from then on.
    """

    #: Payload bytes remembered between two prunes at most (big datagrams prune sooner).
    PRUNE_BYTES = 8 << 20

    def __init__(self) -> None:
        # fast form, two generations: key -> (frame, ts, number in the order remembered);
        # _latest takes the new entries, _older is the generation before (looked at when a
        # key is not in _latest)
        self._latest: dict[DatagramKey, tuple[int, float, int]] = {}
        self._older: dict[DatagramKey, tuple[int, float, int]] = {}
        self._count = 0  # datagrams remembered so far (the next one's number)
        self._prune_at = MAX_RECENT  # the number at which _latest becomes _older
        self._added = 0  # payload bytes remembered since the last prune
        self._last_ts = float("-inf")  # +inf once the reference form has taken over
        # reference form, once a timestamp has gone back: key -> (frame, ts)
        self.recent: OrderedDict[DatagramKey, tuple[int, float]] = OrderedDict()

    def check(self, message: SipMessage, ip_id: int | None) -> CaptureNote | None:
        """A ``capture.duplicate`` note when *message* repeats a recent datagram, else None."""
        if not ip_id or message.transport != "UDP":
            return None
        return self.seen(
            message.frame,
            message.ts,
            (message.src, message.dst, message.sport, message.dport, ip_id, message.data),
        )

    def seen(self, frame: int, ts: float, key: DatagramKey) -> CaptureNote | None:
        """:meth:`check` for a UDP datagram with an IPv4 ID, given as its last *frame*,
        *ts* and ``key = (src, dst, sport, dport, ip_id, payload)``."""
        if not ts >= self._last_ts:  # back in time, or NaN: the reference form from here
            return self._ordered(frame, ts, key)
        self._last_ts = ts
        count = self._count
        entry = (frame, ts, count)
        latest = self._latest
        seen = latest.setdefault(key, entry)  # one hash of the key for the common insert
        # the entry just made, when the key was new: every kept entry has a lower number
        # (told by value, not identity, which a compiled build does not keep for tuples)
        if seen[2] == count:
            older = self._older.get(key)
            if (
                older is not None
                and older[2] > count - MAX_RECENT
                and ts - older[1] <= DUPLICATE_WINDOW
            ):
                del latest[key]  # a duplicate is not remembered
                return _duplicate(older[0], frame, key)
        else:
            # test (a): the reference form keeps numbers count - MAX_RECENT + 1 and up
            if seen[2] > count - MAX_RECENT and ts - seen[1] <= DUPLICATE_WINDOW:
                return _duplicate(seen[0], frame, key)
            latest[key] = entry  # dropped by the reference form: remembered anew
        count += 1
        self._count = count
        self._added += len(key[5])
        if count >= self._prune_at:
            # _latest holds every number from the last swap on (MAX_RECENT of them), so
            # the generation before it holds only numbers that fail test (a) from now on
            self._older = latest
            self._latest = {}
            self._prune_at = count + MAX_RECENT
            self._added = 0
        elif self._added > self.PRUNE_BYTES:
            # big datagrams: what the reference form keeps (at most MAX_RECENT), and no
            # more than PRUNE_BYTES again until the next prune
            self._older = dict(self._kept(ts))
            self._latest = {}
            self._prune_at = count + MAX_RECENT
            self._added = 0
        return None

    def _kept(self, ts: float) -> list[tuple[DatagramKey, tuple[int, float, int]]]:
        """The fast form's entries that pass tests (a) and (b) after a look-up at *ts*.

        (a) uses the count after that look-up: when it remembered its datagram, the one
        entry this leaves out that the reference form still holds is the oldest of
        ``MAX_RECENT`` entries, which the reference form drops at its next look-up anyway.
        """
        floor = self._count - MAX_RECENT + 1
        latest = self._latest
        return [
            item
            for item in itertools.chain(
                ((k, v) for k, v in self._older.items() if k not in latest), latest.items()
            )
            if item[1][2] >= floor and ts - item[1][1] <= DUPLICATE_WINDOW
        ]

    def _ordered(self, frame: int, ts: float, key: DatagramKey) -> CaptureNote | None:
        recent = self.recent
        if self._last_ts != float("inf"):  # the first timestamp that goes back
            kept = sorted(self._kept(self._last_ts), key=lambda item: item[1][2])
            recent.update((k, (v[0], v[1])) for k, v in kept)
            self._latest = {}
            self._older = {}
            self._last_ts = float("inf")
        while recent:
            oldest = next(iter(recent.values()))
            if ts - oldest[1] <= DUPLICATE_WINDOW and len(recent) < MAX_RECENT:
                break
            recent.popitem(last=False)
        seen = recent.get(key)
        if seen is not None and abs(ts - seen[1]) <= DUPLICATE_WINDOW:
            return _duplicate(seen[0], frame, key)
        recent[key] = (frame, ts)
        return None


def mark_cut(message: SipMessage) -> SipMessage:
    """*message*, a datagram the snapshot length cut, marked ``cut`` when the cut fell
    inside its header block (a cut body leaves every header for the rules to read)."""
    return message._replace(cut=True) if header_end(message.data) < 0 else message


def _duplicate(first: int, frame: int, key: DatagramKey) -> CaptureNote:
    return CaptureNote(
        "capture.duplicate",
        f"frame {frame} is a byte-identical copy of frame {first} (same IP ID "
        f"0x{key[4]:04x}): the same packet captured twice, not a SIP retransmission; "
        "it is not analysed again",
        (first, frame),
    )


def _tls(payload: bytes) -> bool:
    """A TLS record (SIP over TLS on 5061 cannot be read; it is not junk either)."""
    return len(payload) >= 3 and 0x14 <= payload[0] <= 0x17 and payload[1] == 3


def _keepalive(payload: bytes) -> bool:
    """CRLF/NUL keep-alives and STUN binding requests (RFC 5626) are not junk."""
    if len(payload) >= 8 and payload[0] < 2 and payload[4:8] == b"\x21\x12\xa4\x42":
        return True
    return all(b in _KEEPALIVE_BYTES for b in payload[:16])


def _snaplen(frame: int, got: int, length: int, frames: tuple[int, ...]) -> CaptureNote:
    return CaptureNote(
        "capture.snaplen",
        f"frame {frame}: only {got} of {length} payload bytes "
        "were captured (snapshot length too small); the SIP message is incomplete",
        frames,
    )


def _junk(frame: int, src: str, sport: int, dst: str, dport: int, payload: bytes) -> CaptureNote:
    head = payload[:24].decode("latin-1")
    shown = "".join(ch if ch.isprintable() else "." for ch in head)
    return CaptureNote(
        "sip.framing",
        f"frame {frame}: UDP {src}:{sport} -> {dst}:{dport} "
        f"on a SIP port is not a SIP message ({shown!r})",
        (frame,),
    )


# The common datagram's header block in one pass (its line ends are CRLF): a header block
# before the first CRLFCRLF with no bare-LF empty line in it (header_end() would end it
# there) and exactly one Content-Length header (any spelling) is checked with that one
# value; the first group is an empty line, the second a Content-Length value.
# (the look-ahead lets the scan give up at most line starts after one byte test)
_LENGTH_OR_EMPTY_LINE: Final = re.compile(
    rb"\n(?=[\r\nCcLl])(?:(\r?\n)|(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*))", re.IGNORECASE
)


def udp_body_check(payload: bytes, frames: tuple[int, ...]) -> list[CaptureNote]:
    """RFC 3261 18.3: a datagram shorter than its Content-Length is malformed."""
    crlf = payload.find(b"\r\n\r\n")
    if crlf >= 0:
        # up to crlf + 2: every bare-LF empty line header_end() would see before it, and
        # the same Content-Length headers as CONTENT_LENGTH on the header block
        found = _LENGTH_OR_EMPTY_LINE.findall(payload, 0, crlf + 2)
        if not found:
            return []
        if len(found) == 1 and not found[0][0]:
            return _body_check(payload, frames, crlf + 4, [found[0][1]])
    end = header_end(payload)
    if end < 0:
        return [_framing(frames[-1], frames, "the header block has no terminating empty line")]
    return _body_check(payload, frames, end, CONTENT_LENGTH.findall(payload, 0, end))


def _body_check(
    payload: bytes, frames: tuple[int, ...], end: int, found: list[bytes]
) -> list[CaptureNote]:
    """udp_body_check() once the header block ends at *end* and has the Content-Length
    values *found*."""
    # the common case, one plain Content-Length, without content_length()'s copy of the
    # header block and its set of values; anything else takes the general path
    if len(found) == 1 and found[0].strip().isdigit() and len(found[0]) < 16:
        length: int | None = int(found[0])
        if length is not None and length > MAX_BODY:
            length = None  # the general path says why
    else:
        length = None
    if length is None and found:
        try:
            length = content_length(payload[:end])
        except FramingError as exc:
            return [_framing(frames[-1], frames, str(exc))]
    if length is not None and length > len(payload) - end:
        return [
            _framing(
                frames[-1],
                frames,
                f"Content-Length {length} but only {len(payload) - end} body bytes",
            )  # fmt: skip
        ]
    return []


def _framing(frame: int, frames: tuple[int, ...], why: str) -> CaptureNote:
    return CaptureNote("sip.framing", f"frame {frame}: malformed SIP message: {why}", frames)
