"""The one-line header: site name, lab or real, counts per status, run state, freshness."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from rich.text import Text
from textual.widgets import Static

from ecc_doctor.models import Status
from ecc_doctor.tui.style import ORDER, STATUS_STYLE

BRAND = "ecc-doctor · "


@dataclass(frozen=True)
class _Layout:
    """How much of each part of the header to show (see :data:`_SHRINK`)."""

    brand: bool = True
    site_max: int = 0  # 0: the whole site name
    long_counts: bool = True
    seconds: bool = True
    every: bool = True
    filters_max: int = 0  # 0: the whole filter text
    state_max: int = 0  # 0: the whole state


#: What goes first when the header does not fit, one step after another: the freshness
#: ("ran HH:MM", how old the verdicts are) and the counts never go, whatever the width.
_SHRINK = (
    {"every": False},
    {"brand": False},
    {"site_max": 12},
    {"long_counts": False},
    {"seconds": False},
    {"site_max": 4},
)


def _cut(text: str, limit: int) -> str:
    return text if not limit or len(text) <= limit else text[: max(limit, 2) - 1] + "…"


def _render(
    layout: _Layout,
    site: str,
    is_lab: bool,
    counts: Mapping[Status, int],
    running: int,
    state: str,
    filters: str,
    ran: str,
    every: str,
) -> Text:
    text = Text(no_wrap=True, overflow="crop")
    if layout.brand:
        text.append("ecc-doctor", "bold")
        text.append(" · ")
    text.append(f"{_cut(site, layout.site_max)} · ")
    text.append("LAB" if is_lab else "REAL", "bold reverse" if is_lab else "bold")
    text.append(" │ ")
    shown = [s for s in ORDER if counts.get(s)]
    if not shown:
        text.append("no results yet", "dim")
    for i, status in enumerate(shown):
        if i:
            text.append("  " if layout.long_counts else " ")
        label = f" {status.value}" if layout.long_counts else ""
        text.append(f"{status.symbol} {counts[status]}{label}", STATUS_STYLE[status])
    if running:
        text.append(f" │ {running} running", "cyan")
    if filters:
        text.append(f" │ {_cut(filters, layout.filters_max)}", "bold yellow")
    if state:
        text.append(f" │ {_cut(state, layout.state_max)}", "dim")
    elif ran:
        fresh = "ran " + (ran if layout.seconds else ran[:5])
        if every and layout.every:
            fresh += f", every {every}"
        text.append(f" │ {fresh}")
    return text


def header_text(
    site: str,
    is_lab: bool,
    counts: Mapping[Status, int],
    running: int,
    state: str = "",
    width: int = 0,
    filters: str = "",
    ran: str = "",
    every: str = "",
) -> Text:
    """``ecc-doctor · site · LAB │ ✗ 1 FAIL  ✓ 3 PASS │ 2 running │ filters │ ran 10:48:20``.

    *state* (the lab starting or failing) stands where the freshness *ran* (``HH:MM:SS`` of
    the last finished run) and *every* (``30 s``) go otherwise. Zero counts are left out.
    With a *width*, the parts go in the order of :data:`_SHRINK`, then the filters and the
    state are cut short: the counts and the freshness (``ran HH:MM``) always stay visible.
    """
    args = (site, is_lab, counts, running, state, filters, ran, every)
    layout = _Layout()
    text = _render(layout, *args)
    if not width:
        return text
    for step in _SHRINK:
        if text.cell_len <= width:
            return text
        layout = replace(layout, **step)
        text = _render(layout, *args)
    for part, value in (("filters_max", filters), ("state_max", state)):
        over = text.cell_len - width
        if over > 0 and value:
            layout = replace(layout, **{part: max(len(value) - over, 2)})  # type: ignore[arg-type]
            text = _render(layout, *args)
    return text


class HeaderBar(Static):
    """Re-renders :func:`header_text` for its own width."""

    DEFAULT_CSS = """
    HeaderBar { dock: top; height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._args: tuple[str, bool, Mapping[Status, int], int, str] | None = None
        self._more = ("", "", "")

    def show(
        self,
        site: str,
        is_lab: bool,
        counts: Mapping[Status, int],
        running: int,
        state: str,
        filters: str = "",
        ran: str = "",
        every: str = "",
    ) -> None:
        self._args = (site, is_lab, counts, running, state)
        self._more = (filters, ran, every)
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        if self._args is not None:
            width = self.content_region.width
            filters, ran, every = self._more
            self.update(
                header_text(*self._args, width=width, filters=filters, ran=ran, every=every)
            )
