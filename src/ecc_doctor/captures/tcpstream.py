"""One direction of a TCP connection carrying SIP: reassembly by sequence number + framing.

Segments are placed by sequence number (32-bit wrap-around aware): retransmitted bytes are
dropped (never delivered twice), out-of-order segments wait in a bounded buffer, and a hole
that is not filled in time (buffer full, ``GAP_TIMEOUT`` of capture time, FIN or end of
file) becomes a ``tcp.gap`` note; the stream then resynchronises on the next segment that
starts with a SIP start line ("hunting"). Junk is reported once (``sip.framing``) and skipped
the same way, so memory per stream stays bounded.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from ecc_doctor.captures.records import CaptureNote, SipMessage
from ecc_doctor.captures.sipframing import (
    NEED_MORE,
    FramingError,
    could_become_sip,
    frame_stream,
)

MAX_OOO_BYTES: Final = 256 * 1024
MAX_OOO_SEGMENTS: Final = 256
GAP_TIMEOUT: Final = 10.0  # seconds of capture time a hole may stay open

Out = list[SipMessage | CaptureNote]


def _after(a: int, b: int) -> int:
    """Signed distance a - b in 32-bit sequence space."""
    d = (a - b) & 0xFFFFFFFF
    return d - 0x100000000 if d >= 0x80000000 else d


class TcpStream:
    """Bytes of one direction of one TCP connection, cut into SIP messages."""

    __slots__ = (
        "src", "sport", "dst", "dport", "next_seq", "buf", "base", "frames", "ooo",
        "ooo_bytes", "ooo_since", "search_from", "expected", "junk_reported", "last_ts", "synced",
    )  # fmt: skip

    def __init__(self, src: str, sport: int, dst: str, dport: int) -> None:
        self.src, self.sport, self.dst, self.dport = src, sport, dst, dport
        self.next_seq: int | None = None  # None: hunting for a SIP start line
        self.buf = bytearray()
        self.base = 0  # stream offset of buf[0]
        self.frames: deque[tuple[int, int]] = deque()  # (stream offset of end, frame)
        self.ooo: dict[int, tuple[bytes, int]] = {}  # seq -> (payload, frame)
        self.ooo_bytes = 0
        self.ooo_since = 0.0
        self.search_from = 0
        self.expected = 0
        self.junk_reported = False
        self.last_ts = 0.0
        self.synced = False  # ever found a SIP start line

    @property
    def pending(self) -> int:
        """Bytes held (partial message plus out-of-order segments)."""
        return len(self.buf) + self.ooo_bytes

    def segment(self, seq: int, payload: bytes, frame: int, ts: float) -> Out:
        """Add one segment's payload; returns completed messages and notes."""
        self.last_ts = ts
        out: Out = []
        if self.next_seq is None:
            if not could_become_sip(payload):  # also a start line cut after a few bytes
                self._hold(seq, payload, frame, ts, out)
                return out
            self.next_seq = seq
            self.synced = True
        delta = _after(seq, self.next_seq)
        if delta < 0:  # retransmission, in whole or in part
            if len(payload) <= -delta:
                return out
            payload, seq = payload[-delta:], self.next_seq
            delta = 0
        if delta > 0:
            self._hold(seq, payload, frame, ts, out)
            return out
        self._append(payload, frame, ts, out)
        self._drain(ts, out)
        return out

    def _append(self, payload: bytes, frame: int, ts: float, out: Out) -> None:
        assert self.next_seq is not None
        self.buf += payload
        self.frames.append((self.base + len(self.buf), frame))
        self.next_seq = (self.next_seq + len(payload)) & 0xFFFFFFFF
        self._cut(ts, out)

    def _drain(self, ts: float, out: Out) -> None:
        """Move out-of-order segments that now fit into the stream."""
        while self.ooo and self.next_seq is not None:
            progressed = False
            for seq in list(self.ooo):
                delta = _after(seq, self.next_seq)
                if delta > 0:
                    continue
                payload, frame = self.ooo.pop(seq)
                self.ooo_bytes -= len(payload)
                progressed = True
                if len(payload) > -delta:
                    self._append(payload[-delta:], frame, ts, out)
                    break
            if not progressed:
                return

    def _hold(self, seq: int, payload: bytes, frame: int, ts: float, out: Out) -> None:
        if seq in self.ooo:
            return
        if not self.ooo:
            self.ooo_since = ts
        self.ooo[seq] = (payload, frame)
        self.ooo_bytes += len(payload)
        if self.next_seq is None:  # hunting: keep only the newest few segments
            while self.ooo_bytes > MAX_OOO_BYTES or len(self.ooo) > MAX_OOO_SEGMENTS:
                oldest = next(iter(self.ooo))
                self.ooo_bytes -= len(self.ooo.pop(oldest)[0])
            return
        if self.ooo_bytes > MAX_OOO_BYTES or len(self.ooo) > MAX_OOO_SEGMENTS:
            self.skip_gap("the out-of-order buffer is full", out)

    def check_gap(self, ts: float, out: Out) -> None:
        """Give up on a hole that stayed open longer than GAP_TIMEOUT."""
        if self.ooo and self.next_seq is not None and ts - self.ooo_since > GAP_TIMEOUT:
            self.skip_gap(f"the missing bytes did not arrive within {GAP_TIMEOUT:g} s", out)

    def skip_gap(self, why: str, out: Out) -> None:
        """Report the hole before the buffered segments and resynchronise after it."""
        if self.next_seq is None or not self.ooo:
            return
        first = min(self.ooo, key=lambda s: _after(s, self.next_seq or 0))
        missing = _after(first, self.next_seq)
        frames = tuple(f for _, f in self.frames) + (self.ooo[first][1],)
        lost = (
            f"; the partial message before it ({len(self.buf)} bytes) is dropped"
            if self.buf
            else ""
        )
        out.append(
            CaptureNote(
                "tcp.gap",
                f"{self._name()}: {missing} bytes missing before frame {self.ooo[first][1]} ({why}){lost}",
                frames,
            )
        )
        self._reset()
        held = sorted(self.ooo.items(), key=lambda item: _after(item[0], first))
        self.ooo.clear()
        self.ooo_bytes = 0
        for seq, (payload, frame) in held:
            out.extend(self.segment(seq, payload, frame, self.last_ts))

    def lose(self) -> None:
        """A segment was cut short by the snapshot length: drop what is buffered and wait for
        the next segment that starts a SIP message."""
        self._reset()
        self.ooo.clear()
        self.ooo_bytes = 0

    def _reset(self) -> None:
        self.base += len(self.buf)
        self.buf.clear()
        self.frames.clear()
        self.next_seq = None
        self.search_from = 0
        self.expected = 0

    def _cut(self, ts: float, out: Out) -> None:
        """Cut every complete message off the front of the buffer."""
        buf = self.buf
        while buf:
            if self.expected:
                if len(buf) < self.expected:
                    return
                length = self.expected
            else:
                skip = 0
                while skip < len(buf) and buf[skip] in (10, 13):  # CRLF keep-alives (RFC 5626)
                    skip += 1
                if skip:
                    self._consume(skip)
                    continue
                try:
                    length, self.search_from, self.expected = frame_stream(buf, self.search_from)
                except FramingError as exc:
                    self._junk(str(exc), out)
                    return
                if length == NEED_MORE:
                    return
            data = bytes(buf[:length])
            frames = self._consume(length)
            out.append(
                SipMessage(frames, ts, self.src, self.sport, self.dst, self.dport, "TCP", data)
            )
            self.search_from = self.expected = 0

    def _consume(self, length: int) -> tuple[int, ...]:
        """Drop *length* bytes from the buffer front; the frames that carried them."""
        end = self.base + length
        frames: list[int] = []
        q = self.frames
        for stop, frame in q:
            frames.append(frame)
            if stop >= end:
                break
        while q and q[0][0] <= end:
            q.popleft()
        self.base = end
        del self.buf[:length]
        # arrival order: the last frame is the one that completed the message (out-of-order
        # segments are listed by frame number, not by stream position)
        return tuple(sorted(set(frames)))

    def _junk(self, why: str, out: Out) -> None:
        frames = tuple(f for _, f in self.frames)
        if not self.junk_reported:
            out.append(
                CaptureNote(
                    "sip.framing",
                    f"{self._name()}: {why}; {len(self.buf)} bytes skipped until the next SIP start line",
                    frames,
                )
            )
            self.junk_reported = True
        self._reset()

    def close(self, why: str) -> Out:
        """The connection ends (FIN, RST, eviction, end of file): report what is left."""
        out: Out = []
        if self.ooo and self.next_seq is not None:
            self.skip_gap(why, out)
        if self.ooo and not self.synced and not self.junk_reported:
            frames = tuple(sorted(f for _, f in self.ooo.values()))
            out.append(
                CaptureNote(
                    "sip.framing",
                    f"{self._name()}: {self.ooo_bytes} bytes on a SIP port, none starting a SIP "
                    "message; skipped",
                    frames,
                )
            )
        if self.buf:
            frames = tuple(f for _, f in self.frames)
            out.append(
                CaptureNote(
                    "sip.truncated",
                    f"{self._name()}: an incomplete SIP message ({len(self.buf)} bytes) is left when {why}",
                    frames,
                )
            )
        self._reset()
        self.ooo.clear()
        self.ooo_bytes = 0
        return out

    def _name(self) -> str:
        return f"TCP {self.src}:{self.sport} -> {self.dst}:{self.dport}"
