"""The SIP and MGC panels: --capture on committed captures, live capture errors."""

from __future__ import annotations

import io
import socket
import time
from pathlib import Path

import pytest
from rich.console import Console, RenderableType
from tests.conftest import PUBLIC_CAPTURES, require_shared
from textual.widgets import TabbedContent

from ecc_doctor.captures.sip.analyze import analyze_file
from ecc_doctor.config import SiteConfig, from_mapping, load
from ecc_doctor.tui.app import LIVE_BPF, DashboardApp
from ecc_doctor.tui.ladder_screen import LadderScreen
from ecc_doctor.tui.live_capture import LiveCapture, LiveCaptureError
from ecc_doctor.tui.mgc_panel import MgcPanel
from ecc_doctor.tui.sip_panel import SipPanel

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AUTH_FAILURE = FIXTURES / "captures" / "sipnab-sip-auth-failure.pcapng"
PRACK_BAD = FIXTURES / "sip" / "prack-bad-rack-tcp.pcap"
SIZE = (100, 30)


def as_text(renderable: RenderableType) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def plain_config() -> SiteConfig:
    return from_mapping({"site": {"name": "capture site"}}, source="<test>")


@pytest.mark.parametrize("capture", [AUTH_FAILURE, PRACK_BAD], ids=lambda p: p.name)
async def test_capture_shows_flows_findings_and_a_ladder(capture: Path) -> None:
    expected = analyze_file(capture)
    app = DashboardApp(plain_config(), specs=[], interval=0, capture=capture)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for(lambda: app.sip_analysis is not None)
        panel = app.query_one(SipPanel)
        assert [(f.kind, f.key) for f in panel.flows] == [(f.kind, f.key) for f in expected.flows]
        findings = sum(
            1
            for f in expected.flows
            for x in f.findings
            if x.severity.value in ("WARN", "FAIL", "ERROR")
        )
        assert findings >= 1
        plural = "" if findings == 1 else "s"
        assert f"{len(expected.flows)} flows, {findings} problem{plural}" in app.capture_state
        await pilot.press("3")
        assert app.query_one(TabbedContent).active == "sip"
        shown = as_text(panel.findings_content)
        assert expected.flows[0].findings[0].rule in shown
        assert expected.flows[0].findings[0].message[:40] in shown
        await pilot.press("l")
        assert isinstance(app.screen, LadderScreen)
        assert expected.flows[0].call_id in app.screen.ladder_title
        first_method = "REGISTER" if expected.flows[0].kind == "register" else "INVITE"
        assert first_method in app.screen.ladder_text
        assert "findings" in app.screen.ladder_text
        await pilot.press("escape")
        assert not isinstance(app.screen, LadderScreen)


async def test_unreadable_capture_is_one_line_in_the_panel(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture file at all")
    app = DashboardApp(plain_config(), specs=[], interval=0, capture=junk)
    async with app.run_test(size=SIZE):
        await app.wait_for(lambda: app.capture_state.startswith("✗"))
        assert "junk.pcap" in app.capture_state
        assert "\n" not in app.capture_state
        assert app.sip_analysis is None


async def test_mgc_panel_shows_expected_and_measured_timeline() -> None:
    config = load(FIXTURES / "mgc" / "site.toml")
    app = DashboardApp(config, specs=[], interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for(lambda: app.mgc_measured is not None)
        await pilot.press("4")
        assert app.query_one(TabbedContent).active == "mgc"
        text = as_text(app.query_one(MgcPanel).content)
        assert "primary-search expires (10 min)" in text
        assert "ESS 198.51.100.20" in text
        assert "Measured in" in text and "failover_ess.pcap" in text


async def test_live_capture_on_a_missing_interface_says_why() -> None:
    app = DashboardApp(plain_config(), specs=[], interval=0, iface="ecc-doctor-no-such0")
    async with app.run_test(size=SIZE):
        await app.wait_for(lambda: app.capture_state.startswith("✗"))
        assert "live capture on ecc-doctor-no-such0" in app.capture_state


def test_live_capture_reads_sip_on_loopback() -> None:
    """Live capture on lo (needs CAP_NET_RAW: skipped with the reason when missing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))  # our own port: no other test's SIP peer sees this
        port = receiver.getsockname()[1]
        capture = LiveCapture("lo", LIVE_BPF.format(ports=port), [port])
        try:
            capture.open()
        except LiveCaptureError as exc:
            assert "live capture on lo" in str(exc)
            if "CAP_NET_RAW" in str(exc):
                pytest.skip(str(exc))
            raise
        try:
            msg = (
                f"OPTIONS sip:probe@127.0.0.1:{port} SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK1\r\n"
                "From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:probe@127.0.0.1>\r\n"
                "Call-ID: live-1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(msg, ("127.0.0.1", port))
            deadline = time.monotonic() + 10
            while capture.messages == 0 and time.monotonic() < deadline:
                capture.poll(0.2)
            assert capture.messages >= 1
            assert capture.analyze().messages >= 1
        finally:
            capture.close()


async def test_dashboard_live_capture_shows_flows_as_they_arrive() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        port = receiver.getsockname()[1]
        config = from_mapping({"site": {"name": "live"}, "sip": {"ports": [port]}}, source="<t>")
        app = DashboardApp(config, specs=[], interval=0, iface="lo")
        async with app.run_test(size=SIZE):
            await app.wait_for(lambda: app.capture_state.startswith(("live on", "✗")), 10)
            if "CAP_NET_RAW" in app.capture_state:
                pytest.skip(app.capture_state)
            msg = (
                f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKlive\r\n"
                "From: <sip:3301@127.0.0.1>;tag=9\r\nTo: <sip:3301@127.0.0.1>\r\n"
                "Call-ID: live-reg@127.0.0.1\r\nCSeq: 1 REGISTER\r\n"
                "Contact: <sip:3301@127.0.0.1:5999>\r\nExpires: 60\r\nMax-Forwards: 70\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(msg, ("127.0.0.1", port))
            await app.wait_for(
                lambda: app.sip_analysis is not None or app.capture_state.startswith("✗"), 20
            )
            assert app.capture_state.startswith("live on lo:"), app.capture_state
            assert any(f.call_id == "live-reg@127.0.0.1" for f in app.query_one(SipPanel).flows)


@pytest.mark.parametrize("name", ["sngrep-ipv6frag.pcap", "heplify-sip_ipv4_tcp_fragmented.pcap"])
async def test_public_captures_with_fragments_show_flows_and_ladders(name: str) -> None:
    capture = require_shared(PUBLIC_CAPTURES / name)  # copyleft: read in place, never copied
    expected = analyze_file(capture)
    app = DashboardApp(plain_config(), specs=[], interval=0, capture=capture)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for(lambda: app.sip_analysis is not None)
        flows = app.query_one(SipPanel).flows
        assert [f.key for f in flows] == [f.key for f in expected.flows]
        await pilot.press("3", "l")
        assert isinstance(app.screen, LadderScreen)
        assert flows[0].call_id in app.screen.ladder_title
