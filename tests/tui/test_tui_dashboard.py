"""The dashboard driven with Textual's Pilot against the in-process lab, with faults.

Waits are event-driven: ``app.wait_run()`` / ``app.wait_for(...)`` return when the app has
handled the results of a run (no sleeps, no timing assertions).
"""

from __future__ import annotations

import asyncio
import io
import json
import signal
import socket
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Input, TabbedContent

from ecc_doctor.checks import CheckSpec, all_checks, spec_of
from ecc_doctor.checks import reachability as reachability_module
from ecc_doctor.config import from_mapping
from ecc_doctor.context import CheckContext
from ecc_doctor.lab import Lab
from ecc_doctor.models import Result, Status
from ecc_doctor.tui.app import DashboardApp
from ecc_doctor.tui.checks_table import ChecksTable
from ecc_doctor.tui.help_screen import HelpScreen
from ecc_doctor.tui.lab_screen import LabScreen
from ecc_doctor.tui.mgc_panel import MgcPanel
from ecc_doctor.tui.sip_panel import SipPanel
from ecc_doctor.tui.timeline_panel import TimelinePanel

pytestmark = pytest.mark.anyio

#: The faults the issue names; each must turn some rows FAIL/ERROR and heal back.
ISSUE_FAULTS = ("network-flap", "ecc-restart", "cti-link-down", "aes-restart", "sftp-stale")
SIZE = (100, 30)


def cell(app: DashboardApp, check_id: str, column: str = "status") -> str:
    return str(app.query_one(ChecksTable).get_cell(check_id, column))


def rendered(panel: TimelinePanel) -> str:
    """The timeline panel's content as plain text."""
    assert panel.content is not None
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(panel.content(120))
    return console.export_text()


def as_text(renderable: Any) -> str:
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def statuses(app: DashboardApp) -> dict[str, Status | None]:
    return {cid: h.status for cid, h in app.history.checks.items()}


async def press_and_wait_run(app: DashboardApp, pilot: Any, key: str = "r") -> None:
    started = app.runs_started
    await pilot.press(key)
    assert app.runs_started == started + 1, f"'{key}' did not start a run"
    await app.wait_run()


async def inject_from_lab_screen(app: DashboardApp, pilot: Any, fault: str) -> None:
    """Inject *fault* through the lab control screen (x), as a trainer would; the app
    re-runs the checks by itself after a fault changes: wait for that run."""
    await pilot.press("x")
    assert isinstance(app.screen, LabScreen)
    assert app.lab is not None
    for _ in range(app.lab.faults.index(fault)):
        await pilot.press("down")
    before = app.runs_started
    await pilot.press("enter")
    await app.wait_for(lambda: app.runs_started > before)
    await app.wait_run()
    assert fault in app.lab.active


async def heal_from_command_palette_entry(app: DashboardApp, fault: str) -> None:
    """Heal *fault* through its command palette entry ("Lab: heal NAME") and wait for the
    re-run the app starts by itself."""
    (command,) = [c for c in app.get_system_commands(app.screen) if c.title == f"Lab: heal {fault}"]
    before = app.runs_started
    command.callback()
    await app.wait_for(lambda: app.runs_started > before)
    await app.wait_run()
    assert app.lab is not None and fault not in app.lab.active


async def test_issue_faults_turn_rows_fail_or_error_then_heal_in_one_session() -> None:
    """Each fault of the issue, one after the other, in ONE dashboard session (no restart)."""
    lab = Lab()
    missing = [f for f in ISSUE_FAULTS if f not in lab.faults]
    assert missing == [], f"the lab lost faults the issue names: {missing}"
    faults = list(ISSUE_FAULTS)
    app = DashboardApp(lab=lab, interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for(lambda: app.lab_ready and app.runs_completed >= 1)
        healthy = statuses(app)
        assert Status.PASS in healthy.values()
        assert cell(app, "net.reachability") == "✓ PASS"
        for fault in faults:
            if fault == "network-flap":
                await inject_from_lab_screen(app, pilot, fault)
                assert cell(app, "net.reachability") == "✗ FAIL"
                assert "unreachable" in cell(app, "net.reachability", "summary")
                assert app.history.checks["net.reachability"].strip(2) == "✓✗"
            else:
                await lab.fault(fault)
                await press_and_wait_run(app, pilot)
            broken = statuses(app)
            turned = {c for c, s in broken.items() if s in (Status.FAIL, Status.ERROR)}
            turned -= {c for c, s in healthy.items() if s in (Status.FAIL, Status.ERROR)}
            assert turned, f"{fault} did not turn any row FAIL/ERROR: {broken}"
            for check_id in turned:
                assert cell(app, check_id).split()[1] in ("FAIL", "ERROR")
                assert app.history.checks[check_id].open_outage is not None

            if fault == "network-flap":
                await heal_from_command_palette_entry(app, fault)
            else:
                await lab.heal(fault)
                await press_and_wait_run(app, pilot)
            assert statuses(app) == healthy, f"not all rows recovered after healing {fault}"
            for check_id in turned:
                assert app.history.checks[check_id].outages[-1].end is not None
        # every outage of the session is remembered after recovery; the timeline lists the
        # newest and counts the older ones
        outages = app.history.outages()
        assert any(o.check_id == "net.reachability" for o in outages)
        assert all(not o.ongoing for o in outages) and len(outages) >= len(faults)
        await pilot.press("2")
        assert app.query_one(TabbedContent).active == "timeline"
        text = rendered(app.query_one(TimelinePanel))
        listed = text.count("recovered")
        assert listed >= min(len(faults), 8)
        if len(outages) > listed:
            assert f"… {len(outages) - listed} older outage" in text
        assert lab.config.cm is not None
        cm_port = lab.config.cm.port
    # quitting the dashboard stopped the lab it started
    with pytest.raises(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", cm_port)
        writer.close()


async def test_lab_fault_option_injects_at_start() -> None:
    app = DashboardApp(lab=Lab(), lab_faults=["cti-link-down"], interval=0)
    async with app.run_test(size=SIZE):
        await app.wait_for(lambda: app.lab_ready and app.runs_completed >= 1)
        assert app.lab is not None and app.lab.active == {"cti-link-down"}
        assert cell(app, "cm.cti-link") == "✗ FAIL"
        assert cell(app, "net.reachability") == "✓ PASS"
        # the lab's [sip] captures and [mgc] capture fill the SIP and MGC tabs
        await app.wait_for(lambda: app.sip_analysis is not None and app.mgc_measured is not None)
        assert "[sip] captures" in app.capture_state
        assert app.query_one(SipPanel).flows
        assert "Measured in" in as_text(app.query_one(MgcPanel).content)


async def test_slow_check_does_not_freeze_keys() -> None:
    release = asyncio.Event()

    async def slow(ctx: CheckContext) -> Result:
        await release.wait()
        return ctx.result(Status.PASS, "slow check finally answered")

    slow_spec = CheckSpec("test.slow", "A check that takes its time", "test", (), slow)
    fast_spec = spec_of(reachability_module)
    config = from_mapping({"site": {"name": "slow site"}}, source="<test>")
    app = DashboardApp(config, specs=[fast_spec, slow_spec], interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for(lambda: app.history.checks["net.reachability"].last is not None)
        assert cell(app, "test.slow") == "… RUN"
        assert app.runs_completed == 0

        # keys are handled while the slow check runs
        await pilot.press("f")
        assert app.failing_only and app.visible_rows() == []
        await pilot.press("f")
        await pilot.press("slash")
        assert app.focused is app.query_one("#search", Input)
        await pilot.press(*"slow")
        assert [h.check_id for h in app.visible_rows()] == ["test.slow"]
        await pilot.press("escape")
        assert len(app.visible_rows()) == 2
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        # 'r' re-runs only what is not running already
        await pilot.press("r")
        assert app.runs_started == 2
        await app.wait_run(2)
        assert cell(app, "test.slow") == "… RUN"

        release.set()
        await app.wait_run(1)
        assert cell(app, "test.slow") == "✓ PASS"
        assert cell(app, "test.slow", "summary") == "slow check finally answered"


async def test_enter_reruns_only_the_selected_check() -> None:
    calls: list[str] = []

    def counting(name: str) -> CheckSpec:
        async def fn(ctx: CheckContext) -> Result:
            calls.append(name)
            return ctx.result(Status.WARN if name == "b" else Status.PASS, f"{name} ran")

        return CheckSpec(f"test.{name}", name, "test", (), fn)

    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    app = DashboardApp(config, specs=[counting("a"), counting("b")], interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_run(1)
        assert sorted(calls) == ["a", "b"]
        await pilot.press("down")
        assert app.query_one(ChecksTable).selected_id == "test.b"
        await press_and_wait_run(app, pilot, "enter")
        assert sorted(calls) == ["a", "b", "b"]
        assert cell(app, "test.b") == "! WARN"
        assert app.history.checks["test.b"].runs == 2
        assert app.history.checks["test.a"].runs == 1


async def test_export_writes_json_junit_and_svg(tmp_path: Path) -> None:
    config = from_mapping({"site": {"name": "export site"}}, source="<test>")
    export_dir = tmp_path / "exports"  # created by the first export
    spec = spec_of(reachability_module)
    app = DashboardApp(config, specs=[spec], interval=0, export_dir=export_dir)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_run(1)
        await pilot.press("e")
        await pilot.press("s")
        await pilot.pause()
    (json_file,) = export_dir.glob("*.json")
    doc = json.loads(json_file.read_text("utf-8"))
    assert doc["site"] == "export site"
    assert [r["id"] for r in doc["results"]] == ["net.reachability"]
    assert doc["results"][0]["status"] == "SKIP"
    (xml_file,) = export_dir.glob("*.xml")
    assert 'name="net.reachability"' in xml_file.read_text("utf-8")
    (svg,) = export_dir.glob("*.svg")
    assert "net.reachability" in svg.read_text("utf-8").replace("&#160;", " ")


async def test_interval_reruns_by_itself() -> None:
    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    app = DashboardApp(config, specs=[spec_of(reachability_module)], interval=0.05)
    async with app.run_test(size=SIZE):
        await app.wait_for(lambda: app.runs_completed >= 3)
        assert app.history.checks["net.reachability"].runs >= 3


async def test_registry_checks_all_have_rows_before_any_result() -> None:
    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    app = DashboardApp(config, interval=0, run_on_start=False)
    async with app.run_test(size=SIZE):
        ids = [s.id for s in all_checks()]
        assert [h.check_id for h in app.visible_rows()] == ids
        assert cell(app, ids[0]) == "· --"


async def test_lab_control_without_lab_says_so() -> None:
    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    app = DashboardApp(config, specs=[], interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("x")
        assert not isinstance(app.screen, LabScreen)
        await pilot.press("l")  # no capture: a notice, no crash
        assert app.query_one(TabbedContent).active == "sip"


async def test_a_check_with_several_results_gets_one_row_each() -> None:
    async def per_link(ctx: CheckContext) -> list[Result]:
        return [
            ctx.result(Status.PASS, "link 1 up", check_id="test.links:1"),
            ctx.result(Status.FAIL, "link 2 down", check_id="test.links:2"),
        ]

    spec = CheckSpec("test.links", "Every link is up", "test", (), per_link)
    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    app = DashboardApp(config, specs=[spec], interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_run(1)
        assert [h.check_id for h in app.visible_rows()] == ["test.links:1", "test.links:2"]
        assert cell(app, "test.links:2") == "✗ FAIL"
        await pilot.press("down")
        # enter on a sub-row re-runs the check that produced it
        await press_and_wait_run(app, pilot, "enter")
        assert app.history.checks["test.links:2"].runs == 2


async def test_mouse_selects_rows_and_tabs() -> None:
    calls: list[str] = []

    def spec(name: str) -> CheckSpec:
        async def fn(ctx: CheckContext) -> Result:
            calls.append(name)
            return ctx.result(Status.PASS, f"{name} fine")

        return CheckSpec(f"test.{name}", f"check {name}", "test", (), fn)

    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    app = DashboardApp(config, specs=[spec("a"), spec("b"), spec("c")], interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_run(1)
        # row 0 is the header line: y=3 is the third check
        assert await pilot.click(ChecksTable, offset=(10, 3))
        assert app.query_one(ChecksTable).selected_id == "test.c"
        assert app.selected_check == "test.c"
        assert await pilot.click("#tabs ContentTab#--content-tab-timeline")
        assert app.query_one(TabbedContent).active == "timeline"
        assert sorted(calls) == ["a", "b", "c"]  # clicking never re-runs a check


async def test_footer_shows_help_lab_and_export_at_80x24() -> None:
    """An engineer on an 80-column console must see '? Help' (and Lab, Export) in the footer."""
    from textual.widgets._footer import FooterKey

    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    app = DashboardApp(config, interval=0, run_on_start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        # the footer recomposes its keys after focus settles: let it lay them out (bounded)
        for _ in range(200):
            await pilot.pause()
            shown = list(app.query(FooterKey))
            if len(shown) >= 9 and all(k.region.width for k in shown):
                break
        assert app.focused is app.query_one(ChecksTable)
        keys = {k.description: k.region for k in app.query(FooterKey)}
        # the command palette's key is docked at the right end and covers what runs under it
        right_end = keys["palette"].x if "palette" in keys else 80
        for label in ("Quit", "Help", "Re-run", "Failing", "Search", "Ladder", "Lab", "Export"):
            assert label in keys, sorted(keys)
            region = keys[label]
            assert region.width > 0 and region.right <= right_end, f"{label} is hidden: {region}"


class PortTakenEmulator:
    """An emulator whose port is held by someone else: its start fails as a real one would."""

    name = "port-taken"
    faults: tuple[str, ...] = ()

    def __init__(self, port: int) -> None:
        self.port = port

    async def start(self, env: Any) -> dict[str, Any]:
        await asyncio.start_server(lambda r, w: None, "127.0.0.1", self.port)
        return {}

    async def stop(self) -> None:
        pass

    async def set_fault(self, fault: str, active: bool) -> None:
        pass

    async def set_network(self, up: bool) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {}


async def test_after_a_failed_lab_start_keys_say_the_lab_did_not_start() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        lab = Lab([PortTakenEmulator(holder.getsockname()[1])])
        app = DashboardApp(lab=lab, interval=0)
        async with app.run_test(size=SIZE) as pilot:
            await app.wait_for(lambda: app.lab_failed)
            assert app.state.startswith("the lab did not start: ")
            assert not app.lab_ready
            for key in ("r", "x"):
                await pilot.press(key)
                assert not isinstance(app.screen, LabScreen)
                said = [n.message for n in app._notifications]
                assert said[-1] == "the lab did not start (see header)", said
                assert not any("still starting" in m for m in said), said
            assert app.runs_started == 0


async def test_sigterm_handler_is_the_apps_only_while_it_runs() -> None:
    """The dashboard takes SIGTERM (to quit like 'q') while it runs, and gives it back when it
    ends: an event loop that outlives the app must not swallow SIGTERM."""
    before = signal.getsignal(signal.SIGTERM)
    config = from_mapping({"site": {"name": "signal site"}}, source="<test>")
    app = DashboardApp(config, specs=[], interval=0)
    async with app.run_test(size=SIZE):
        during = signal.getsignal(signal.SIGTERM)
        assert during is not before
    assert signal.getsignal(signal.SIGTERM) is not during
