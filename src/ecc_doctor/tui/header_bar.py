"""The one-line header: site name, lab or real, counts per status, run state."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static

from ecc_doctor.models import Status
from ecc_doctor.tui.style import ORDER, STATUS_STYLE


def header_text(
    site: str, is_lab: bool, counts: Mapping[Status, int], running: int, state: str = ""
) -> Text:
    """``ecc-doctor · site · LAB │ ✗ 1 FAIL  ✓ 3 PASS │ 2 running`` (zero counts left out)."""
    text = Text()
    text.append("ecc-doctor", "bold")
    text.append(f" · {site} · ")
    text.append("LAB" if is_lab else "REAL", "bold reverse" if is_lab else "bold")
    text.append(" │ ")
    shown = [s for s in ORDER if counts.get(s)]
    if not shown:
        text.append("no results yet", "dim")
    for i, status in enumerate(shown):
        if i:
            text.append("  ")
        text.append(f"{status.symbol} {counts[status]} {status.value}", STATUS_STYLE[status])
    if running:
        text.append(f" │ {running} running", "cyan")
    if state:
        text.append(f" │ {state}", "dim")
    return text


class HeaderBar(Static):
    DEFAULT_CSS = """
    HeaderBar { dock: top; height: 1; background: $panel; padding: 0 1; }
    """
