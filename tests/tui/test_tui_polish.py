"""QA-3 dashboard polish, driven with Textual's Pilot over recorded results (no network):
the header keeps the freshness at 80x24, a search that matches nothing says so, and the
Timeline tab's strips share one time axis."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest
from rich.console import Console
from rich.text import Text
from tests.conftest import load_module
from textual.widgets import Static

from ecc_doctor.tui.app import DashboardApp
from ecc_doctor.tui.checks_table import ChecksTable
from ecc_doctor.tui.header_bar import HeaderBar
from ecc_doctor.tui.history import clock_time
from ecc_doctor.tui.timeline_panel import TimelinePanel

pytestmark = pytest.mark.anyio

HERE = Path(__file__).resolve().parent


def _snapshot_app_module() -> ModuleType:
    return load_module(HERE / "snapshot_app.py", "tui_polish_snapshot_app")


snapshot_app = _snapshot_app_module()


def recorded_app(
    site: str = "Plant A — Frankfurt main campus", interval: float = 30
) -> DashboardApp:
    """The recorded session (17 runs, 10:40:05-10:48:05, every status) under a long site
    name, re-running every 30 s: the longest header a real site shows."""
    _, specs, seen = snapshot_app.recorded()
    config = snapshot_app.from_mapping({"site": {"name": site}}, source="<recorded>", is_lab=True)
    return snapshot_app.DashboardApp(
        config,
        specs=specs,
        interval=interval,
        run_on_start=False,
        recorded=seen,
        clock=lambda: snapshot_app.NOW,
        tz=snapshot_app.UTC,
    )


def header_line(app: DashboardApp) -> str:
    header = app.query_one(HeaderBar)
    content = header.content
    assert isinstance(content, Text)
    assert content.cell_len <= header.content_region.width, content.plain
    return content.plain


async def test_header_keeps_the_freshness_at_80x24() -> None:
    app = recorded_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.last_run_at is not None
        ran = clock_time(app.last_run_at, app.tz)[:5]  # HH:MM
        line = header_line(app)
        assert f"ran {ran}" in line, line
        for part in ("E 1", "✗ 1", "! 1", "✓ 12", "LAB"):
            assert part in line, line
        # more in the header: failing only, a search, checks running: still there
        await pilot.press("f", "slash", *"cti")
        app.history.mark_running("cm.cti-link")
        app.history.mark_running("net.reachability")
        app.refresh_views()
        await pilot.pause()
        line = header_line(app)
        assert f"ran {ran}" in line, line
        assert "2 running" in line and "failing only" in line and "/cti" in line, line
    # with room the whole of it shows: the site, the status words, the interval
    app = recorded_app()
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        line = header_line(app)
        assert "Plant A — Frankfurt main campus" in line
        assert "✗ 1 FAIL" in line
        assert f"ran {clock_time(app.last_run_at, app.tz)}, every 30 s" in line, line


async def test_a_search_that_matches_nothing_says_so_and_esc_clears_it() -> None:
    app = recorded_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        note = app.query_one("#no-match", Static)
        assert not note.display
        await pilot.press("slash", *"xyz")
        await pilot.pause()
        assert app.query_one(ChecksTable).row_count == 0
        assert note.display
        assert str(note.content) == "no check matches 'xyz' — esc clears"
        await pilot.press("escape")
        await pilot.pause()
        assert not note.display
        assert app.query_one(ChecksTable).row_count == len(app.visible_rows()) > 0
        # failing only plus a search that matches only healthy checks
        await pilot.press("f", "slash", *"ucid")
        await pilot.pause()
        assert note.display
        assert "no failing check matches 'ucid'" in str(note.content)
        assert "f shows all" in str(note.content)
        # a search that matches something: no note
        await pilot.press("escape", "f", "slash", *"cti")
        await pilot.pause()
        assert app.query_one(ChecksTable).row_count > 0
        assert not note.display


def timeline_text(panel: TimelinePanel, width: int) -> list[str]:
    assert panel.content is not None
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(panel.content(width))
    return console.export_text().splitlines()


async def test_timeline_strips_share_one_time_axis_at_80_columns() -> None:
    app = recorded_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        panel = app.query_one(TimelinePanel)
        width = panel.scrollable_content_region.width
        lines = timeline_text(panel, width)
        labels, ticks = lines[1], lines[2]
        strips = {line.split()[0]: line for line in lines[3 : 3 + len(app.history.checks)]}
        assert set(strips) == set(app.history.checks)
        start = min(h.samples[0].at for h in app.history.checks.values())
        end = snapshot_app.NOW
        # start and end clock times, and at least one tick between them
        assert labels.split()[0] == clock_time(start, app.tz)
        assert labels.split()[-1] == clock_time(end, app.tz)
        assert len(labels.split()) >= 3
        first = ticks.index("┬")
        last = ticks.rindex("┬")
        assert ticks.count("┬") >= 3
        assert labels.index(clock_time(start, app.tz)) == first  # the start sits on its tick
        assert (
            labels.rstrip().endswith(clock_time(end, app.tz)) and len(labels.rstrip()) == last + 1
        )
        # every strip spans exactly the axis, so columns are the same time in every strip
        for check_id, line in strips.items():
            assert len(line.rstrip()) == last + 1, check_id
        # the ECC outage of the session (10:42:05-10:44:35: three checks went ERROR in the
        # same runs) lines up in the three strips, and not in a check that stayed up
        ecc = [strips[c][first : last + 1] for c in ("ecc.api", "ecc.event-roundtrip")]
        assert "E" in ecc[0] and ecc[0] == ecc[1]
        assert "E" not in strips["cm.license"]
        # and the columns are on the time axis: the outage starts at its time's column
        outage = next(o for o in app.history.outages() if o.check_id == "ecc.api")
        span = (end - start).total_seconds()
        sample_at = min(
            s.at for s in app.history.checks["ecc.api"].samples if s.status.symbol == "E"
        )
        col = round((sample_at - start).total_seconds() / span * (last - first))
        assert ecc[0][col] == "E" and ecc[0][col - 1] != "E", (ecc[0], col, outage)
        assert sample_at - start > timedelta(0)
