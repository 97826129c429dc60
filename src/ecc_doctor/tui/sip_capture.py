"""The SIP panel's capture: a capture file read, or a live capture, in a thread worker.

The capture code (it imports scapy) is imported when a capture is first read.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.css.query import NoMatches
from textual.worker import get_current_worker

from ecc_doctor.errors import EccDoctorError
from ecc_doctor.models import Status
from ecc_doctor.tui.base import DashboardBase
from ecc_doctor.tui.history import BAD
from ecc_doctor.tui.ladder_screen import LadderScreen
from ecc_doctor.tui.messages import (
    CaptureAnalyzed,
    CaptureFailed,
    CaptureProgress,
    CaptureStarted,
    RunFinished,
)
from ecc_doctor.tui.sip_panel import SipPanel

#: BPF filter of the live capture: SIP on its ports, plus every IP fragment (a fragmented
#: SIP/UDP datagram's later fragments carry no port).
LIVE_BPF = "((udp or tcp) and (port {ports})) or (ip[6:2] & 0x3fff != 0) or (ip6[6] == 44)"


def file_signature(path: Path) -> tuple[int, int, int] | None:
    """What tells a changed capture file apart: inode, size, mtime (None: cannot stat)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class SipCapture(DashboardBase):
    """Read --capture, capture live on --iface or read [sip] captures; the SIP ladder.

    A capture file is read again when it changed (inode, size or mtime) after a run of the
    checks, so the SIP tab shows what the sip.* rows were judged on. With several [sip]
    captures, ``c`` shows the next one.
    """

    def sip_files(self) -> list[Path]:
        """The capture files the SIP tab can show: --capture, else the site's [sip] captures."""
        if self.capture is not None:
            return [self.capture]
        if self.iface is not None:
            return []
        sip = self.config.sip if self.config is not None else None
        if sip is None or not sip.captures:
            return []
        return [self._site_path(Path(c)) for c in sip.captures]

    def _start_capture(self) -> None:
        """Read --capture, capture live on --iface, or else read the site's [sip] captures."""
        if self.iface is not None and self.capture is None:
            self.capture_state = f"starting live capture on {self.iface}…"
            self._live_capture(self.iface)
        else:
            self._read_sip_file()
        self._show_capture_state()

    def _read_sip_file(self) -> None:
        """(Re-)read the SIP tab's capture file, the ``sip_index``-th of :meth:`sip_files`."""
        files = self.sip_files()
        if not files:
            return
        self.sip_index %= len(files)
        path = files[self.sip_index]
        if self.capture is not None:
            self.capture_note = ""
        elif len(files) > 1:
            self.capture_note = (
                f" ({self.sip_index + 1} of {len(files)} [sip] captures; c shows the next)"
            )
        else:
            self.capture_note = " (from [sip] captures)"
        self._sip_read = (path, file_signature(path))
        self.capture_state = f"reading {path.name}…"
        self._read_capture(path)

    def action_next_capture(self) -> None:
        """Show the next [sip] capture in the SIP tab."""
        files = self.sip_files()
        if len(files) < 2:
            self.say("there is only one capture to show (c cycles [sip] captures)", timeout=3)
            return
        self.sip_index = (self.sip_index + 1) % len(files)
        self.sip_analysis = None
        self._read_sip_file()
        self._show_capture_state()

    @on(RunFinished)
    def _sip_capture_after_run(self) -> None:
        """After a run of the checks: re-read the SIP tab's capture if the file changed."""
        if self._sip_read is None:
            return
        path, signature = self._sip_read
        if file_signature(path) != signature:
            self._read_sip_file()
            with contextlib.suppress(NoMatches):  # the app is closing
                self._show_capture_state()

    def _sip_options(self) -> dict[str, Any]:
        """analyze_file options from [sip] (engine, ports, passwords), as sip.register uses."""
        sip = self.config.sip if self.config is not None else None
        options: dict[str, Any] = {"ports": self._sip_ports()}
        if sip is None:
            return options
        options.update(engine=sip.engine, max_contacts=sip.max_contacts)
        if sip.password_file is not None:
            from ecc_doctor.captures.sip.digest import load_passwords

            options["passwords"] = load_passwords(self._site_path(sip.password_file))
        return options

    def _sip_ports(self) -> list[int]:
        sip = self.config.sip if self.config is not None else None
        return list(sip.ports) if sip is not None else [5060, 5061]

    @work(thread=True, group="capture", exit_on_error=False)
    def _read_capture(self, path: Path) -> None:
        try:
            from ecc_doctor.captures.sip.analyze import analyze_file
        except ImportError as exc:
            self.post_message(CaptureFailed(str(path), f"the SIP analyzer is not available: {exc}"))
            return
        try:
            last = [0.0]

            def progress(done: int, total: int) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.5:
                    last[0] = now
                    self.post_message(CaptureProgress(str(path), done, total))

            analysis = analyze_file(path, progress=progress, **self._sip_options())
        except EccDoctorError as exc:
            self.post_message(CaptureFailed(str(path), exc.message))
            return
        except OSError as exc:
            self.post_message(CaptureFailed(str(path), f"{path}: cannot read: {exc.strerror}"))
            return
        except Exception as exc:  # a bug must not take the dashboard down
            self.post_message(
                CaptureFailed(str(path), f"internal error: {type(exc).__name__}: {exc}")
            )
            return
        self.post_message(CaptureAnalyzed(str(path), analysis))

    @work(thread=True, group="capture", exit_on_error=False)
    def _live_capture(self, iface: str) -> None:
        from ecc_doctor.tui.live_capture import LiveCapture, LiveCaptureError

        worker = get_current_worker()
        ports = self._sip_ports()
        bpf = LIVE_BPF.format(ports=" or ".join(str(p) for p in ports))
        try:
            capture = LiveCapture(iface, bpf, ports)
            capture.open()
        except LiveCaptureError as exc:
            self.post_message(CaptureFailed(iface, str(exc)))
            return
        self.post_message(CaptureStarted(iface, bpf))
        try:
            last = 0.0
            posted = -1
            while not worker.is_cancelled:
                capture.poll(0.5)
                now = time.monotonic()
                if capture.messages != posted and now - last >= 1.0:
                    last, posted = now, capture.messages
                    try:
                        analysis = capture.analyze()
                    except Exception as exc:  # a bug must not take the dashboard down
                        msg = f"internal error analyzing: {type(exc).__name__}: {exc}"
                        self.post_message(CaptureFailed(iface, msg))
                        return
                    self.post_message(
                        CaptureAnalyzed(iface, analysis, live=True, packets=capture.packets)
                    )
        except LiveCaptureError as exc:
            self.post_message(CaptureFailed(iface, str(exc)))
        finally:
            capture.close()

    def on_capture_analyzed(self, message: CaptureAnalyzed) -> None:
        read = self._sip_read
        if not message.live and read is not None and str(read[0]) != message.source:
            return  # a read of a capture the tab no longer shows
        self.sip_analysis = message.analysis
        flows = list(getattr(message.analysis, "flows", ()) or ())
        found = [x for f in flows for x in f.findings] + list(
            getattr(message.analysis, "notes", [])
        )
        problems = sum(1 for x in found if x.severity in BAD)
        findings = f"{problems} problem{'s' if problems != 1 else ''}"
        flow_count = f"{len(flows)} flow{'s' if len(flows) != 1 else ''}"
        if message.live:
            self.capture_state = (
                f"live on {message.source}: {message.packets} packets, {flow_count}, {findings}"
            )
        else:
            name = Path(message.source).name
            self.capture_state = f"{name}: {flow_count}, {findings}"
        self.capture_state += self.capture_note
        worst = Status.worst([x.severity for x in found if x.severity in BAD] or [Status.FAIL])
        self._label_tab("sip", "SIP", problems, worst.symbol)
        hidden = getattr(message.analysis, "flows_not_listed", 0)
        if hidden:
            self.capture_state += f" ({hidden} more flows not listed)"
        self.query_one(SipPanel).show_analysis(message.analysis)
        self._show_capture_state()
        self._signal()

    def on_capture_progress(self, message: CaptureProgress) -> None:
        if self.sip_analysis is None and message.total > 0:
            share = min(100, message.done * 100 // message.total)
            self.capture_state = f"reading {Path(message.source).name}… {share}%"
            self._show_capture_state()

    def on_capture_started(self, message: CaptureStarted) -> None:
        self.capture_state = (
            f"live on {message.source}: listening, no SIP yet (filter {message.bpf})"
        )
        self._show_capture_state()
        self._signal()

    def on_capture_failed(self, message: CaptureFailed) -> None:
        self.capture_state = f"✗ {message.error}"
        self._show_capture_state()
        self.say(message.error, severity="error", timeout=10)
        self._signal()

    def _show_capture_state(self) -> None:
        if self.capture_state:
            style = "bold red" if self.capture_state.startswith("✗") else ""
            self.query_one(SipPanel).set_status(Text(self.capture_state, style=style))

    def action_ladder(self) -> None:
        panel = self.query_one(SipPanel)
        flow = panel.selected
        if flow is None or not flow.call_id or self.sip_analysis is None:
            self.action_tab("sip")
            self.say(
                "select a SIP dialog first (SIP tab; start with --capture FILE or --iface IF)",
                severity="warning",
                timeout=4,
            )
            return
        try:
            from ecc_doctor.captures.sip.ladder import build_ladder, render_text
        except ImportError as exc:
            self.say(f"the ladder view is not available: {exc}", severity="error")
            return
        width = max(self.size.width - 4, 40)
        try:
            ladder = build_ladder(self.sip_analysis, flow.call_id)
            text = "\n".join(render_text(ladder, width))
        except EccDoctorError as exc:
            self.say(exc.message, severity="error")
            return
        self.push_screen(LadderScreen(f"ladder: {flow.kind} {flow.call_id}", text))
