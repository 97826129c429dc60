"""The ladder view of one SIP dialog (text, from the SIP analyzer's ladder builder)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.screen import ModalScreen
from textual.widgets import Static


class LadderScreen(ModalScreen[None]):
    """Shows a pre-rendered ladder; scrolls both ways; esc/q/l closes."""

    DEFAULT_CSS = """
    LadderScreen { align: center middle; }
    LadderScreen > ScrollableContainer {
        width: 100%; height: 100%; border: round $primary; background: $surface;
    }
    LadderScreen Static { width: auto; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("l", "dismiss", "Close", show=False),
    ]

    def __init__(self, title: str, ladder_text: str) -> None:
        super().__init__()
        self.ladder_title = title
        self.ladder_text = ladder_text

    def compose(self) -> ComposeResult:
        with ScrollableContainer() as box:
            box.border_title = self.ladder_title
            box.border_subtitle = "esc closes"
            yield Static(Text(self.ladder_text, no_wrap=True, overflow="ignore"))
