"""The tshark engine: Wireshark's dissectors produce the same neutral records.

``tshark`` runs as a subprocess (argument lists, never a shell) and streams its output:
``-T ek -x`` (one JSON object per line, raw bytes of every layer) for SIP, so TCP and IP
reassembly are Wireshark's own, and ``-T fields`` for frames. It is slower than the built-in
reader and serves as an independent cross-check. Byte-identical duplicate UDP datagrams are
reported and dropped by the same rule as the built-in engine (see ``sipassembler``).

Like the built-in reader, SIP is found on the configured ports and on any TCP/UDP payload
that starts with a SIP start line: Wireshark's SIP heuristics (``sip_udp``, ``sip_tcp``) are
switched on and tried before the port tables, so SIP on a port Wireshark gives to another
protocol (TCP 6060 is X11 there) is still decoded as SIP.

tshark obeys the cancel scope of the check it runs for (:mod:`ecc_doctor.cancel`): a watcher
thread kills it once the scope is stopped (the check timed out, or the CLI's time limit
passed), and the read ends with :class:`~ecc_doctor.cancel.WorkStopped`.
"""

from __future__ import annotations

import contextvars
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ecc_doctor import cancel
from ecc_doctor.captures.pcapfile import check_capture
from ecc_doctor.captures.records import (
    TCP,
    UDP,
    CaptureNote,
    Frame,
    FrameRecord,
    SipMessage,
    SipRecord,
)
from ecc_doctor.captures.sipassembler import DuplicateFilter, mark_cut
from ecc_doctor.errors import CaptureError, ConfigError

# Wireshark already decodes these as SIP (TCP 5061 is SIP over TLS: left alone)
_DEFAULT_UDP = {5060}
_DEFAULT_TCP = {5060, 5061}
_FIELDS = (
    "frame.number", "frame.time_epoch", "frame.cap_len", "frame.len", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.id",
    "udp.srcport", "udp.dstport", "udp.length", "udp.payload", "tcp.srcport", "tcp.dstport",
    "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.len", "tcp.payload", "ip.fragment",
    "ipv6.fragment",
)  # fmt: skip
#: Wireshark's SIP heuristics, tried before the port tables: SIP on any port (as our reader)
HEURISTICS = (
    "--enable-heuristic", "sip_udp", "--enable-heuristic", "sip_tcp",
    "-o", "udp.try_heuristic_first:TRUE", "-o", "tcp.try_heuristic_first:TRUE",
)  # fmt: skip
#: How often the watcher looks at the cancel scope (seconds).
WATCH_INTERVAL = 0.1
#: the end of tshark's stderr read for its verdict on the file (the rest is warnings)
STDERR_KEPT = 8192


def tshark_path() -> str:
    """The tshark program, or ConfigError saying what to install."""
    found = shutil.which("tshark")
    if found is None:
        raise ConfigError(
            "capture engine 'tshark' needs the tshark program "
            "(Debian/Ubuntu: apt install tshark; macOS: brew install wireshark)"
        )
    return found


def decode_as(ports: Sequence[int]) -> list[str]:
    """``-d`` options so tshark decodes the configured non-standard ports as SIP."""
    args: list[str] = []
    for port in sorted(set(ports)):
        if port not in _DEFAULT_UDP:
            args += ["-d", f"udp.port=={port},sip"]
        if port not in _DEFAULT_TCP:
            args += ["-d", f"tcp.port=={port},sip"]
    return args


class TsharkEngine:
    """Capture engine backed by tshark (``pip install 'ecc-doctor[tshark]'`` + the program)."""

    name = "tshark"

    def __init__(self, program: str | None = None) -> None:
        self.program = program or tshark_path()

    def sip(self, path: Path, ports: Sequence[int] = (5060, 5061)) -> Iterator[SipRecord]:
        """Every SIP PDU tshark dissects, in frame order, with the frames that carried it."""
        args = [self.program, "-n", "-r", str(path), *decode_as(ports), *HEURISTICS]
        args += ["--disable-protocol", "sdp", "-Y", "sip", "-T", "ek", "-x"]
        dups = DuplicateFilter()
        for line in self._run(args, path):
            if isinstance(line, CaptureNote):
                yield line
                continue
            if not line.startswith(b'{"timestamp"'):
                continue
            try:
                messages = list(_sip_messages(json.loads(line)["layers"]))
            except (ValueError, LookupError, TypeError, AttributeError) as exc:
                raise _garbled(path, line, exc) from exc
            for message, ip_id, payload_len in messages:
                note = dups.check(message, ip_id)
                if note is not None:
                    yield note
                    continue
                if len(message.data) < payload_len:
                    yield _snaplen(message, payload_len)
                    message = mark_cut(message)
                yield message

    def frames(self, path: Path, ports: Iterable[int] | None = None) -> Iterator[FrameRecord]:
        """Every TCP/UDP packet as tshark sees it (IP fragments reassembled); *ports* as in
        ``PcapEngine.frames``."""
        wanted = "(udp or tcp) and not icmp and not icmpv6"
        if ports is not None:
            listed = " ".join(str(p) for p in sorted(set(ports))) or "0"
            wanted += f" and (udp.port in {{{listed}}} or tcp.port in {{{listed}}})"
        args = [self.program, "-n", "-r", str(path), "-Y", wanted]
        args += ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=\t"]
        for field in _FIELDS:
            args += ["-e", field]
        # no SIP/TCP PDU reassembly here: every segment's own payload is wanted
        args += ["-o", "tcp.desegment_tcp_streams:FALSE"]
        cut = 0
        for line in self._run(args, path):
            if isinstance(line, CaptureNote):
                yield line
                continue
            try:
                got = _frame(line.rstrip(b"\r\n").decode("ascii", "replace").split("\t"))
            except (ValueError, LookupError) as exc:
                raise _garbled(path, line, exc) from exc
            if got is None:
                continue
            frame, caplen, origlen = got
            if caplen < origlen and len(frame.payload) < frame.payload_len:
                cut += 1
                if cut == 1:
                    yield _frame_snaplen(frame.frame, caplen, origlen)
            yield frame
        if cut > 1:
            yield CaptureNote(
                "capture.snaplen",
                f"{cut} frames in all had their payload cut by the snapshot length",
            )

    def _run(self, args: list[str], path: Path) -> Iterator[bytes | CaptureNote]:
        """tshark's output lines (each ending in a newline), then a note when tshark found
        the file cut short or damaged. A stop of the cancel scope kills tshark and ends with
        WorkStopped: a line it was writing when it was killed is never passed on."""
        check_capture(path)  # what the built-in reader rejects is rejected the same way
        # stderr goes to a file, not a pipe: a tshark writing more warnings than a pipe holds
        # (64 KiB) while we read its stdout would otherwise wait for us forever
        errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
        try:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors)
        except OSError as exc:
            errors.close()
            raise ConfigError(f"cannot run tshark: {exc}") from exc
        assert proc.stdout is not None
        done = threading.Event()
        stopped = threading.Event()

        def watch() -> None:
            # runs in a copy of this context: sees the cancel scope of the calling check
            while not done.wait(WATCH_INTERVAL):
                if cancel.stop_requested():
                    stopped.set()
                    proc.kill()
                    return

        watcher = threading.Thread(
            target=contextvars.copy_context().run, args=(watch,), name="tshark-watch", daemon=True
        )
        watcher.start()
        unfinished = b""
        try:
            for line in proc.stdout:
                if stopped.is_set():
                    break
                if not line.endswith(b"\n"):
                    unfinished = line  # the last line, cut off: tshark ended while writing it
                    break
                yield line
            if stopped.is_set() or cancel.stop_requested():
                raise cancel.WorkStopped(f"{path}: tshark was stopped (the check ended)")
            code = proc.wait()
            err = _tail(errors, STDERR_KEPT)
            if code != 0:
                lines = [ln for ln in err.splitlines() if ln and "Running as user" not in ln]
                problem = lines[-1] if lines else f"exit code {proc.returncode}"
                if "appears to have been cut short" in err:
                    yield _truncated()
                    return
                if "appears to be damaged or corrupt" in err:
                    yield _corrupt(problem)
                    return
                raise CaptureError(f"{path}: tshark cannot read it: {problem}")
            if unfinished:
                raise _garbled(path, unfinished, None)
        finally:
            done.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            errors.close()
            watcher.join()


def _tail(file: IO[bytes], size: int) -> str:
    """The last *size* bytes written to *file* (tshark's verdict comes last), as text."""
    end = file.seek(0, os.SEEK_END)
    file.seek(max(0, end - size))
    return file.read(size).decode("utf-8", "replace")


def _truncated() -> CaptureNote:
    return CaptureNote(
        "capture.truncated",
        "the file ends inside a frame (tshark: cut short in the middle of a packet)",
    )


def _corrupt(problem: str) -> CaptureNote:
    # as the built-in reader's note on an impossible record: what came before was read
    detail = problem.strip().strip("()")
    return CaptureNote(
        "capture.corrupt",
        f"tshark found the file damaged ({detail}); the rest of the file is not read",
    )


def _garbled(path: Path, line: bytes, exc: Exception | None) -> CaptureError:
    """The error for tshark output this engine cannot read (a tshark version that writes
    another format, or output cut off): says what was wrong, never a parser's class name."""
    if exc is None:
        why = "its output ended in the middle of a line"
    elif isinstance(exc, json.JSONDecodeError):
        why = f"a line is not valid JSON ({exc.msg} at column {exc.colno})"
    else:
        why = "a line does not have the fields this engine reads"
    return CaptureError(
        f"{path}: tshark's output cannot be read: {why} ({len(line)} bytes); "
        "check that tshark works on this file, or use --engine scapy"
    )


def _snaplen(message: SipMessage, payload_len: int) -> CaptureNote:
    # the built-in engine's note on a UDP datagram the snapshot length cut (sipassembler)
    return CaptureNote(
        "capture.snaplen",
        f"frame {message.frame}: only {len(message.data)} of {payload_len} payload bytes "
        "were captured (snapshot length too small); the SIP message is incomplete",
        message.frames,
    )


def _frame_snaplen(frame_no: int, caplen: int, origlen: int) -> CaptureNote:
    # the built-in engine's note on the first frame the snapshot length cut (reader)
    return CaptureNote(
        "capture.snaplen",
        f"frame {frame_no}: only {caplen} of {origlen} bytes were captured (snapshot length "
        "too small); payloads are incomplete",
        (frame_no,),
    )


def _one(value: Any) -> Any:
    return value[-1] if isinstance(value, list) else value


def _many(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _sip_messages(layers: dict[str, Any]) -> Iterator[tuple[SipMessage, int | None, int]]:
    """Each SIP PDU of one frame with its IP ID (UDP) and the payload length the headers
    give (UDP: more than the data when the snapshot length cut the datagram; TCP: 0)."""
    frame_no = int(layers["frame"]["frame_frame_number"])
    ts = float(layers["frame"]["frame_frame_time_epoch"])
    ip = layers.get("ip") or {}
    ipv6 = layers.get("ipv6") or {}
    if isinstance(ip, list):
        ip = ip[-1]
    if isinstance(ipv6, list):
        ipv6 = ipv6[-1]
    if "tcp" in layers:
        tl, transport, prefix = _one(layers["tcp"]), "TCP", "tcp_tcp_"
    else:
        tl, transport, prefix = _one(layers.get("udp") or {}), "UDP", "udp_udp_"
    src = _one(ip.get("ip_ip_src") or ipv6.get("ipv6_ipv6_src"))
    dst = _one(ip.get("ip_ip_dst") or ipv6.get("ipv6_ipv6_dst"))
    sport, dport = int(tl[prefix + "srcport"]), int(tl[prefix + "dstport"])
    raws = _many(layers.get("sip_raw"))
    if transport == "TCP":
        carried = [int(f) for f in _many(layers.get("tcp_tcp_segment"))]
    else:
        carried = [
            int(f) for f in _many(ip.get("ip_ip_fragment") or ipv6.get("ipv6_ipv6_fragment"))
        ]
    ip_id = int(ip["ip_ip_id"], 16) if transport == "UDP" and "ip_ip_id" in ip else None
    udp_len = int(tl.get("udp_udp_length") or 0) - 8 if transport == "UDP" and len(raws) == 1 else 0
    for index, raw in enumerate(raws):
        frames = tuple(carried) if index == 0 and carried else (frame_no,)
        data = bytes.fromhex(raw)
        yield SipMessage(frames, ts, src, sport, dst, dport, transport, data), ip_id, udp_len


def _frame(cols: list[str]) -> tuple[Frame, int, int] | None:
    """The Frame of one ``-T fields`` line, with the frame's captured and original length."""
    if len(cols) < len(_FIELDS):
        return None
    # several occurrences (tunnels, fragments) are joined with ","; the innermost is last
    f = {k: v.rsplit(",", 1)[-1] for k, v in zip(_FIELDS, cols, strict=False)}
    frag_cols = cols[_FIELDS.index("ip.fragment") :]
    src = f["ip.src"] or f["ipv6.src"]
    dst = f["ip.dst"] or f["ipv6.dst"]
    ip_id = int(f["ip.id"], 16) if f["ip.id"] else None
    fragments = next((tuple(int(x) for x in c.split(",")) for c in frag_cols if c), ())
    number, ts = int(f["frame.number"]), float(f["frame.time_epoch"])
    sizes = int(f["frame.cap_len"]), int(f["frame.len"])
    if f["udp.srcport"]:
        payload = bytes.fromhex(f["udp.payload"].replace(":", ""))
        length = max(int(f["udp.length"] or 8) - 8, 0)
        return Frame(
            number, ts, src, dst, UDP, int(f["udp.srcport"]), int(f["udp.dstport"]), payload,
            payload_len=length, ip_id=ip_id, fragments=fragments,
        ), *sizes  # fmt: skip
    if f["tcp.srcport"]:
        payload = bytes.fromhex(f["tcp.payload"].replace(":", ""))
        return Frame(
            number, ts, src, dst, TCP, int(f["tcp.srcport"]), int(f["tcp.dstport"]), payload,
            tcp_flags=int(f["tcp.flags"], 16), seq=int(f["tcp.seq_raw"]), ack=int(f["tcp.ack_raw"]),
            payload_len=int(f["tcp.len"] or 0), ip_id=ip_id, fragments=fragments,
        ), *sizes  # fmt: skip
    return None


__all__ = ["CaptureNote", "TsharkEngine", "decode_as", "tshark_path"]
