"""How statuses look in the dashboard: colour AND symbol, so it reads without colour too."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.text import Text

from ecc_doctor.models import Status
from ecc_doctor.tui.history import RUNNING_MARK, clock_time

STATUS_STYLE: dict[Status, str] = {
    Status.PASS: "bold green",
    Status.SKIP: "dim",
    Status.WARN: "bold yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "bold magenta",
}
RUNNING_STYLE = "bold cyan"
#: Display order of statuses in counts (worst first).
ORDER = (Status.ERROR, Status.FAIL, Status.WARN, Status.PASS, Status.SKIP)


#: In place of the status symbol while a check with a verdict runs again.
RERUN_MARK = "⟳"


def status_text(status: Status | None, running: bool = False) -> Text:
    """``✗ FAIL`` in red; ``⟳ FAIL`` (still red) while it runs again, so a hung check's last
    verdict stays visible; ``… RUN`` on its first run; ``· --`` before the first result."""
    if status is None:
        return Text("… RUN", style=RUNNING_STYLE) if running else Text("· --", style="dim")
    if running:
        text = Text(RERUN_MARK, style=RUNNING_STYLE)
        text.append(f" {status.value}", STATUS_STYLE[status])
        return text
    return Text(f"{status.symbol} {status.value}", style=STATUS_STYLE[status])


def latency_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 100:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s"


def since_text(since: datetime | None, tz: tzinfo | None) -> str:
    return clock_time(since, tz) if since else ""


def counts_text(counts: dict[Status, int]) -> Text:
    """``E 1  ✗ 2  ! 0  ✓ 5  - 1`` with each part in its colour."""
    text = Text()
    for i, status in enumerate(ORDER):
        if i:
            text.append("  ")
        text.append(f"{status.symbol} {counts.get(status, 0)} {status.value}", STATUS_STYLE[status])
    return text


_BY_SYMBOL = {s.symbol: STATUS_STYLE[s] for s in Status}


def strip_text(marks: str) -> Text:
    """A timeline strip (``✓✓✗E…``) with each mark in its status colour."""
    text = Text()
    for mark in marks:
        style = _BY_SYMBOL.get(mark, RUNNING_STYLE if mark == RUNNING_MARK else "dim")
        text.append(mark, style)
    return text
