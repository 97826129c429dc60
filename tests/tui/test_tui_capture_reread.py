"""The SIP and MGC tabs follow their capture files (QA-2 #4, #5)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console, RenderableType

from ecc_doctor.checks import CheckSpec
from ecc_doctor.config import from_mapping, load
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Result, Status
from ecc_doctor.tui.app import DashboardApp
from ecc_doctor.tui.mgc_panel import MgcPanel

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SIP = FIXTURES / "sip"
MGC = FIXTURES / "mgc"
SIZE = (100, 30)


def as_text(renderable: RenderableType | None) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def quick(ctx: CheckContext) -> Result:
    return ctx.result(Status.PASS, "ran")


SPECS = [CheckSpec("test.quick", "quick", "test", (), quick)]


async def test_sip_tab_rereads_a_swapped_capture_and_shows_every_sip_capture(
    tmp_path: Path,
) -> None:
    register = tmp_path / "sip-register.pcap"
    prack = tmp_path / "sip-prack.pcap"
    shutil.copyfile(SIP / "register-udp.pcap", register)
    shutil.copyfile(SIP / "prack-bad-rack-tcp.pcap", prack)
    config = from_mapping(
        {"site": {"name": "s"}, "sip": {"captures": [str(register), str(prack)]}},
        source="<test>",
    )
    app = DashboardApp(config, specs=SPECS, interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for(lambda: "sip-register.pcap: 1 flow, 0 problems" in app.capture_state)
        assert "1 of 2" in app.capture_state
        # the lab swaps the file in place (as sip-wrong-password does), then the checks run
        shutil.copyfile(SIP / "register-wrong-password.pcap", register)
        await pilot.press("r")
        await app.wait_run()
        await app.wait_for(lambda: "sip-register.pcap: 1 flow, 1 problem" in app.capture_state)
        assert app.sip_analysis.flows[0].status is Status.FAIL
        # the 2nd [sip] capture can be shown too
        await pilot.press("c")
        await app.wait_for(lambda: app.capture_state.startswith("sip-prack.pcap: 1 flow"))
        assert "2 of 2" in app.capture_state
        assert app.sip_analysis.flows[0].kind == "invite"


async def test_mgc_tab_rereads_a_swapped_capture(tmp_path: Path) -> None:
    for name in ("site.toml", "failover_ess.pcap"):
        shutil.copyfile(MGC / name, tmp_path / name)
    app = DashboardApp(load(tmp_path / "site.toml"), specs=SPECS, interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_run()
        await app.wait_for(lambda: app.mgc_measured is not None)
        before = as_text(app.mgc_measured)
        assert "✓ PASS" in before
        shutil.copyfile(MGC / "early_crossing.pcap", tmp_path / "failover_ess.pcap")
        await pilot.press("r")
        await app.wait_run()
        await app.wait_for(lambda: as_text(app.mgc_measured) != before)
        assert "✗ FAIL" in as_text(app.query_one(MgcPanel).content)


async def test_capture_option_wins_over_the_site_files_mgc_capture() -> None:
    config = load(MGC / "site.toml")  # its [mgc] capture is failover_ess.pcap
    app = DashboardApp(config, specs=[], interval=0, capture=MGC / "early_crossing.pcap")
    async with app.run_test(size=SIZE):
        await app.wait_for(lambda: app.mgc_measured is not None)
        text = as_text(app.mgc_measured)
        assert "early_crossing.pcap" in text
        assert "failover_ess.pcap" not in text
