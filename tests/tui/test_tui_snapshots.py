"""Snapshot tests of the dashboard's looks, from recorded results (tests/tui/snapshot_app.py).

Update only after looking at the report: `make test-snapshot-update` (pytest
--snapshot-update tests/tui/test_tui_snapshots.py) and check snapshot_report.html.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from tests.conftest import load_module

from ecc_doctor.tui.app import DashboardApp

HERE = Path(__file__).resolve().parent


def _snapshot_app_module() -> ModuleType:
    return load_module(HERE / "snapshot_app.py", "tui_snapshot_app")


snapshot_app = _snapshot_app_module()
build_app = snapshot_app.build_app


async def select_check(pilot: Any, check_id: str) -> None:
    app: DashboardApp = pilot.app
    for _ in range([h.check_id for h in app.visible_rows()].index(check_id)):
        await pilot.press("down")
    await pilot.pause()


def test_main_screen_80x24(snap_compare: Any) -> None:
    assert snap_compare(build_app(), terminal_size=(80, 24))


def test_main_screen_120x40(snap_compare: Any) -> None:
    assert snap_compare(build_app(), terminal_size=(120, 40))


def test_detail_pane_of_a_failing_check(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await select_check(pilot, "cm.cti-link")

    assert snap_compare(build_app(), terminal_size=(120, 40), run_before=run_before)


def test_failing_only_filter(snap_compare: Any) -> None:
    assert snap_compare(build_app(), terminal_size=(80, 24), press=["f"])


def test_timeline_tab(snap_compare: Any) -> None:
    assert snap_compare(build_app(), terminal_size=(80, 24), press=["2"])


def test_help_screen(snap_compare: Any) -> None:
    assert snap_compare(build_app(), terminal_size=(80, 24), press=["question_mark"])


def test_ladder_of_a_dialog(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        _, _, ladder = snapshot_app.recorded_sip()
        await pilot.press("3")
        await pilot.app.push_screen(ladder)
        await pilot.pause()

    assert snap_compare(build_app(), terminal_size=(100, 30), run_before=run_before)


def test_sip_panel(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        app: DashboardApp = pilot.app
        await app.wait_for(lambda: app.sip_analysis is not None)
        await pilot.press("3")
        await pilot.pause()

    assert snap_compare(build_app(), terminal_size=(80, 24), run_before=run_before)
