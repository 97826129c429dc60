"""The SIP and MGC panels: --capture on committed captures, live capture errors."""

from __future__ import annotations

import io
import os
import socket
import time
from pathlib import Path

import pytest
from rich.console import Console, RenderableType
from tests.conftest import PUBLIC_CAPTURES, require_shared
from textual.widgets import TabbedContent

from ecc_doctor.captures.records import SipMessage
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
        flows = f"{len(expected.flows)} flow" + ("" if len(expected.flows) == 1 else "s")
        assert f"{flows}, {findings} problem{plural}" in app.capture_state
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


async def test_live_capture_without_privileges_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The suite runs as root, so the missing privilege is made by scapy's listening socket
    refusing, as the kernel does without CAP_NET_RAW (scapy is not the code under test)."""
    import scapy.arch  # noqa: F401 - sets conf.L2listen; patch it after that
    from scapy.config import conf

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(conf, "L2listen", refuse)
    app = DashboardApp(plain_config(), specs=[], interval=0, iface="lo")
    async with app.run_test(size=SIZE):
        await app.wait_for(lambda: app.capture_state.startswith(("live on", "✗")), 10)
        state = app.capture_state
        assert state.startswith("✗"), state
        assert "live capture on lo needs root or CAP_NET_RAW" in state
        assert "--capture FILE" in state
        assert "Operation not permitted" in state
        assert "\n" not in state


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

            def shown() -> bool:
                flows = app.query_one(SipPanel).flows
                return app.capture_state.startswith("✗") or any(
                    f.call_id == "live-reg@127.0.0.1" for f in flows
                )

            # the capture may start listening a moment after it says "live on" (on a loaded
            # machine a single datagram sent at once was missed): send again, bounded, as a
            # UA retransmits
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for _ in range(20):
                    sender.sendto(msg, ("127.0.0.1", port))
                    try:
                        await app.wait_for(shown, 1.0)
                        break
                    except TimeoutError:
                        continue
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


def sip_request(method: str, port: int, call_id: str, body: str = "") -> bytes:
    content_type = "Content-Type: text/plain\r\n" if body else ""
    return (
        f"{method} sip:probe@127.0.0.1:{port} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK" + call_id.split("@")[0] + "\r\n"
        "From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:probe@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
        f"{content_type}Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: sends IP fragments through a raw socket and captures on lo",
)
def test_live_capture_keeps_ip_fragments_of_a_sip_datagram() -> None:
    """A SIP MESSAGE too big for one fragment, split into IPv4 fragments on 127.0.0.1:
    only the first fragment carries the UDP port, so LIVE_BPF must keep the others too."""
    from scapy.layers.inet import IP, UDP, fragment
    from scapy.packet import Raw

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        port = receiver.getsockname()[1]
        msg = sip_request("MESSAGE", port, "frag-1@127.0.0.1", "x" * 3000)
        datagram = IP(src="127.0.0.1", dst="127.0.0.1") / UDP(sport=5999, dport=port) / Raw(msg)
        pieces = fragment(datagram, fragsize=1000)
        assert len(pieces) >= 3
        capture = LiveCapture("lo", LIVE_BPF.format(ports=port), [port])
        capture.open()
        try:
            # IPPROTO_RAW: we write the IP header ourselves (fragment offsets included)
            with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
                for piece in pieces:
                    raw.sendto(bytes(piece), ("127.0.0.1", 0))
            deadline = time.monotonic() + 10
            while capture.messages == 0 and time.monotonic() < deadline:
                capture.poll(0.2)
            capture.poll(0.2)  # anything still queued (a duplicate would show here)
            assert capture.packets >= len(pieces)
            assert capture.messages == 1
            (message,) = [r for r in capture.records if isinstance(r, SipMessage)]
            assert b"Call-ID: frag-1@127.0.0.1" in message.data
            assert message.data.endswith(b"x" * 3000)
        finally:
            capture.close()


def test_live_capture_keeps_only_the_latest_max_records() -> None:
    """Memory stays bounded: with max_records=3, ten SIP messages leave the last three."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    capture = LiveCapture("lo", LIVE_BPF.format(ports=5060), [5060], max_records=3)
    for i in range(10):
        frame = (
            Ether(src="00:00:5e:00:53:01", dst="00:00:5e:00:53:02")
            / IP(src="192.0.2.1", dst="192.0.2.2")
            / UDP(sport=5999, dport=5060)
            / sip_request("OPTIONS", 5060, f"bound-{i}@192.0.2.1")
        )
        capture.feed(1, bytes(frame), 1000.0 + i)
    assert capture.packets == 10
    assert capture.messages == 10
    assert len(capture.records) == 3
    call_ids = [
        line.split(b":", 1)[1].strip()
        for r in capture.records
        if isinstance(r, SipMessage)
        for line in r.data.split(b"\r\n")
        if line.startswith(b"Call-ID:")
    ]
    assert call_ids == [f"bound-{i}@192.0.2.1".encode() for i in (7, 8, 9)]


async def test_header_note_stays_visible_at_80_columns() -> None:
    """What `dashboard --capture FILE` without a site file shows: site, note, hint."""
    from ecc_doctor.tui.header_bar import HeaderBar

    config = from_mapping({"site": {"name": "no site file"}}, source="<no site file>")
    app = DashboardApp(config, interval=30, capture=AUTH_FAILURE, note="capture only")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.wait_run()
        bar = app.query_one(HeaderBar)
        for _ in range(200):  # laid out at its 80-column width (bounded)
            await pilot.pause()
            if bar.content_region.width:
                break
        assert bar.content_region.width == 78
        header = str(bar.render())
        assert header.startswith("ecc-doctor · no site file · REAL │ ")
        assert " │ capture only │ ran " in header, header  # and how fresh the verdicts are
        await pilot.press("f")
        header = str(app.query_one(HeaderBar).render())
        assert " │ capture only, failing only │ ran " in header, header
