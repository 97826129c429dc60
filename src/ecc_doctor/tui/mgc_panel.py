"""The MGC panel: the expected H.248 failover timeline and, with a capture, the measured one."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

NO_MGC = "No [mgc] section in the site file: nothing to show (see `ecc-doctor init`)."


class MgcPanel(VerticalScroll):
    DEFAULT_CSS = """
    MgcPanel { height: 1fr; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Text(NO_MGC, style="dim"), id="mgc-body")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.content: RenderableType = Text(NO_MGC, style="dim")

    def show(self, content: RenderableType) -> None:
        self.content = content
        self.query_one("#mgc-body", Static).update(content)
