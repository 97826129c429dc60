"""Export ('e') while checks are still running: every check is in the report (QA-2 #6)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ecc_doctor.checks import CheckSpec
from ecc_doctor.config import from_mapping
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Result, Status
from ecc_doctor.tui.app import DashboardApp

pytestmark = pytest.mark.anyio
SIZE = (100, 30)


def gated(name: str, gate: asyncio.Event, first: Status | None = None) -> CheckSpec:
    """A check that answers *first* at once on its first run, then waits for *gate*."""
    runs = [0]

    async def fn(ctx: CheckContext) -> Result:
        runs[0] += 1
        if first is not None and runs[0] == 1:
            return ctx.result(first, f"{name} answered {first.value}")
        await gate.wait()
        return ctx.result(Status.PASS, f"{name} finally answered")

    return CheckSpec(f"test.{name}", name, "test", (), fn)


async def fast(ctx: CheckContext) -> Result:
    return ctx.result(Status.PASS, "fast answered")


def exported(directory: Path) -> dict:  # type: ignore[type-arg]
    (json_file,) = directory.glob("*.json")
    doc: dict = json.loads(json_file.read_text("utf-8"))  # type: ignore[type-arg]
    return doc


async def test_a_fail_being_rerun_stays_a_fail_in_the_export(tmp_path: Path) -> None:
    gate = asyncio.Event()
    specs = [gated("was-fail", gate, first=Status.FAIL)]
    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    app = DashboardApp(config, specs=specs, interval=0, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for(lambda: app.history.checks["test.was-fail"].last is not None)
        await pilot.press("r")
        await app.wait_for(lambda: app.history.checks["test.was-fail"].running)
        await pilot.press("e")
        await pilot.pause()
        gate.set()
        await app.wait_run()
    (result,) = exported(tmp_path)["results"]
    assert result["status"] == "FAIL" and "re-running since" in result["summary"]
    (xml_file,) = tmp_path.glob("*.xml")
    assert "<failure " in xml_file.read_text("utf-8")  # not moved to <error>


async def test_export_during_a_run_lists_unfinished_checks_and_is_not_green(
    tmp_path: Path,
) -> None:
    gate = asyncio.Event()
    specs = [
        CheckSpec("test.fast", "fast", "test", (), fast),
        gated("hung", gate),
        gated("was-ok", gate, first=Status.PASS),
        gated("was-bad", gate, first=Status.ERROR),
    ]
    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    app = DashboardApp(config, specs=specs, interval=0, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for(lambda: app.history.checks["test.fast"].last is not None)
        await app.wait_for(lambda: app.history.checks["test.was-bad"].last is not None)
        await pilot.press("r")  # was-ok and was-bad hang on their 2nd run
        await app.wait_for(lambda: app.history.checks["test.was-ok"].running)
        await pilot.press("e")
        await pilot.pause()
        gate.set()
        await app.wait_run()
    doc = exported(tmp_path)
    by_id = {r["id"]: r for r in doc["results"]}
    assert list(by_id) == ["test.fast", "test.hung", "test.was-ok", "test.was-bad"]
    assert by_id["test.fast"]["status"] == "PASS"
    assert by_id["test.hung"]["status"] == "ERROR"
    assert "still running after" in by_id["test.hung"]["summary"]
    assert "exported during the run" in by_id["test.hung"]["summary"]
    # one rule for every check still running (QA 3b #10): its verdict kept, marked as such
    for name, status in (("was-ok", "PASS"), ("was-bad", "ERROR")):
        result = by_id[f"test.{name}"]
        assert result["status"] == status
        assert result["summary"].startswith(f"{name} answered {status} [verdict of ")
        assert "; re-running since " in result["summary"]
        assert any("re-run still running since" in d for d in result["details"])
    assert doc["summary"]["total"] == 4
    assert doc["summary"]["exit_code"] == 1
    (xml_file,) = tmp_path.glob("*.xml")
    assert 'name="test.hung"' in xml_file.read_text("utf-8")
