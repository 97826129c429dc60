"""The dashboard's state and how it is drawn: the base every part of the dashboard app shares.

:class:`DashboardBase` holds what the checks table, header, detail pane and timeline show (the
session history, the filters, the run counters, the capture state) and redraws those widgets
from it. The dashboard's other parts (check runs, captures, lab control, export, search) are
mixins on top of it, and :class:`ecc_doctor.tui.app.DashboardApp` composes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import App
from textual.css.query import NoMatches
from textual.widgets import DataTable, Static, TabbedContent

from ecc_doctor.checks import CheckSpec
from ecc_doctor.config import SiteConfig
from ecc_doctor.models import Result
from ecc_doctor.tui import detail_pane, timeline_panel
from ecc_doctor.tui.checks_table import ChecksTable
from ecc_doctor.tui.detail_pane import DetailPane
from ecc_doctor.tui.header_bar import HeaderBar
from ecc_doctor.tui.history import BAD, CheckHistory, SessionHistory, clock_time

if TYPE_CHECKING:
    from ecc_doctor.lab import Lab

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DashboardBase(App[None]):
    """The dashboard's state, its redraw and the waits tests use (no keys, no workers)."""

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
        note: str = "",
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
        #: the lab's start failed (the header says why); keys stop saying "still starting"
        self.lab_failed = False
        self.interval = interval
        self.capture = capture
        self.iface = iface
        self.export_dir = export_dir
        self.clock = clock
        self.tz = tz if tz is not None else datetime.now().astimezone().tzinfo
        self.run_on_start = run_on_start
        #: shown in the header after the counts (e.g. "capture only"), never dropped
        self.note = note
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
        #: the MGC tab's / SIP tab's capture file and its signature when last read
        self._mgc_read: tuple[Path, tuple[int, int, int] | None] | None = None
        self._sip_read: tuple[Path, tuple[int, int, int] | None] | None = None
        #: which of the SIP tab's capture files it shows (``c`` shows the next)
        self.sip_index = 0
        self._changed = asyncio.Event()
        self._mounted_views = False
        #: the first exception raised inside the app (a bug of ours, not a check's ERROR):
        #: the app exits and ``ecc-doctor dashboard`` reports it as an internal error
        self.crash: Exception | None = None
        for at, result in recorded:
            self.history.record(result, at)
            self.last_run_at = at if self.last_run_at is None else max(self.last_run_at, at)

    def _handle_exception(self, error: Exception) -> None:
        """An exception inside the app: exit as Textual does, but without Textual's traceback
        (printed with the frames' local variables, which can hold secrets) on the terminal.
        The CLI re-raises :attr:`crash` after the terminal is restored, so the user gets the
        one-line internal error (exit 3), and the traceback, redacted, only with --debug."""
        if self.crash is None:
            self.crash = error
        shown = len(self._exit_renderables)
        super()._handle_exception(error)  # exits; run_test re-raises it for tests
        del self._exit_renderables[shown:]

    def say(
        self, message: str, *, severity: Any = "information", timeout: float | None = None
    ) -> None:
        """A notification shown as plain text (messages may hold "[sip]" and the like)."""
        self.notify(message, severity=severity, timeout=timeout, markup=False)

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

    def say_lab_not_ready(self) -> None:
        """Why lab keys do nothing yet: the lab is starting, or its start failed."""
        if self.lab_failed:
            self.say("the lab did not start (see header)", severity="warning", timeout=5)
        else:
            self.say("the lab is still starting", timeout=3)

    def _rows_of(self, spec_id: str) -> list[str]:
        return self.owned.get(spec_id) or [spec_id]

    def _site_path(self, path: Path) -> Path:
        """A path from the site file, relative to the site file's folder (as the checks read it)."""
        source = Path(self.config.source) if self.config is not None else None
        if path.is_absolute() or source is None or not source.is_file():
            return path
        return source.parent / path

    # ---- views ----------------------------------------------------------------------------

    def row_order(self) -> list[str]:
        """Every check row's id in registry order (unfiltered)."""
        order: list[str] = []
        for spec in self.specs:
            order += [c for c in self._rows_of(spec.id) if c not in order]
        order += [c for c in self.history.checks if c not in order]
        return order

    def visible_rows(self) -> list[CheckHistory]:
        """The table's rows: registry order, filtered by 'failing only' and the search text."""
        rows = [self.history.checks[c] for c in self.row_order() if c in self.history.checks]
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
        title = self._title_of(h.check_id)
        if title:
            parts.append(title)
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
            rows = self.visible_rows()
            table.show(rows)
            self._show_no_match(not rows)
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

    def no_match_text(self) -> str:
        """Why the table is empty when the filters hide every row ("" when they do not)."""
        needle = self.search_text.strip()
        if needle and self.failing_only:
            return f"no failing check matches {needle!r} — esc clears the search, f shows all"
        if needle:
            return f"no check matches {needle!r} — esc clears"
        if self.failing_only:
            return "no check is WARN, FAIL or ERROR — f shows all"
        return ""

    def _show_no_match(self, empty: bool) -> None:
        note = self.query_one("#no-match", Static)
        text = self.no_match_text() if empty else ""
        note.update(Text(text))
        note.set_class(bool(text), "shown")

    def _show_header(self) -> None:
        if self.config is not None:
            site, is_lab = self.config.site.name, self.config.is_lab
        else:
            site, is_lab = "ecc-doctor lab", self.lab is not None
        filters = [self.note] if self.note else []  # kept when the state is dropped
        if self.failing_only:
            filters.append("failing only")
        if self.search_text:
            filters.append(f"/{self.search_text}")
        ran = clock_time(self.last_run_at, self.tz) if self.last_run_at is not None else ""
        every = f"{self.interval:g} s" if self.interval > 0 else ""
        running = sum(1 for h in self.history.checks.values() if h.running)
        ongoing = sum(1 for h in self.history.checks.values() if h.open_outage is not None)
        self._label_tab("timeline", "Timeline", ongoing)
        self.query_one(HeaderBar).show(
            site, is_lab, self.history.counts(), running, self.state, ", ".join(filters), ran, every
        )

    def _label_tab(self, tab: str, name: str, problems: int, symbol: str = "✗") -> None:
        """``Timeline ✗2``: the tab's name and how many problems it holds (when any), with
        the symbol of the worst one's status (``SIP !7`` when all seven are WARN)."""
        label = f"{name} {symbol}{problems}" if problems else name
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
