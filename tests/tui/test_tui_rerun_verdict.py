"""A check that runs again keeps its last verdict on screen (QA-2 #7), and "since" is when
the failing run started (QA-2 #8)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ecc_doctor.checks import CheckSpec
from ecc_doctor.config import from_mapping
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Result, Status
from ecc_doctor.tui.app import DashboardApp
from ecc_doctor.tui.checks_table import ChecksTable
from ecc_doctor.tui.detail_pane import describe
from ecc_doctor.tui.history import clock_time

pytestmark = pytest.mark.anyio
SIZE = (100, 30)
T0 = datetime(2026, 1, 1, 15, 17, 33, tzinfo=UTC)


async def test_a_hung_rerun_keeps_the_last_error_visible_in_rows_header_and_filter() -> None:
    gate = asyncio.Event()
    runs = [0]

    async def flaky(ctx: CheckContext) -> Result:
        runs[0] += 1
        if runs[0] > 1:
            await gate.wait()
        return ctx.result(Status.ERROR, "no SAT prompt")

    spec = CheckSpec("test.hangs", "hangs", "test", (), flaky)
    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    now = [T0]
    app = DashboardApp(config, specs=[spec], interval=0, clock=lambda: now[0], tz=UTC)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_run(1)
        now[0] = T0 + timedelta(seconds=40)
        await pilot.press("r")
        await app.wait_for(lambda: app.history.checks["test.hangs"].running)
        table = app.query_one(ChecksTable)
        assert str(table.get_cell("test.hangs", "status")) == "⟳ ERROR"
        assert app.history.counts()[Status.ERROR] == 1
        await pilot.press("f")  # failing only: the hung check with its ERROR stays listed
        assert [h.check_id for h in app.visible_rows()] == ["test.hangs"]
        h = app.history.checks["test.hangs"]
        text = describe(h, now[0], UTC).renderables[1].plain  # type: ignore[attr-defined]
        assert text.startswith("⟳ ERROR")
        assert f"running again since {clock_time(now[0], UTC)}" in text
        gate.set()
        await app.wait_run()
        assert str(table.get_cell("test.hangs", "status")) == "E ERROR"


async def test_since_is_the_start_of_the_run_that_went_bad() -> None:
    gate = asyncio.Event()

    async def slow_error(ctx: CheckContext) -> Result:
        await gate.wait()
        return ctx.result(Status.ERROR, "timed out after 30 s")

    spec = CheckSpec("test.slow", "slow", "test", (), slow_error)
    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    now = [T0]
    app = DashboardApp(config, specs=[spec], interval=0, clock=lambda: now[0], tz=UTC)
    async with app.run_test(size=SIZE):
        await app.wait_for(lambda: app.history.checks["test.slow"].running)
        now[0] = T0 + timedelta(seconds=30)
        gate.set()
        await app.wait_run()
        h = app.history.checks["test.slow"]
        assert h.since == T0
        assert h.outages[0].start == T0
        assert str(app.query_one(ChecksTable).get_cell("test.slow", "since")) == "15:17:33"
