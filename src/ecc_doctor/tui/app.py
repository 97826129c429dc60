"""The dashboard app: a thin live view over the runner, the lab and the capture analyzers.

It never probes by itself: check runs go through :func:`ecc_doctor.runner.run_checks` in
async workers, capture reading and live capture run in thread workers, and every worker only
posts the dataclass messages of :mod:`ecc_doctor.tui.messages`. Heavy modules (the capture
code, which imports scapy; the reporters) are imported when first used.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from ecc_doctor.tui.check_runs import CheckRuns
from ecc_doctor.tui.checks_table import ChecksTable
from ecc_doctor.tui.detail_pane import DetailPane
from ecc_doctor.tui.export import ExportActions
from ecc_doctor.tui.header_bar import HeaderBar
from ecc_doctor.tui.help_screen import HelpScreen
from ecc_doctor.tui.lab_control import LabControl
from ecc_doctor.tui.messages import LabFaultChanged, LabReady
from ecc_doctor.tui.mgc_capture import MgcCapture
from ecc_doctor.tui.mgc_panel import MgcPanel
from ecc_doctor.tui.search import SearchAndFilter
from ecc_doctor.tui.sip_capture import LIVE_BPF, SipCapture
from ecc_doctor.tui.sip_panel import SipPanel
from ecc_doctor.tui.timeline_panel import TimelinePanel

__all__ = ["LIVE_BPF", "DashboardApp"]


class DashboardApp(CheckRuns, SipCapture, MgcCapture, LabControl, ExportActions, SearchAndFilter):
    """``ecc-doctor dashboard``: checks table, timeline, detail, SIP and MGC panels."""

    TITLE = "ecc-doctor dashboard"
    CSS = """
    #checks-table { height: 1fr; min-height: 5; }
    #detail { height: 1fr; min-height: 5; }
    #search { dock: bottom; display: none; }
    #no-match { display: none; padding: 0 1; color: $warning; text-style: bold; }
    #no-match.shown { display: block; }
    #search.shown { display: block; }
    TabbedContent, TabPane { height: 1fr; }
    TabPane { padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        # footer order: what an 80-column footer must show comes first
        Binding("q", "quit", "Quit"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("r", "rerun_all", "Re-run"),
        Binding("f", "toggle_failing", "Failing"),
        Binding("slash", "search", "Search"),
        Binding("l", "ladder", "Ladder"),
        Binding("x", "lab_control", "Lab"),
        Binding("e", "export", "Export"),
        Binding("s", "save_svg", "Screenshot", show=False),
        Binding("c", "next_capture", "Next capture", show=False),
        Binding("escape", "clear_search", "Clear search", show=False),
        Binding("1", "tab('checks')", "Checks", show=False),
        Binding("2", "tab('timeline')", "Timeline", show=False),
        Binding("3", "tab('sip')", "SIP", show=False),
        Binding("4", "tab('mgc')", "MGC", show=False),
    ]

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        with TabbedContent(id="tabs", initial="checks"):
            with TabPane("Checks", id="checks"):
                yield Static(id="no-match")
                yield ChecksTable(tz=self.tz, id="checks-table")
                yield DetailPane(id="detail")
            with TabPane("Timeline", id="timeline"):
                yield TimelinePanel(id="timeline-panel")
            with TabPane("SIP", id="sip"):
                yield SipPanel(id="sip-panel")
            with TabPane("MGC", id="mgc"):
                yield MgcPanel(id="mgc-panel")
        yield Input(placeholder="search checks (enter keeps, esc clears)", id="search")
        yield Footer(compact=True)

    #: The exit code after SIGTERM: 130, "interrupted", as for `check` (README exit codes).
    TERMINATED = 130

    def on_mount(self) -> None:
        self._mounted_views = True
        # SIGTERM (a service manager, `kill`) quits like 'q': the lab stops, running checks
        # are cancelled and close their sessions. Without this, SIGTERM's default action
        # would end the process with DMCC/SSH sessions and the lab's files left behind.
        # (Where the loop cannot take signal handlers, SIGTERM keeps its default action.)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._terminated)
        for warning in self.config.warnings if self.config is not None else ():
            self.say(warning, severity="warning", timeout=15)
        self.query_one(ChecksTable).focus()
        self.refresh_views()
        if self.lab is not None:
            self.state = "starting lab…"
            self._start_lab()
        elif self.run_on_start:
            self.action_rerun_all()
        if self.interval > 0:
            self.set_interval(self.interval, self._tick, name="rerun")
        self.set_interval(5, self._refresh_times, name="clock")
        self._start_capture()
        self._show_mgc()

    def _terminated(self) -> None:
        self.exit(return_code=self.TERMINATED)

    async def on_unmount(self) -> None:
        # the handler goes with the app, not with its event loop: a loop that outlives the
        # app (App.run_test, an embedding) must not swallow SIGTERM (Textual also runs the
        # mixins' own on_unmount handlers, such as LabControl's)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)

    def on_lab_ready(self, message: LabReady) -> None:
        assert self.lab is not None
        self.lab_ready = True
        self.config = self.lab.config
        self.state = ""
        self._show_mgc()
        if self.capture is None and self.iface is None:
            self._start_capture()  # the lab's [sip] captures
        if self.lab_faults:
            self.say("lab faults active: " + ", ".join(self.lab_faults), timeout=5)
        if self.run_on_start:
            self.action_rerun_all()
        self.refresh_views()

    def on_lab_fault_changed(self, message: LabFaultChanged) -> None:
        verb = "injected" if message.active else "healed"
        self.say(f"lab fault {message.fault} {verb}; re-running checks", timeout=4)
        self.action_rerun_all()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # ---- command palette ------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Re-run all checks", "Run every check now", self.action_rerun_all)
        yield SystemCommand(
            "Failing only", "Show only WARN/FAIL/ERROR checks (toggle)", self.action_toggle_failing
        )
        yield SystemCommand(
            "Export results",
            "Save JSON and JUnit reports of the latest results",
            self.action_export,
        )
        yield SystemCommand("Help", "Keys and statuses", self.action_help)
        if self.lab is not None and self.lab_ready:
            for fault in self.lab.faults:
                active = fault in self.lab.active
                verb = "Heal" if active else "Inject"
                yield SystemCommand(
                    f"Lab: {verb.lower()} {fault}",
                    f"{verb} the lab fault {fault}",
                    lambda f=fault, a=not active: self.toggle_fault(f, a),
                )
