"""The checks table: one row per check with status, since, latency and the one-line summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from ecc_doctor.tui.fit_table import ColumnSpec, FitTable
from ecc_doctor.tui.history import CheckHistory
from ecc_doctor.tui.style import latency_text, since_text, status_text

COLUMNS: tuple[ColumnSpec, ...] = (
    ("status", "Status", 7),
    ("check", "Check", 22),
    ("since", "Since", 8),
    ("latency", "Took", 6),
    ("summary", "Summary", None),
)


class ChecksTable(FitTable):
    """Rows keyed by check id. ``enter`` asks to re-run the selected check."""

    COLUMNS = COLUMNS
    # not in the footer: at 80 columns it would push "? Help" off screen (the help lists it)
    BINDINGS = [Binding("enter", "rerun_selected", "Re-run selected", show=False)]

    @dataclass
    class RerunRequested(Message):
        """The user asked to re-run one check (by its row id)."""

        check_id: str

    def __init__(self, *, tz: tzinfo | None = None, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.tz = tz
        self._keys: list[str] = []
        self._shown: dict[str, list[Text | str]] = {}

    @property
    def selected_id(self) -> str | None:
        if not self._keys or self.cursor_row < 0 or self.cursor_row >= len(self._keys):
            return None
        return self._keys[self.cursor_row]

    def action_rerun_selected(self) -> None:
        check_id = self.selected_id
        if check_id is not None:
            self.post_message(self.RerunRequested(check_id))

    def _cells(self, h: CheckHistory) -> list[Text | str]:
        last = h.last
        summary = last.summary if last else ("running…" if h.running else "not run yet")
        # plain Text, never str: DataTable would read "[sip]" in a summary as markup
        return [
            status_text(h.status, h.running),
            Text(h.check_id),
            Text(since_text(h.since, self.tz)),
            Text(latency_text(last.duration_s if last else None)),
            Text(summary),
        ]

    def show(self, rows: Sequence[CheckHistory]) -> None:
        """Show exactly *rows* (in order), updating only changed cells when the rows are the same."""
        keys = [h.check_id for h in rows]
        if keys == self._keys:
            try:
                for h in rows:
                    cells = self._cells(h)
                    before = self._shown.get(h.check_id, [])
                    for i, ((col, _, _), value) in enumerate(zip(COLUMNS, cells, strict=True)):
                        if i >= len(before) or before[i] != value:
                            self.update_cell(h.check_id, col, value)
                    self._shown[h.check_id] = cells
                return
            except (CellDoesNotExist, RowDoesNotExist):
                pass
        selected = self.selected_id
        self.clear()
        self._keys = keys
        self._shown = {}
        for h in rows:
            cells = self._cells(h)
            self._shown[h.check_id] = cells
            self.add_row(*cells, key=h.check_id)
        if selected in keys:
            self.move_cursor(row=keys.index(selected), animate=False)
