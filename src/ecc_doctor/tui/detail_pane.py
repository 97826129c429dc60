"""The detail pane: everything about the selected check — details, metrics, outages, evidence."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ecc_doctor.models import Evidence, Result
from ecc_doctor.tui.history import CheckHistory, clock_time, format_duration
from ecc_doctor.tui.style import latency_text, status_text, strip_text

#: Evidence lines shown per item (transcripts are bounded already; this keeps the pane light).
MAX_EVIDENCE_LINES = 400


def _evidence(ev: Evidence) -> list[RenderableType]:
    head = Text(f"── {ev.title} ({ev.kind})", style="bold")
    if ev.kind == "table":
        # Text, never str: remote screens contain "[...]" that Rich would read as markup
        table = Table(box=None, padding=(0, 1), show_edge=False, expand=False)
        for column in ev.columns:
            table.add_column(Text(column, style="bold"))
        for row in ev.rows[:MAX_EVIDENCE_LINES]:
            table.add_row(*(Text(c) for c in row))
        return [head, table]
    lines = list(ev.lines[:MAX_EVIDENCE_LINES])
    if len(ev.lines) > MAX_EVIDENCE_LINES:
        lines.append(f"… {len(ev.lines) - MAX_EVIDENCE_LINES} more lines (export JSON for all)")
    return [head, Text("\n".join(lines), no_wrap=False)]


def describe(
    h: CheckHistory | None, now: datetime, tz: tzinfo | None, title: str = ""
) -> RenderableType:
    """The pane's content for one check history (pure: used by tests and the widget)."""
    if h is None:
        return Text("No check selected.", style="dim")
    last: Result | None = h.last
    parts: list[RenderableType] = []
    head = Text()
    head.append(h.check_id, style="bold")
    shown_title = (last.title if last else "") or title
    if shown_title:
        head.append(f"  — {shown_title}")
    parts.append(head)
    if last is None:
        parts.append(Text("running…" if h.running else "not run yet", style="dim"))
        return Group(*parts)
    line = status_text(last.status, h.running)
    if h.since is not None:
        line.append(
            f"  since {clock_time(h.since, tz)} ({format_duration(now - h.since)})"
            f"  · took {latency_text(last.duration_s)}  · {h.runs} runs"
        )
    if h.running:
        started = f" since {clock_time(h.running_since, tz)}" if h.running_since else ""
        line.append(f"  · ⟳ running again{started}", "bold cyan")
    parts.append(line)
    strip = Text("history ", style="dim")
    strip.append_text(strip_text(h.strip(min(len(h.samples) + h.running, 60))))
    strip.append("  (oldest → newest)", style="dim")
    parts.append(strip)
    parts.append(Text(last.summary))
    if last.source:
        parts.append(Text(f"verifies: {last.source}", style="dim"))
    if last.details:
        parts.append(Text("\n".join(f"  {d}" for d in last.details)))
    if last.metrics:
        metrics = Table("metric", "value", box=None, padding=(0, 1), show_edge=False)
        for name, value in sorted(last.metrics.items()):
            metrics.add_row(Text(name), Text(f"{value:g}"))
        parts.append(metrics)
    if h.outages:
        parts.append(Text("── outages this session", style="bold"))
        for outage in reversed(h.outages):
            parts.append(Text("  " + outage.describe(now, tz) + f": {outage.summary}"))
    for ev in last.evidence:
        parts.extend(_evidence(ev))
    return Group(*parts)


class DetailPane(VerticalScroll):
    """A scrollable pane showing :func:`describe` of the selected check."""

    DEFAULT_CSS = """
    DetailPane { height: 1fr; border-top: solid $primary; padding: 0 1; }
    DetailPane > Static { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Text("No check selected.", style="dim"), id="detail-body")

    def show(self, content: RenderableType) -> None:
        self.query_one("#detail-body", Static).update(content)
