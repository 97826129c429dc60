"""Lab control: inject and heal the lab's named faults (demos and training)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


def fault_label(name: str, active: bool) -> Text:
    text = Text()
    text.append("[✗ ACTIVE] " if active else "[✓ healed] ", "bold red" if active else "green")
    text.append(name)
    return text


class LabScreen(ModalScreen[str | None]):
    """Pick a fault; returns its name (the app toggles it) or None."""

    DEFAULT_CSS = """
    LabScreen { align: center middle; }
    LabScreen > Vertical {
        width: 60; max-width: 95%; height: auto; max-height: 90%;
        border: round $warning; background: $surface; padding: 0 1;
    }
    LabScreen OptionList { height: auto; max-height: 16; }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Close")]

    def __init__(self, faults: Sequence[str], active: Collection[str]) -> None:
        super().__init__()
        self.faults = list(faults)
        self.active = set(active)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Lab faults"
            yield Static("enter toggles: injects a healed fault, heals an active one; esc closes")
            yield OptionList(
                *(Option(fault_label(f, f in self.active), id=f) for f in self.faults),
                id="faults",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
