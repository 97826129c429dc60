"""The dashboard app: a thin live view over the runner, the lab and the capture analyzers.

It never probes by itself: check runs go through :func:`ecc_doctor.runner.run_checks` in
async workers, capture reading and live capture run in thread workers, and every worker only
posts the dataclass messages of :mod:`ecc_doctor.tui.messages`. Heavy modules (the capture
code, which imports scapy; the reporters) are imported when first used.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, TabbedContent, TabPane
from textual.worker import get_current_worker

from ecc_doctor.checks import CheckSpec
from ecc_doctor.config import SiteConfig
from ecc_doctor.errors import EccDoctorError
from ecc_doctor.models import Result, Status
from ecc_doctor.runner import RunEvent, run_checks
from ecc_doctor.tui import detail_pane, timeline_panel
from ecc_doctor.tui.checks_table import ChecksTable
from ecc_doctor.tui.detail_pane import DetailPane
from ecc_doctor.tui.header_bar import HeaderBar
from ecc_doctor.tui.help_screen import HelpScreen
from ecc_doctor.tui.history import BAD, CheckHistory, SessionHistory, clock_time
from ecc_doctor.tui.lab_screen import LabScreen
from ecc_doctor.tui.ladder_screen import LadderScreen
from ecc_doctor.tui.messages import (
    CaptureAnalyzed,
    CaptureFailed,
    CaptureProgress,
    CaptureStarted,
    CheckDone,
    CheckFinished,
    CheckStarted,
    Exported,
    LabFailed,
    LabFaultChanged,
    LabReady,
    MgcAnalyzed,
    RunFinished,
)
from ecc_doctor.tui.mgc_panel import MgcPanel
from ecc_doctor.tui.sip_panel import SipPanel

if TYPE_CHECKING:
    from ecc_doctor.lab import Lab

Clock = Callable[[], datetime]

#: BPF filter of the live capture: SIP on its ports, plus every IP fragment (a fragmented
#: SIP/UDP datagram's later fragments carry no port).
LIVE_BPF = "((udp or tcp) and (port {ports})) or (ip[6:2] & 0x3fff != 0) or (ip6[6] == 44)"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _lazy(module: str, name: str) -> Any:
    """*name* from *module*, imported now (ImportError if that part is not built yet)."""
    found = getattr(importlib.import_module(module), name, None)
    if found is None:
        raise ImportError(f"{module} has no {name}")
    return found


class DashboardApp(App[None]):
    """``ecc-doctor dashboard``: checks table, timeline, detail, SIP and MGC panels."""

    TITLE = "ecc-doctor dashboard"
    CSS = """
    #checks-table { height: 1fr; min-height: 5; }
    #detail { height: 1fr; min-height: 5; }
    #search { dock: bottom; display: none; }
    #search.shown { display: block; }
    TabbedContent, TabPane { height: 1fr; }
    TabPane { padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("r", "rerun_all", "Re-run"),
        Binding("f", "toggle_failing", "Failing"),
        Binding("slash", "search", "Search"),
        Binding("l", "ladder", "Ladder"),
        Binding("x", "lab_control", "Lab"),
        Binding("e", "export", "Export"),
        Binding("s", "save_svg", "Screenshot", show=False),
        Binding("question_mark,f1", "help", "Help"),
        Binding("escape", "clear_search", "Clear search", show=False),
        Binding("1", "tab('checks')", "Checks", show=False),
        Binding("2", "tab('timeline')", "Timeline", show=False),
        Binding("3", "tab('sip')", "SIP", show=False),
        Binding("4", "tab('mgc')", "MGC", show=False),
    ]

    def __init__(
        self,
        config: SiteConfig | None = None,
        *,
        specs: Sequence[CheckSpec] | None = None,
        lab: Lab | None = None,
        lab_faults: Sequence[str] = (),
        interval: float = 30.0,
        capture: Path | None = None,
        iface: str | None = None,
        export_dir: Path = Path("."),
        clock: Clock = _utc_now,
        tz: tzinfo | None = None,
        run_on_start: bool = True,
        recorded: Iterable[tuple[datetime, Result]] = (),
    ) -> None:
        super().__init__()
        if specs is None:
            from ecc_doctor.checks import all_checks

            specs = all_checks()
        self.config = config
        self.specs = list(specs)
        self.lab = lab
        self.lab_faults = list(lab_faults)
        self.lab_ready = False
        self.interval = interval
        self.capture = capture
        self.iface = iface
        self.export_dir = export_dir
        self.clock = clock
        self.tz = tz if tz is not None else datetime.now().astimezone().tzinfo
        self.run_on_start = run_on_start
        self.history = SessionHistory()
        self.history.add(s.id for s in self.specs)
        #: spec id -> the result ids it produced (a check may report several rows)
        self.owned: dict[str, list[str]] = {}
        self.running: set[str] = set()
        self.failing_only = False
        self.search_text = ""
        self.selected_check: str | None = None
        self.runs_started = 0
        self.runs_completed = 0
        self.finished_runs: set[int] = set()
        self.last_run_at: datetime | None = None
        self.state = ""
        self.capture_state = ""
        self.capture_note = ""
        self.sip_analysis: Any = None
        self.mgc_measured: RenderableType | None = None
        self._mgc_read: Path | None = None
        self._changed = asyncio.Event()
        self._mounted_views = False
        for at, result in recorded:
            self.history.record(result, at)
            self.last_run_at = at if self.last_run_at is None else max(self.last_run_at, at)

    def say(
        self, message: str, *, severity: Any = "information", timeout: float | None = None
    ) -> None:
        """A notification shown as plain text (messages may hold "[sip]" and the like)."""
        self.notify(message, severity=severity, timeout=timeout, markup=False)

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        with TabbedContent(id="tabs", initial="checks"):
            with TabPane("Checks", id="checks"):
                yield ChecksTable(tz=self.tz, id="checks-table")
                yield DetailPane(id="detail")
            with TabPane("Timeline", id="timeline"):
                yield timeline_panel.TimelinePanel(id="timeline-panel")
            with TabPane("SIP", id="sip"):
                yield SipPanel(id="sip-panel")
            with TabPane("MGC", id="mgc"):
                yield MgcPanel(id="mgc-panel")
        yield Input(placeholder="search checks (enter keeps, esc clears)", id="search")
        yield Footer()

    def on_mount(self) -> None:
        self._mounted_views = True
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

    def _start_capture(self) -> None:
        """Read --capture, capture live on --iface, or else read the site's first [sip] capture."""
        if self.capture is not None:
            self.capture_state = f"reading {self.capture.name}…"
            self._read_capture(self.capture)
        elif self.iface is not None:
            self.capture_state = f"starting live capture on {self.iface}…"
            self._live_capture(self.iface)
        elif self.config is not None and self.config.sip is not None and self.config.sip.captures:
            captures = self.config.sip.captures
            self.capture_note = (
                f" (first of {len(captures)} [sip] captures; --capture FILE shows another)"
                if len(captures) > 1
                else " (from [sip] captures)"
            )
            self.capture_state = f"reading {captures[0].name}…"
            self._read_capture(self._site_path(captures[0]))
        self._show_capture_state()

    async def on_unmount(self) -> None:
        if self.lab is not None:
            await self.lab.stop()

    # ---- check runs -----------------------------------------------------------------------

    def _tick(self) -> None:
        if self.config is not None:  # quietly wait while the lab is starting
            self.start_run(self.specs)

    def action_rerun_all(self) -> None:
        """Re-run every check that is not running already."""
        self.start_run(self.specs)

    def start_run(self, specs: Sequence[CheckSpec]) -> bool:
        """Start a run of *specs* (those not running already); False if nothing started."""
        if self.config is None:
            if self.lab is not None and not self.lab_ready:
                self.say("the lab is still starting", timeout=3)
            return False
        todo = [s for s in specs if s.id not in self.running]
        if not todo:
            return False
        self.running.update(s.id for s in todo)
        self.runs_started += 1
        self._run_worker(self.runs_started, todo, self.config)
        return True

    @work(group="checks", exit_on_error=False)
    async def _run_worker(self, run: int, specs: list[CheckSpec], config: SiteConfig) -> None:
        async def one(spec: CheckSpec) -> None:
            def listen(event: RunEvent) -> None:
                if event.kind == "started":
                    self.post_message(CheckStarted(spec.id))
                elif event.result is not None:
                    self.post_message(CheckFinished(spec.id, event.result))

            try:
                await run_checks([spec], config, listener=listen)
            except Exception as exc:  # the runner turns check errors into ERROR already
                msg = f"internal error running {spec.id}: {type(exc).__name__}: {exc}"
                self.post_message(CheckFinished(spec.id, Result(spec.id, Status.ERROR, msg)))
            finally:
                self.post_message(CheckDone(spec.id))

        await asyncio.gather(*(one(s) for s in specs))
        self.post_message(RunFinished(run, tuple(s.id for s in specs)))

    def _rows_of(self, spec_id: str) -> list[str]:
        return self.owned.get(spec_id) or [spec_id]

    def on_check_started(self, message: CheckStarted) -> None:
        for check_id in self._rows_of(message.spec_id):
            self.history.mark_running(check_id)
        self.refresh_views(message.spec_id)

    def on_check_finished(self, message: CheckFinished) -> None:
        result = message.result
        owned = self.owned.setdefault(message.spec_id, [])
        if result.check_id not in owned:
            owned.append(result.check_id)
            placeholder = self.history.checks.get(message.spec_id)
            if (
                result.check_id != message.spec_id
                and placeholder is not None
                and placeholder.last is None
            ):
                del self.history.checks[message.spec_id]
        self.history.record(result, self.clock())
        self.refresh_views(result.check_id)
        self._signal()

    def on_check_done(self, message: CheckDone) -> None:
        self.running.discard(message.spec_id)
        for check_id in self._rows_of(message.spec_id):
            if check_id in self.history.checks:
                self.history.mark_running(check_id, False)
        self.refresh_views(message.spec_id)
        self._signal()

    def on_run_finished(self, message: RunFinished) -> None:
        self.finished_runs.add(message.run)
        self.runs_completed = len(self.finished_runs)
        self.last_run_at = self.clock()
        self.refresh_views()
        self._signal()

    def _signal(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait (event-driven) until *predicate* holds after a handled result or run end."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    async def wait_run(self, run: int | None = None, timeout: float = 30.0) -> None:
        """Wait until run number *run* has finished (default: every run started so far)."""
        if run is None:
            target = self.runs_started
            await self.wait_for(lambda: self.runs_completed >= target, timeout)
        else:
            await self.wait_for(lambda: run in self.finished_runs, timeout)

    # ---- views ----------------------------------------------------------------------------

    def visible_rows(self) -> list[CheckHistory]:
        """The table's rows: registry order, filtered by 'failing only' and the search text."""
        order: list[str] = []
        for spec in self.specs:
            order += [c for c in self._rows_of(spec.id) if c not in order]
        order += [c for c in self.history.checks if c not in order]
        rows = [self.history.checks[c] for c in order if c in self.history.checks]
        if self.failing_only:
            rows = [h for h in rows if h.status in BAD]
        needle = self.search_text.lower().strip()
        if needle:
            rows = [h for h in rows if needle in self._haystack(h)]
        return rows

    def _haystack(self, h: CheckHistory) -> str:
        parts = [h.check_id]
        if h.last is not None:
            parts += [h.last.title, h.last.summary]
        spec = next((s for s in self.specs if s.id == h.check_id), None)
        if spec is not None:
            parts.append(spec.title)
        return " ".join(parts).lower()

    def _title_of(self, check_id: str) -> str:
        spec = next((s for s in self.specs if s.id == check_id), None)
        return spec.title if spec else ""

    def refresh_views(self, changed: str | None = None) -> None:
        """Redraw from the history: table and header always; the detail pane when *changed*
        (a check id) is the selected check or None; the timeline when it is visible."""
        if not self._mounted_views:
            return
        try:
            table = self.query_one(ChecksTable)
            table.show(self.visible_rows())
            if table.selected_id is not None and table.selected_id != self.selected_check:
                self.selected_check = table.selected_id
                changed = None
            self._show_header()
            if changed is None or changed == self.selected_check:
                self._show_detail()
            if self.query_one(TabbedContent).active == "timeline":
                self._show_timeline()
        except NoMatches:  # shutting down: the widgets are gone
            return

    def _show_header(self) -> None:
        if self.config is not None:
            site, is_lab = self.config.site.name, self.config.is_lab
        else:
            site, is_lab = "ecc-doctor lab", self.lab is not None
        filters = []
        if self.failing_only:
            filters.append("failing only")
        if self.search_text:
            filters.append(f"/{self.search_text}")
        state = self.state
        if not state and self.last_run_at is not None:
            state = f"ran {clock_time(self.last_run_at, self.tz)}"
            if self.interval > 0:
                state += f", every {self.interval:g} s"
        running = sum(1 for h in self.history.checks.values() if h.running)
        ongoing = sum(1 for h in self.history.checks.values() if h.open_outage is not None)
        self._label_tab("timeline", "Timeline", ongoing)
        self.query_one(HeaderBar).show(
            site, is_lab, self.history.counts(), running, state, " ".join(filters)
        )

    def _label_tab(self, tab: str, name: str, problems: int) -> None:
        """``Timeline ✗2``: the tab's name and how many problems it holds (when any)."""
        label = f"{name} ✗{problems}" if problems else name
        content_tab = self.query_one(TabbedContent).get_tab(tab)
        if content_tab.label_text != label:
            content_tab.label = label

    def _show_detail(self) -> None:
        check_id = self.selected_check
        h = self.history.checks.get(check_id) if check_id else None
        title = self._title_of(check_id) if check_id else ""
        self.query_one(DetailPane).show(detail_pane.describe(h, self.clock(), self.tz, title))

    def _show_timeline(self) -> None:
        now = self.clock()
        self.query_one(timeline_panel.TimelinePanel).show(
            lambda width: timeline_panel.describe(self.history, now, self.tz, width)
        )

    def _refresh_times(self) -> None:
        """Redraw what shows durations ("3 min") and the header."""
        self.refresh_views()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.tabbed_content.active == "timeline":
            self._show_timeline()

    @on(DataTable.RowHighlighted, "#checks-table")
    def _check_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.selected_check = str(event.row_key.value)
            self._show_detail()

    def on_checks_table_rerun_requested(self, message: ChecksTable.RerunRequested) -> None:
        spec = next(
            (s for s in self.specs if message.check_id in self._rows_of(s.id)),
            None,
        )
        if spec is None:
            self.say(f"{message.check_id} is not a registered check", severity="warning")
        elif not self.start_run([spec]):
            self.say(f"{spec.id} is running already", timeout=2)

    # ---- filter and search ----------------------------------------------------------------

    def action_toggle_failing(self) -> None:
        self.failing_only = not self.failing_only
        self.refresh_views()

    def action_search(self) -> None:
        self.action_tab("checks")
        search = self.query_one("#search", Input)
        search.add_class("shown")
        search.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search_text = event.value
        self.refresh_views()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        search = self.query_one("#search", Input)
        if not search.value:
            search.remove_class("shown")
        self.query_one(ChecksTable).focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#search", Input)
        if search.has_class("shown") or self.search_text:
            search.value = ""
            search.remove_class("shown")
            self.search_text = ""
            self.query_one(ChecksTable).focus()
            self.refresh_views()

    def action_tab(self, tab: str) -> None:
        """Show *tab* and focus its main widget (focus decides the visible tab)."""
        target = {
            "checks": "#checks-table",
            "timeline": "#timeline-panel",
            "sip": "#sip-flows",
            "mgc": "#mgc-panel",
        }[tab]
        self.query_one(TabbedContent).active = tab
        self.query_one(target).focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # ---- lab ------------------------------------------------------------------------------

    @work(group="lab", exit_on_error=False)
    async def _start_lab(self) -> None:
        assert self.lab is not None
        try:
            await self.lab.start()
            for fault in self.lab_faults:
                await self.lab.fault(fault)
        except (EccDoctorError, OSError) as exc:
            self.post_message(LabFailed(f"the lab did not start: {exc}"))
            return
        except Exception as exc:  # a bug in an emulator must not take the dashboard down
            self.post_message(
                LabFailed(f"the lab did not start: internal error: {type(exc).__name__}: {exc}")
            )
            return
        self.post_message(LabReady())

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

    def on_lab_failed(self, message: LabFailed) -> None:
        if message.starting:
            self.state = message.error
        self.say(message.error, severity="error", timeout=10)
        self.refresh_views()

    def action_lab_control(self) -> None:
        if self.lab is None:
            self.say("lab control needs `ecc-doctor dashboard --lab`", severity="warning")
            return
        if not self.lab_ready:
            self.say("the lab is still starting", timeout=3)
            return

        def chosen(fault: str | None) -> None:
            if fault:
                self.toggle_fault(fault)

        self.push_screen(LabScreen(self.lab.faults, self.lab.active), chosen)

    def toggle_fault(self, fault: str, active: bool | None = None) -> None:
        """Inject (or heal, if active) *fault* in a worker, then re-run the checks."""
        if self.lab is None or not self.lab_ready:
            return
        if active is None:
            active = fault not in self.lab.active
        self._toggle_fault(fault, active)

    @work(group="lab", exit_on_error=False)
    async def _toggle_fault(self, fault: str, active: bool) -> None:
        assert self.lab is not None
        try:
            if active:
                await self.lab.fault(fault)
            else:
                await self.lab.heal(fault)
        except Exception as exc:  # shown in one line; the dashboard keeps running
            msg = f"lab fault {fault}: {type(exc).__name__}: {exc}"
            self.post_message(LabFailed(msg, starting=False))
            return
        self.post_message(LabFaultChanged(fault, active))

    def on_lab_fault_changed(self, message: LabFaultChanged) -> None:
        verb = "injected" if message.active else "healed"
        self.say(f"lab fault {message.fault} {verb}; re-running checks", timeout=4)
        self.action_rerun_all()

    # ---- captures -------------------------------------------------------------------------

    def _site_path(self, path: Path) -> Path:
        """A path from the site file, relative to the site file's folder (as the checks read it)."""
        source = Path(self.config.source) if self.config is not None else None
        if path.is_absolute() or source is None or not source.is_file():
            return path
        return source.parent / path

    def _sip_options(self) -> dict[str, Any]:
        """analyze_file options from [sip] (engine, ports, passwords), as sip.register uses."""
        sip = self.config.sip if self.config is not None else None
        if sip is None:
            return {"ports": [5060, 5061]}
        options: dict[str, Any] = {"ports": list(sip.ports)}
        for name in ("engine", "max_contacts"):
            if hasattr(sip, name):
                options[name] = getattr(sip, name)
        if sip.password_file is not None:
            load_passwords = _lazy("ecc_doctor.captures.sip.digest", "load_passwords")
            options["passwords"] = load_passwords(self._site_path(sip.password_file))
        return options

    def _sip_ports(self) -> list[int]:
        sip = self.config.sip if self.config is not None else None
        return list(sip.ports) if sip is not None else [5060, 5061]

    @work(thread=True, group="capture", exit_on_error=False)
    def _read_capture(self, path: Path) -> None:
        try:
            analyze_file = _lazy("ecc_doctor.captures.sip.analyze", "analyze_file")
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
        self.sip_analysis = message.analysis
        flows = list(getattr(message.analysis, "flows", ()) or ())
        found = [x for f in flows for x in f.findings] + list(
            getattr(message.analysis, "notes", [])
        )
        problems = sum(1 for x in found if x.severity in BAD)
        findings = f"{problems} problem{'s' if problems != 1 else ''}"
        if message.live:
            self.capture_state = (
                f"live on {message.source}: {message.packets} packets, "
                f"{len(flows)} flows, {findings}"
            )
        else:
            name = Path(message.source).name
            self.capture_state = f"{name}: {len(flows)} flows, {findings}"
        self.capture_state += self.capture_note
        self._label_tab("sip", "SIP", problems)
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
            build_ladder = _lazy("ecc_doctor.captures.sip.ladder", "build_ladder")
            render_text = _lazy("ecc_doctor.captures.sip.ladder", "render_text")
        except ImportError as exc:
            self.say(f"the ladder view is not available: {exc}", severity="error")
            return
        width = max(self.size.width - 4, 40)
        try:
            ladder = build_ladder(self.sip_analysis, flow.call_id)
            lines = render_text(ladder, width)
            text = lines if isinstance(lines, str) else "\n".join(lines)
        except EccDoctorError as exc:
            self.say(exc.message, severity="error")
            return
        self.push_screen(LadderScreen(f"ladder: {flow.kind} {flow.call_id}", text))

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
            analyze_file = _lazy("ecc_doctor.captures.mgc.analyze", "analyze_file")
            from_config = _lazy("ecc_doctor.captures.mgc.params", "from_config")
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

    # ---- export ---------------------------------------------------------------------------

    def action_export(self) -> None:
        from ecc_doctor.tui.export import export_results

        results = self.history.results()
        if not results:
            self.say("nothing to export yet: no results", severity="warning")
            return
        site = self.config.site.name if self.config is not None else ""
        try:
            paths = export_results(results, self.export_dir, site=site, now=self.clock())
        except (OSError, ImportError) as exc:
            self.post_message(Exported("results", str(self.export_dir), str(exc)))
            return
        self.post_message(Exported("results", ", ".join(str(p) for p in paths)))

    def action_save_svg(self) -> None:
        stamp = self.clock().strftime("%Y%m%d-%H%M%S")
        try:
            self.export_dir.mkdir(parents=True, exist_ok=True)
            path = self.save_screenshot(f"ecc-doctor-{stamp}.svg", str(self.export_dir))
        except OSError as exc:
            self.post_message(Exported("screenshot", str(self.export_dir), str(exc)))
            return
        self.post_message(Exported("screenshot", path))

    def on_exported(self, message: Exported) -> None:
        if message.error:
            self.say(f"export failed: {message.error}", severity="error", timeout=8)
        else:
            self.say(f"saved {message.what}: {message.path}", timeout=6)
        self._signal()

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
