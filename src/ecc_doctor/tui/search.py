"""Filter and search of the checks table: failing only (f), the search box (/, esc)."""

from __future__ import annotations

from textual import on
from textual.widgets import Input

from ecc_doctor.tui.base import DashboardBase
from ecc_doctor.tui.checks_table import ChecksTable


class SearchAndFilter(DashboardBase):
    """The 'failing only' toggle and the search box's keys."""

    def action_toggle_failing(self) -> None:
        self.failing_only = not self.failing_only
        self.refresh_views()

    def action_search(self) -> None:
        self.action_tab("checks")
        search = self.query_one("#search", Input)
        search.add_class("shown")
        search.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search_text = event.value
        self.refresh_views()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        search = self.query_one("#search", Input)
        if not search.value:
            search.remove_class("shown")
        self.query_one(ChecksTable).focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#search", Input)
        if search.has_class("shown") or self.search_text:
            search.value = ""
            search.remove_class("shown")
            self.search_text = ""
            self.query_one(ChecksTable).focus()
            self.refresh_views()
