"""The MGC panel: the expected [mgc] parameters, and those measured in a capture (thread worker)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.text import Text
from textual import work

from ecc_doctor.errors import EccDoctorError
from ecc_doctor.tui.base import DashboardBase
from ecc_doctor.tui.messages import MgcAnalyzed
from ecc_doctor.tui.mgc_panel import MgcPanel


class MgcCapture(DashboardBase):
    """Show [mgc] as configured and, once read, as measured in its capture."""

    def _mgc_capture(self) -> Path | None:
        """[mgc] capture (relative to the site file), else --capture; None without [mgc]."""
        mgc = self.config.mgc if self.config is not None else None
        if mgc is None:
            return None
        if mgc.capture is None:
            return self.capture
        return self._site_path(Path(mgc.capture))

    def _show_mgc(self) -> None:
        from ecc_doctor.tui import mgc_view

        parts = [mgc_view.expected(self.config)]
        if self.mgc_measured is not None:
            parts.append(self.mgc_measured)
        self.query_one(MgcPanel).show(Group(*parts))
        path = self._mgc_capture()
        if path is not None and path != self._mgc_read:
            self._mgc_read = path
            self._read_mgc(path)

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
