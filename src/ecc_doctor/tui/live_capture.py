"""Live SIP capture for the dashboard's SIP panel (runs in a thread worker; blocking calls).

scapy opens a link-layer listening socket with a BPF filter; frames go through the same
:class:`~ecc_doctor.captures.decode.Decoder` and
:class:`~ecc_doctor.captures.sipassembler.SipAssembler` as capture files. Memory is bounded:
only the last ``max_records`` SIP records are kept (older dialogs drop out of the panel).
Opening the socket needs root or CAP_NET_RAW; that failure is a :class:`LiveCaptureError`
with a one-line message saying so.
"""

from __future__ import annotations

import select
from collections import deque
from collections.abc import Sequence
from typing import Any

from ecc_doctor.captures.records import CaptureNote, Frame, SipMessage

MAX_RECORDS = 20_000
SNAPLEN = 65_535


class LiveCaptureError(Exception):
    """Live capture cannot start or continue (one line, shown in the SIP panel)."""


class LiveCapture:
    """``open()``, then ``poll(timeout)`` repeatedly, ``analyze()`` when wanted, ``close()``."""

    def __init__(
        self, iface: str, bpf: str, ports: Sequence[int], *, max_records: int = MAX_RECORDS
    ) -> None:
        self.iface = iface
        self.bpf = bpf
        self.ports = tuple(ports)
        self.records: deque[SipMessage | CaptureNote] = deque(maxlen=max_records)
        self.packets = 0
        self.messages = 0
        self._sock: Any = None
        self._linktypes: dict[type, int] = {}
        from ecc_doctor.captures.decode import Decoder
        from ecc_doctor.captures.reader import sip_filter
        from ecc_doctor.captures.sipassembler import SipAssembler

        self._decoder = Decoder()
        self._assembler = SipAssembler(self.ports)
        self._want = sip_filter(self._assembler, self.ports)

    def open(self) -> None:
        try:
            import scapy.arch  # noqa: F401 - sets conf.L2listen for this platform
            import scapy.layers.l2  # noqa: F401 - link types of the listening socket
            from scapy.config import conf
        except ImportError as exc:  # pragma: no cover - scapy is a dependency
            raise LiveCaptureError(f"live capture needs scapy: {exc}") from exc
        try:
            self._sock = conf.L2listen(iface=self.iface, filter=self.bpf)
        except PermissionError as exc:
            raise LiveCaptureError(
                f"live capture on {self.iface} needs root or CAP_NET_RAW "
                f"(e.g. sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f "
                f"$(which python3))), or use --capture FILE: {exc.strerror or exc}"
            ) from exc
        except OSError as exc:
            raise LiveCaptureError(
                f"live capture on {self.iface} failed: {exc.strerror or exc}"
            ) from exc
        except Exception as exc:  # scapy raises Scapy_Exception for bad filters/interfaces
            raise LiveCaptureError(f"live capture on {self.iface} failed: {exc}") from exc
        self._linktypes = dict(conf.l2types.layer2num)

    def poll(self, timeout: float) -> int:
        """Read what arrives within *timeout* seconds; returns the number of packets read."""
        if self._sock is None:
            raise LiveCaptureError("live capture is not open")
        try:
            ready, _, _ = select.select([self._sock], [], [], timeout)
        except (OSError, ValueError) as exc:
            raise LiveCaptureError(f"live capture on {self.iface} stopped: {exc}") from exc
        count = 0
        while ready and count < 1000:
            try:
                cls, data, ts = self._sock.recv_raw(SNAPLEN)
            except OSError as exc:
                raise LiveCaptureError(f"live capture on {self.iface} stopped: {exc}") from exc
            if data is None:
                break
            self.feed(self._linktypes.get(cls, 1), data, float(ts or 0.0))
            count += 1
            ready, _, _ = select.select([self._sock], [], [], 0)
        return count

    def feed(self, linktype: int, data: bytes, ts: float) -> None:
        """Decode one link-layer frame and keep the SIP records it completes."""
        self.packets += 1
        frame = self._decoder.decode(linktype, data, ts, self.packets, self._want)
        self.records.extend(self._decoder.pop_notes())
        if isinstance(frame, Frame):
            for record in self._assembler.feed(frame):
                self.records.append(record)
                if isinstance(record, SipMessage):
                    self.messages += 1
        elif isinstance(frame, CaptureNote):
            self.records.append(frame)

    def analyze(self) -> Any:
        """The SIP analysis of the records kept so far (a ``SipAnalysis``)."""
        import importlib

        module = importlib.import_module("ecc_doctor.captures.sip.analyze")
        return module.analyze_records(list(self.records))

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
