"""The MGC panel: the expected [mgc] parameters, and those measured in a capture (thread worker)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.css.query import NoMatches

from ecc_doctor.errors import EccDoctorError
from ecc_doctor.tui.base import DashboardBase
from ecc_doctor.tui.messages import MgcAnalyzed, RunFinished
from ecc_doctor.tui.mgc_panel import MgcPanel
from ecc_doctor.tui.sip_capture import file_signature


class MgcCapture(DashboardBase):
    """Show [mgc] as configured and, once read, as measured in its capture."""

    def _mgc_capture(self) -> Path | None:
        """--capture, else [mgc] capture (relative to the site file); None without [mgc].

        --capture wins: the engineer asked about that capture, not the site file's.
        """
        mgc = self.config.mgc if self.config is not None else None
        if mgc is None:
            return None
        if self.capture is not None or mgc.capture is None:
            return self.capture
        return self._site_path(Path(mgc.capture))

    def _show_mgc(self) -> None:
        from ecc_doctor.tui import mgc_view

        parts = [mgc_view.expected(self.config)]
        if self.mgc_measured is not None:
            parts.append(self.mgc_measured)
        self.query_one(MgcPanel).show(Group(*parts))
        path = self._mgc_capture()
        if path is None:
            return
        read = (path, file_signature(path))
        if read != self._mgc_read:  # a new capture, or the file changed since it was read
            self._mgc_read = read
            self._read_mgc(path)

    @on(RunFinished)
    def _mgc_capture_after_run(self) -> None:
        """After a run of the checks: re-read the MGC capture if the file changed."""
        with contextlib.suppress(NoMatches):  # the app is closing
            self._show_mgc()

    @work(thread=True, group="mgc", exit_on_error=False)
    def _read_mgc(self, path: Path) -> None:
        from ecc_doctor.tui import mgc_view

        try:
            from ecc_doctor.captures.mgc.analyze import analyze_file
            from ecc_doctor.captures.mgc.params import from_config
        except ImportError as exc:
            msg = f"the MGC capture analyzer is not available in this build: {exc}"
            self.post_message(MgcAnalyzed(Text(msg, style="red")))
            return
        config = self.config
        if config is None or config.mgc is None:
            return
        try:
            params = from_config(config.mgc, f"{config.source} [mgc]")
            flows = analyze_file(path, params=params)
        except EccDoctorError as exc:
            self.post_message(MgcAnalyzed(Text(f"{path}: {exc.message}", style="bold red")))
            return
        except OSError as exc:
            text = Text(f"{path}: cannot read: {exc.strerror}", style="bold red")
            self.post_message(MgcAnalyzed(text))
            return
        except Exception as exc:  # a bug must not take the dashboard down
            text = Text(f"internal error: {type(exc).__name__}: {exc}", style="bold red")
            self.post_message(MgcAnalyzed(text))
            return
        self.post_message(MgcAnalyzed(mgc_view.measured(flows, str(path))))

    def on_mgc_analyzed(self, message: MgcAnalyzed) -> None:
        self.mgc_measured = message.measured
        self._show_mgc()
        self._signal()
