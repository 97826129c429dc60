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
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ecc_doctor import cancel
from ecc_doctor.captures.records import (
    TCP,
    UDP,
    CaptureNote,
    Frame,
    FrameRecord,
    SipMessage,
    SipRecord,
)
from ecc_doctor.captures.sipassembler import DuplicateFilter
from ecc_doctor.errors import CaptureError, ConfigError

# Wireshark already decodes these as SIP (TCP 5061 is SIP over TLS: left alone)
_DEFAULT_UDP = {5060}
_DEFAULT_TCP = {5060, 5061}
_FIELDS = (
    "frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.id",
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
            if line is _CUT_SHORT:
                yield _truncated()
                continue
            if not line.startswith(b'{"timestamp"'):
                continue
            layers = json.loads(line)["layers"]
            for message in _sip_messages(layers):
                note = dups.check(message[0], message[1])
                yield message[0] if note is None else note

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
        for line in self._run(args, path):
            if line is _CUT_SHORT:
                yield _truncated()
                continue
            frame = _frame(line.rstrip(b"\r\n").decode("ascii", "replace").split("\t"))
            if frame is not None:
                yield frame

    def _run(self, args: list[str], path: Path) -> Iterator[bytes]:
        try:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise ConfigError(f"cannot run tshark: {exc}") from exc
        assert proc.stdout is not None and proc.stderr is not None
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
        try:
            yield from proc.stdout
            if stopped.is_set():
                raise cancel.WorkStopped(f"{path}: tshark was stopped (the check ended)")
            err = proc.stderr.read(4096).decode("utf-8", "replace")
            if proc.wait() != 0:
                lines = [ln for ln in err.splitlines() if ln and "Running as user" not in ln]
                problem = lines[-1] if lines else f"exit code {proc.returncode}"
                if "appears to have been cut short" in err:
                    yield _CUT_SHORT
                    return
                raise CaptureError(f"{path}: tshark cannot read it: {problem}")
        finally:
            done.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
            watcher.join()


_CUT_SHORT = b"\0cut short"


def _truncated() -> CaptureNote:
    return CaptureNote(
        "capture.truncated",
        "the file ends inside a frame (tshark: cut short in the middle of a packet)",
    )


def _one(value: Any) -> Any:
    return value[-1] if isinstance(value, list) else value


def _many(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _sip_messages(layers: dict[str, Any]) -> Iterator[tuple[SipMessage, int | None]]:
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
    for index, raw in enumerate(raws):
        frames = tuple(carried) if index == 0 and carried else (frame_no,)
        data = bytes.fromhex(raw)
        yield SipMessage(frames, ts, src, sport, dst, dport, transport, data), ip_id


def _frame(cols: list[str]) -> Frame | None:
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
    if f["udp.srcport"]:
        payload = bytes.fromhex(f["udp.payload"].replace(":", ""))
        length = max(int(f["udp.length"] or 8) - 8, 0)
        return Frame(
            number, ts, src, dst, UDP, int(f["udp.srcport"]), int(f["udp.dstport"]), payload,
            payload_len=length, ip_id=ip_id, fragments=fragments,
        )  # fmt: skip
    if f["tcp.srcport"]:
        payload = bytes.fromhex(f["tcp.payload"].replace(":", ""))
        return Frame(
            number, ts, src, dst, TCP, int(f["tcp.srcport"]), int(f["tcp.dstport"]), payload,
            tcp_flags=int(f["tcp.flags"], 16), seq=int(f["tcp.seq_raw"]), ack=int(f["tcp.ack_raw"]),
            payload_len=int(f["tcp.len"] or 0), ip_id=ip_id, fragments=fragments,
        )  # fmt: skip
    return None


__all__ = ["CaptureNote", "TsharkEngine", "decode_as", "tshark_path"]
