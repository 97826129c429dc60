"""A DataTable whose last column takes the rest of the width (no horizontal scrolling)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

#: (key, label, width); width None marks the flexible column.
ColumnSpec = tuple[str, str, int | None]


class FitTable(DataTable[Text | str]):
    """Fixed-width columns plus one flexible column sized to what is left."""

    DEFAULT_CSS = """
    FitTable { overflow-x: hidden; }
    """

    COLUMNS: Sequence[ColumnSpec] = ()

    def on_mount(self) -> None:
        for key, label, width in self.COLUMNS:
            self.add_column(label, key=key, width=width or 20)
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        cols = self.COLUMNS
        fixed = sum(w for _, _, w in cols if w) + 2 * self.cell_padding * len(cols)
        width = max(self.scrollable_content_region.width - fixed, 12)
        for key, _, w in cols:
            if w is not None:
                continue
            column = self.columns.get(ColumnKey(key))
            if column is None or column.width == width:
                return
            column.width = width
            column.auto_width = False
            # DataTable has no public API to resize a column: ask it to re-measure
            self._require_update_dimensions = True
            self.refresh()
