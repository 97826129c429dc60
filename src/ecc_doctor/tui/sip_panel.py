"""The SIP panel: flows and findings of a capture file or of the live capture."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from ecc_doctor.captures.flows import Flow
from ecc_doctor.models import Finding
from ecc_doctor.tui.fit_table import FitTable
from ecc_doctor.tui.history import BAD
from ecc_doctor.tui.style import STATUS_STYLE, status_text


def finding_text(f: Finding) -> Text:
    text = Text()
    text.append(f"{f.severity.symbol} {f.severity.value} ", STATUS_STYLE[f.severity])
    text.append(f.rule, "bold")
    if f.frames:
        shown = ", ".join(str(n) for n in f.frames[:8])
        more = f" +{len(f.frames) - 8}" if len(f.frames) > 8 else ""
        text.append(f" (frames {shown}{more})")
    text.append(f": {f.message}")
    if f.reference:
        text.append(f" [{f.reference}]", "dim")
    return text


def flow_findings(flow: Flow | None, extra: Sequence[Finding] = ()) -> RenderableType:
    """Findings of the selected flow, then capture-wide ones (pure)."""
    parts: list[RenderableType] = []
    if flow is not None:
        head = Text()
        head.append(f"{flow.kind} {flow.key}", "bold")
        if flow.call_id and flow.call_id not in flow.key:
            head.append(f"  Call-ID {flow.call_id}")
        parts.append(head)
        parts.append(Text(flow.summary))
        if not flow.findings:
            parts.append(Text("  no findings", style="dim"))
        parts.extend(Text("  ").append_text(finding_text(f)) for f in flow.findings)
        if flow.call_id:
            parts.append(Text("  l: ladder of this dialog", style="dim"))
    if extra:
        parts.append(Text("capture", style="bold"))
        parts.extend(Text("  ").append_text(finding_text(f)) for f in extra)
    if not parts:
        parts.append(Text("No flow selected.", style="dim"))
    return Group(*parts)


def row_summary(flow: Flow) -> str:
    """A flow's one-line summary; a failing INVITE dialog's starts with its worst finding
    (as a REGISTER row names its problem), then the dialog's course."""
    bad = [f for f in flow.findings if f.severity == flow.status and f.severity in BAD]
    if flow.kind != "invite" or not bad or bad[0].message in flow.summary:
        return flow.summary
    return f"{bad[0].message}; {flow.summary}"


def capture_findings(analysis: Any) -> list[Finding]:
    """Capture-wide findings of a SipAnalysis (its ``notes``)."""
    found = getattr(analysis, "notes", None) or ()
    return [f for f in found if isinstance(f, Finding)]


class FlowsTable(FitTable):
    """One row per analyzed flow (REGISTER or INVITE dialog)."""

    COLUMNS = (
        ("status", "Status", 7),
        ("kind", "Kind", 8),
        ("flow", "Flow", 28),
        ("summary", "Summary", None),
    )


class SipPanel(Vertical):
    """Status line, flows table (rows keyed by index) and the selected flow's findings."""

    DEFAULT_CSS = """
    SipPanel #sip-status { height: auto; max-height: 3; padding: 0 1; }
    SipPanel #sip-flows { height: 1fr; min-height: 4; }
    SipPanel #sip-findings { height: 1fr; border-top: solid $primary; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.flows: list[Flow] = []
        self.analysis: Any = None
        self.findings_content: RenderableType = Text("")

    def compose(self) -> ComposeResult:
        yield Static(
            Text("No capture: start with --capture FILE or --iface IF.", style="dim"),
            id="sip-status",
        )
        yield FlowsTable(id="sip-flows", cursor_type="row")
        with VerticalScroll(id="sip-findings"):
            yield Static(id="sip-findings-body")

    def set_status(self, text: Text | str) -> None:
        self.query_one("#sip-status", Static).update(text)

    @property
    def selected(self) -> Flow | None:
        table = self.query_one("#sip-flows", DataTable)
        row = table.cursor_row
        if 0 <= row < len(self.flows):
            return self.flows[row]
        return None

    def show_analysis(self, analysis: Any) -> None:
        """Show the flows of *analysis* (keeps the selected row when it is still there)."""
        table = self.query_one("#sip-flows", DataTable)
        before = self.selected
        self.analysis = analysis
        self.flows = list(getattr(analysis, "flows", ()) or ())
        table.clear()
        for i, flow in enumerate(self.flows):
            table.add_row(  # Text, never str: a Call-ID "[...]" is not markup
                status_text(flow.status),
                Text(flow.kind),
                Text(flow.key),
                Text(row_summary(flow)),
                key=str(i),
            )
        if before is not None:
            for i, flow in enumerate(self.flows):
                if (flow.kind, flow.key) == (before.kind, before.key):
                    table.move_cursor(row=i, animate=False)
                    break
        self._show_findings()

    def _show_findings(self) -> None:
        self.findings_content = flow_findings(self.selected, capture_findings(self.analysis))
        self.query_one("#sip-findings-body", Static).update(self.findings_content)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_findings()
