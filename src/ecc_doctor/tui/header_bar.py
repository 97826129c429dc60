"""The one-line header: site name, lab or real, counts per status, run state."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static

from ecc_doctor.models import Status
from ecc_doctor.tui.style import ORDER, STATUS_STYLE


def header_text(
    site: str,
    is_lab: bool,
    counts: Mapping[Status, int],
    running: int,
    state: str = "",
    width: int = 0,
    filters: str = "",
) -> Text:
    """``ecc-doctor · site · LAB │ ✗ 1 FAIL  ✓ 3 PASS │ 2 running │ state``.

    Zero counts are left out. With a *width*, the site name is shortened first and the state
    dropped next, so the counts always stay visible.
    """
    tail = Text()
    tail.append(" │ ")
    shown = [s for s in ORDER if counts.get(s)]
    if not shown:
        tail.append("no results yet", "dim")
    for i, status in enumerate(shown):
        if i:
            tail.append("  ")
        tail.append(f"{status.symbol} {counts[status]} {status.value}", STATUS_STYLE[status])
    if running:
        tail.append(f" │ {running} running", "cyan")
    if filters:
        tail.append(f" │ {filters}", "bold yellow")
    mode = "LAB" if is_lab else "REAL"
    state_part = f" │ {state}" if state else ""
    if width:
        head = len("ecc-doctor · ") + len(" · ") + len(mode) + tail.cell_len
        room = width - head - len(state_part)
        if room < min(len(site), 12) and state_part:
            state_part = ""
            room = width - head
        if len(site) > room:
            site = site[: max(room, 4) - 1] + "…"
    if state_part:
        tail.append(state_part, "dim")
    text = Text()
    text.append("ecc-doctor", "bold")
    text.append(f" · {site} · ")
    text.append(mode, "bold reverse" if is_lab else "bold")
    text.append_text(tail)
    return text


class HeaderBar(Static):
    """Re-renders :func:`header_text` for its own width."""

    DEFAULT_CSS = """
    HeaderBar { dock: top; height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._args: tuple[str, bool, Mapping[Status, int], int, str] | None = None
        self._filters = ""

    def show(
        self,
        site: str,
        is_lab: bool,
        counts: Mapping[Status, int],
        running: int,
        state: str,
        filters: str = "",
    ) -> None:
        self._args = (site, is_lab, counts, running, state)
        self._filters = filters
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        if self._args is not None:
            width = self.content_region.width
            self.update(header_text(*self._args, width=width, filters=self._filters))
