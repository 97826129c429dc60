"""Synthetic failover captures: each correct one PASSes, each deviating one FAILs at its frame."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap
from tests.conftest import FIXTURES, load_module

from ecc_doctor.captures.mgc import MgcParams
from ecc_doctor.captures.mgc.analyze import analyze_file, analyze_frames
from ecc_doctor.captures.mgc.megaco import parse_payload
from ecc_doctor.captures.records import ACK, SYN, UDP, Frame
from ecc_doctor.models import Status

MGC = FIXTURES / "mgc"


def _generator() -> ModuleType:
    return load_module(MGC / "make_captures.py", "mgc_make_captures")


GEN = _generator()
PARAMS: MgcParams = GEN.PARAMS


def syn_frames(name: str, dst: str) -> list[int]:
    """Frame numbers of the first SYN of each connection to *dst* (retransmissions left out),
    read with scapy: an oracle independent of our reader."""
    out: dict[int, int] = {}
    for number, pkt in enumerate(rdpcap(str(MGC / name)), start=1):
        if TCP in pkt and pkt[IP].dst == dst and pkt[TCP].flags == "S":
            out.setdefault(pkt[TCP].sport, number)
    return sorted(out.values())


def one_flow(name: str) -> tuple[Status, dict[str, list[int]], str]:
    flows = analyze_file(MGC / name, params=PARAMS)
    assert len(flows) == 1
    flow = flows[0]
    assert flow.kind == "mgc-failover" and flow.key == GEN.GW
    bad = {f.rule: list(f.frames) for f in flow.findings if f.severity is not Status.PASS}
    return flow.status, bad, flow.summary


def test_captures_are_reproducible(tmp_path: Path) -> None:
    for path in GEN.main(tmp_path):
        assert path.read_bytes() == (MGC / path.name).read_bytes(), path.name


@pytest.mark.parametrize(
    ("name", "summary"),
    [
        ("failover_ess.pcap", "registered to ESS 198.51.100.20 +10:00"),
        ("recover_primary.pcap", "registered to PE 192.0.2.10 +3:00"),
        ("total_search_reset.pcap", "total-search expired at +15:00"),
        # retries every 9.8 s: the last above-TP attempt (+9:57.8) precedes the expiry
        ("failover_drift.pcap", "registered to LSP 203.0.113.30 +10:17.5"),
    ],
)
def test_correct_failovers_pass(name: str, summary: str) -> None:
    status, bad, text = one_flow(name)
    assert (status, bad) == (Status.PASS, {})
    assert summary in text


def test_correct_failover_findings_carry_frames_and_loss() -> None:
    flow = analyze_file(MGC / "failover_ess.pcap", params=PARAMS)[0]
    rules = {f.rule: f for f in flow.findings}
    ess_syn = syn_frames("failover_ess.pcap", GEN.ESS)[0]
    assert rules["mgc.registered"].frames[0] == ess_syn
    assert "TCP RST" in rules["mgc.loss"].message
    assert "from config" in rules["mgc.gateway"].message
    assert len(flow.frames) == 61


def test_silent_loss_is_reported_with_its_delay() -> None:
    flow = analyze_file(MGC / "recover_primary.pcap", params=PARAMS)[0]
    loss = next(f for f in flow.findings if f.rule == "mgc.loss")
    assert "last traffic from it" in loss.message and "50.0 s later" in loss.message


def test_crossing_after_two_minutes_fails_at_the_ess_syn() -> None:
    status, bad, summary = one_flow("early_crossing.pcap")
    ess = syn_frames("early_crossing.pcap", GEN.ESS)[0]
    assert status is Status.FAIL
    assert bad == {"mgc.early-crossing": [ess]}
    assert f"frame {ess} at +2:00" in summary and "+10:00" in summary


def test_two_second_retries_fail_spacing() -> None:
    status, bad, summary = one_flow("fast_retry.pcap")
    syns = sorted(syn_frames("fast_retry.pcap", GEN.PE) + syn_frames("fast_retry.pcap", GEN.CLAN))
    assert status is Status.FAIL
    assert list(bad) == ["mgc.spacing"]
    assert len(syns) == 21  # 20 every 2 s, then the PE answers
    assert bad["mgc.spacing"] == syns[1:]
    assert "median gap 2.0 s, expected 10 s ± 3 s" in summary


def test_lsp_before_ess_fails_order() -> None:
    status, bad, summary = one_flow("lsp_before_ess.pcap")
    lsp = syn_frames("lsp_before_ess.pcap", GEN.LSP)[0]
    assert status is Status.FAIL
    assert bad == {"mgc.order": [lsp]}
    assert "expected ESS 198.51.100.20" in summary


def test_trying_past_total_search_fails() -> None:
    status, bad, summary = one_flow("past_total_search.pcap")
    syns = sorted(
        n
        for c in (GEN.PE, GEN.CLAN, GEN.ESS, GEN.LSP)
        for n in syn_frames("past_total_search.pcap", c)
    )
    assert len(syns) == 90 + 12
    # the 12 attempts from +15:00 on; +15:00 itself is within the tolerance
    assert status is Status.FAIL
    assert list(bad) == ["mgc.total-search"]
    assert bad["mgc.total-search"] == syns[91:]
    assert "still trying after total-search expired at +15:00" in summary


def test_no_gateway_traffic_is_an_error() -> None:
    flows = analyze_file(MGC / "no_gateway.pcap", params=PARAMS)
    assert [(f.status, f.findings[0].rule) for f in flows] == [(Status.ERROR, "mgc.no-traffic")]
    assert "no H.248 registration traffic from gateway 192.0.2.50" in flows[0].summary


def test_controllers_on_an_unexpected_port() -> None:
    flows = analyze_file(MGC / "odd_port.pcap", params=PARAMS)
    assert flows[0].status is Status.ERROR
    rules = [(f.rule, f.frames) for f in flows[0].findings if f.severity is not Status.PASS]
    assert rules == [
        ("mgc.unexpected-port", (1, 3)),
        ("mgc.unexpected-port", (2,)),
        ("mgc.no-attempts", ()),
    ]
    assert "on port 3000" in flows[0].summary


def test_megaco_servicechange_over_udp_registers() -> None:
    flow = analyze_file(MGC / "servicechange_udp.pcap", params=PARAMS)[0]
    registered = next(f for f in flow.findings if f.rule == "mgc.registered")
    assert registered.frames == (1, 2)


def _syn(n: int, ts: float, dst: str, sport: int) -> Frame:
    return Frame(n, ts, "10.9.0.5", dst, 6, sport, 2945, tcp_flags=SYN)


def test_in_memory_frames_infer_gateway_and_controllers() -> None:
    frames = [_syn(i + 1, 10.0 * i, ("10.1.0.1", "10.1.0.2")[i % 2], 50000 + i) for i in range(4)]
    frames.append(Frame(5, 30.01, "10.1.0.2", "10.9.0.5", 6, 2945, 50003, tcp_flags=SYN | ACK))
    frames.append(Frame(6, 30.02, "10.1.0.2", "10.9.0.5", 6, 2945, 50003, b"\x17\x03\x03", ACK))
    flows = analyze_frames(frames, None)
    assert len(flows) == 1 and flows[0].key == "10.9.0.5"
    rules = {f.rule: f for f in flows[0].findings}
    assert "inferred from the capture" in rules["mgc.gateway"].message
    assert rules["mgc.controllers"].severity is Status.WARN
    assert rules["mgc.registered"].frames == (4, 6)
    assert flows[0].status is Status.WARN


def test_megaco_parser_long_and_short_forms() -> None:
    tpkt = bytes([3, 0, 0, 0])
    body = b"!/1 [10.0.0.1]:2944 T=7{C=-{SC=ROOT{SV{MT=FO}}}}"
    framed = tpkt[:2] + (len(body) + 4).to_bytes(2, "big") + body
    (msg,) = parse_payload(framed)
    assert (msg.kind, msg.transaction_id, msg.service_change, msg.method) == (
        "request",
        7,
        True,
        "FO",
    )
    (err,) = parse_payload(b"MEGACO/1 [10.0.0.9]:2944\nReply = 7 { Error = 403 }")
    assert (err.kind, err.error) == ("reply", "403")
    assert parse_payload(b"\x16\x03\x01\x00\x05hello") == []
    assert UDP == 17


def test_reset_passes_only_when_the_search_stopped_in_time() -> None:
    in_time = analyze_file(MGC / "total_search_reset.pcap", params=PARAMS)[0]
    (reset,) = [f for f in in_time.findings if f.rule == "mgc.reset"]
    assert reset.severity is Status.PASS and "it resets, as expected" in reset.message
    late = analyze_file(MGC / "past_total_search.pcap", params=PARAMS)[0]
    rules = [f.rule for f in late.findings]
    assert "mgc.total-search" in rules
    assert "mgc.reset" not in rules, "no 'resets, as expected' beside a total-search FAIL"


def test_a_port_scan_by_the_gateway_keeps_a_bounded_table() -> None:
    """SYNs from the gateway to 5,000 ports of a controller: the first MAX_ODD_PORTS pairs
    are listed, the rest counted in one finding (the table held one entry per port)."""
    from ecc_doctor.captures.mgc.observe import MAX_ODD_PORTS, Observer

    frames = [
        Frame(n + 1, 1000.0 + n / 100, GEN.GW, GEN.PE, 6, 40000 + n, 3000 + n, b"", SYN)
        for n in range(5000)
    ]
    observer = Observer(PARAMS.ports, tuple(c.address for c in PARAMS.wire_entries), GEN.GW)
    for frame in frames:
        observer.feed(frame)
    (gw,) = observer.obs.gateways.values()
    assert len(gw.odd_ports) == MAX_ODD_PORTS and gw.odd_ports_more == 5000 - MAX_ODD_PORTS
    (flow,) = analyze_frames(frames, PARAMS)
    odd = [f for f in flow.findings if f.rule == "mgc.unexpected-port"]
    assert len(odd) == MAX_ODD_PORTS + 1
    assert odd[-1].message == (
        f"gateway {GEN.GW} also sent {5000 - MAX_ODD_PORTS} SYNs to further ports or "
        f"controllers, not listed (only the first {MAX_ODD_PORTS} are)"
    )


def test_a_flood_of_retransmitted_syns_keeps_a_bounded_attempt() -> None:
    """20,000 copies of one SYN are one attempt, which keeps MAX_RETRANSMISSIONS frames."""
    from ecc_doctor.captures.mgc.observe import MAX_RETRANSMISSIONS, Observer

    frames = [
        Frame(n + 1, 1000.0 + n / 1000, GEN.GW, GEN.PE, 6, 40000, 2945, b"", SYN)
        for n in range(20_000)
    ]
    observer = Observer(PARAMS.ports, tuple(c.address for c in PARAMS.wire_entries), GEN.GW)
    for frame in frames:
        observer.feed(frame)
    (gw,) = observer.obs.gateways.values()
    (attempt,) = gw.attempts
    assert attempt.frame == 1 and len(attempt.retransmissions) == MAX_RETRANSMISSIONS
