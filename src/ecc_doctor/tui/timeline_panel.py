"""The outage timeline: a strip per check, outages (kept after recovery), status changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ecc_doctor.tui.history import RUNNING_MARK, SessionHistory, clock_time, time_strip
from ecc_doctor.tui.style import STATUS_STYLE, strip_text

MAX_CHANGES = 30
#: outages listed (ongoing first, then the latest); the rest are counted in one line, so a
#: flapping network does not push the strips and the status changes off the screen
MAX_OUTAGES = 8


#: columns between two ticks of the time axis at least (a label is 8 wide: HH:MM:SS)
TICK_EVERY = 16


def time_axis(start: datetime, end: datetime, tz: tzinfo | None, width: int) -> tuple[str, str]:
    """The time axis over *width* columns from *start* to *end* (as
    :func:`~ecc_doctor.tui.history.column_of` lays out the strips): a line of clock times and a line of ticks under them, ``┬`` where each
    time is (the first time starts at its tick, the last ends at it, the others are centred
    on theirs). Both ends are labelled, and there is a tick every :data:`TICK_EVERY` columns
    or so.

    >>> from datetime import UTC, timedelta
    >>> t0 = datetime(2026, 1, 1, 10, 40, 5, tzinfo=UTC)
    >>> labels, ticks = time_axis(t0, t0 + timedelta(minutes=8), UTC, 33)
    >>> print(labels); print(ticks)
    10:40:05    10:44:05     10:48:05
    ┬───────────────┬───────────────┬
    """
    if width < 2:
        return "", ""
    steps = max(1, min(width // TICK_EVERY, 6))
    cols = sorted({round(i * (width - 1) / steps) for i in range(steps + 1)})
    span = end - start
    labels = [" "] * width
    ticks = ["─"] * width
    free = 0  # the first column a label may use
    for n, col in enumerate(cols):
        label = clock_time(start + span * (col / (width - 1)), tz)
        if n == 0:
            left = 0
        elif n == len(cols) - 1:
            left = width - len(label)
        else:
            left = col - len(label) // 2
        if left < free or left + len(label) > width:
            continue  # no room for this one's time: the tick stays
        labels[left : left + len(label)] = label
        free = left + len(label) + 1
        ticks[col] = "┬"
    return "".join(labels).rstrip(), "".join(ticks)


def describe(history: SessionHistory, now: datetime, tz: tzinfo | None, width: int) -> Group:
    """The panel's content (pure: used by tests and the widget): a strip per check first
    (one line each, on one time axis for all), then the latest outages, then the status
    changes."""
    name_w = max([len(c) for c in history.checks] + [10])
    name_w = min(name_w, 28, max(width // 3, 10))
    strip_w = max(width - name_w - 4, 5)
    pad = " " * (name_w + 3)
    parts: list[RenderableType] = [
        Text(f"Timeline: each check's status over time ({RUNNING_MARK} running)", style="bold")
    ]
    start, newest = history.seen_between()
    end = max(now, newest) if newest is not None else now
    if start is None:
        parts.append(Text(f"{pad}no results yet", style="dim"))
    else:
        labels, ticks = time_axis(start, end, tz, strip_w)
        parts.append(Text(pad + labels, style="dim", no_wrap=True))
        parts.append(Text(pad + ticks, style="dim", no_wrap=True))
    for check_id, h in history.checks.items():
        line = Text(f"  {check_id[:name_w]:<{name_w}} ", no_wrap=True)
        marks = h.strip(strip_w) if start is None else time_strip(h, start, end, strip_w)
        line.append_text(strip_text(marks))
        parts.append(line)
    parts.append(Text("Outages (ongoing first, then latest)", style="bold"))
    outages = history.outages()
    if not outages:
        parts.append(Text("  none this session", style="dim"))
    for outage in outages[:MAX_OUTAGES]:
        line = Text("  ", no_wrap=True, overflow="ellipsis")
        line.append(outage.describe(now, tz), STATUS_STYLE[outage.worst])
        line.append(f": {outage.summary}")
        parts.append(line)
    hidden = outages[MAX_OUTAGES:]
    if hidden:
        ongoing = sum(1 for o in hidden if o.ongoing)
        plural = "" if len(hidden) == 1 else "s"
        if ongoing:
            more = (
                f"  … {len(hidden)} more outage{plural} ({ongoing} ongoing: see the strips above)"
            )
        else:
            more = f"  … {len(hidden)} older outage{plural} (each check's are in its detail pane)"
        parts.append(Text(more, style="dim", no_wrap=True, overflow="ellipsis"))
    parts.append(Text("Status changes (newest first)", style="bold"))
    changes = history.changes()[:MAX_CHANGES]
    if not changes:
        parts.append(Text("  none yet", style="dim"))
    for change in changes:
        old = change.old.value if change.old else "--"
        line = Text(
            f"  {clock_time(change.at, tz)} {change.check_id} {old} → ",
            no_wrap=True,
            overflow="ellipsis",
        )
        line.append(change.new.value, STATUS_STYLE[change.new])
        line.append(f": {change.summary}")
        parts.append(line)
    return Group(*parts)


class TimelinePanel(VerticalScroll):
    """Shows the timeline of a :class:`SessionHistory`, re-laid out when resized."""

    DEFAULT_CSS = """
    TimelinePanel { height: 1fr; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.content: Callable[[int], RenderableType] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-body")

    def show(self, content: Callable[[int], RenderableType]) -> None:
        """*content(width)* builds what to show for a given width."""
        self.content = content
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        if self.content is not None:
            width = max(self.scrollable_content_region.width, 40)
            self.query_one("#timeline-body", Static).update(self.content(width))
