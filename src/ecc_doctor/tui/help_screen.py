"""The help screen: keys, what the panes show, and what the statuses mean."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ecc_doctor.models import Status
from ecc_doctor.tui.style import STATUS_STYLE

KEYS = (
    ("r", "re-run every check now (they also re-run every --interval s)"),
    ("enter", "re-run the selected check"),
    ("f", "show failing checks only (WARN/FAIL/ERROR) / show all"),
    ("/", "search checks by id, title or summary (esc clears)"),
    ("l", "ladder of the selected SIP dialog (SIP tab)"),
    ("c", "SIP tab: the next of several [sip] captures"),
    ("1-4", "Checks / Timeline / SIP / MGC tab"),
    ("x", "lab control: inject or heal a fault (--lab only)"),
    ("e", "export results as JSON and JUnit XML"),
    ("s", "save a screenshot (SVG)"),
    ("ctrl+p", "command palette (export, lab faults, theme)"),
    ("? / F1", "this help"),
    ("q", "quit (stops the lab)"),
)

MEANINGS = {
    Status.PASS: "verified as the app note requires",
    Status.WARN: "works, but deserves a look",
    Status.FAIL: "the system is wrong",
    Status.ERROR: "could not tell: unreachable, refused, timed out",
    Status.SKIP: "not configured / not applicable",
}


def help_text() -> Text:
    text = Text()
    text.append("ecc-doctor dashboard — keys\n", "bold")
    for key, what in KEYS:
        text.append(f"  {key:<8}", "bold")
        text.append(f"{what}\n")
    text.append("\nStatuses\n", "bold")
    for status, meaning in MEANINGS.items():
        text.append(f"  {status.symbol} {status.value:<6}", STATUS_STYLE[status])
        text.append(f" {meaning}\n")
    text.append("  … RUN    running for the first time\n", "cyan")
    text.append(
        "  ⟳ FAIL   running again; the last verdict (here FAIL) stays until the new one\n", "cyan"
    )
    text.append(
        "\nThe dashboard re-runs the same checks as `ecc-doctor check`; Since is when the row\n"
        "entered its status; the Timeline tab keeps outages after they recover.\n"
    )
    text.append("Press esc, q or ? to close.", "dim")
    return text


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 90; height: 90%; border: round $primary;
        background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_text())
