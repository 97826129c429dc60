"""SIP tab wording: the badge shows the worst finding's symbol; failing INVITE rows name
their problem (QA-2 #17)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, TabbedContent

from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.sip.analyze import SipAnalysis
from ecc_doctor.config import from_mapping
from ecc_doctor.models import Finding, Status
from ecc_doctor.tui.app import DashboardApp
from ecc_doctor.tui.messages import CaptureAnalyzed

pytestmark = pytest.mark.anyio
SIP = Path(__file__).resolve().parents[1] / "fixtures" / "sip"
SIZE = (120, 30)


def config() -> object:
    return from_mapping({"site": {"name": "s"}}, source="<test>")


def warn_flow(n: int) -> Flow:
    finding = Finding(rule="sip.timer", severity=Status.WARN, message=f"slow answer {n}")
    return Flow("register", f"r{n}@x", Status.WARN, "REGISTER ok, slowly", (finding,))


async def test_badge_of_warnings_only_uses_the_warn_symbol() -> None:
    app = DashboardApp(config(), specs=[], interval=0)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(
            CaptureAnalyzed("warns.pcap", SipAnalysis(flows=[warn_flow(1), warn_flow(2)]))
        )
        await app.wait_for(lambda: app.sip_analysis is not None)
        await pilot.pause()
        label = app.query_one(TabbedContent).get_tab("sip").label_text
        assert label == f"SIP {Status.WARN.symbol}2"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("prack-bad-rack-tcp.pcap", "RAck '1 2 INVITE' names CSeq 2"),
        ("prack-rseq-jump-udp.pcap", "RSeq jumped from 1"),
    ],
)
async def test_failing_invite_row_names_the_problem(name: str, problem: str) -> None:
    app = DashboardApp(config(), specs=[], interval=0, capture=SIP / name)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for(lambda: app.sip_analysis is not None)
        await pilot.pause()
        table = app.query_one("#sip-flows", DataTable)
        status, kind, _, summary = (str(c) for c in table.get_row_at(0))
        assert (status, kind) == ("✗ FAIL", "invite")
        assert problem in summary.split(";")[0]
        label = app.query_one(TabbedContent).get_tab("sip").label_text
        assert label == "SIP ✗1"
