"""Many gateways in one capture (a site-wide outage seen at the CM): all judged, none dropped
silently."""

from __future__ import annotations

import dataclasses

from ecc_doctor.captures.mgc import MgcParams, analyze_frames
from ecc_doctor.captures.mgc.observe import MAX_GATEWAYS
from ecc_doctor.captures.records import ACK, PSH, RST, SYN, TCP, Frame
from ecc_doctor.models import Status

PE, CLAN, ESS, LSP = "10.1.0.10", "10.1.0.11", "10.2.0.20", "10.3.0.30"
PARAMS = MgcParams.of(
    [PE, CLAN, ESS, LSP], transition_point=2, primary_search_min=2, total_search_min=3
)


def _failovers(count: int, early: str) -> list[Frame]:
    """*count* gateways lose the PE by RST and reach the ESS at +2:00; *early* at +0:20."""
    frames: list[Frame] = []

    def add(ts: float, src: str, dst: str, sp: int, dp: int, flags: int, data: bytes = b"") -> None:
        frames.append(Frame(len(frames) + 1, ts, src, dst, TCP, sp, dp, data, flags))

    for n in range(count):
        gw, off = f"10.9.{n // 250}.{n % 250 + 1}", n * 0.001
        add(off, gw, PE, 39000, 2945, PSH | ACK, b"\x17\x03\x03\x00\x10")
        add(off + 0.01, PE, gw, 2945, 39000, RST)
        crossing = 20 if gw == early else 120
        for i in range(crossing // 10):
            add(off + 0.1 + 10 * i, gw, (PE, CLAN)[i % 2], 40000 + i, 2945, SYN)
        add(off + 0.1 + crossing, gw, ESS, 41000, 2945, SYN)
        add(off + 0.2 + crossing, ESS, gw, 2945, 41000, SYN | ACK)
        add(off + 0.3 + crossing, ESS, gw, 2945, 41000, PSH | ACK, b"\x17\x03\x03\x00\x10")
    frames.sort(key=lambda f: f.ts)
    return [dataclasses.replace(f, frame=i + 1) for i, f in enumerate(frames)]


def test_seventy_gateways_are_all_judged_and_the_seventieth_fails() -> None:
    flows = analyze_frames(_failovers(70, early="10.9.0.70"), PARAMS)
    assert len(flows) == 70
    bad = [(f.key, f.status) for f in flows if f.status is not Status.PASS]
    assert bad == [("10.9.0.70", Status.FAIL)]


def test_gateways_past_the_cap_are_reported_as_a_warning() -> None:
    flows = analyze_frames(_failovers(MAX_GATEWAYS + 3, early=""), PARAMS)
    skipped = [f for f in flows if f.findings[0].rule == "mgc.too-many-gateways"]
    assert len(skipped) == 1 and skipped[0].status is Status.WARN
    assert f"3 gateways beyond the first {MAX_GATEWAYS} were not analyzed" in skipped[0].summary
    assert Status.worst([f.status for f in flows]) is Status.WARN


def test_a_count_past_what_can_be_told_apart_is_a_lower_bound() -> None:
    """Review s7 #4: once MAX_GATEWAYS skipped addresses are remembered, a later frame of any
    unseen gateway was counted as a new gateway (2452 for 1500); now "at least"."""
    flows = analyze_frames(_failovers(2 * MAX_GATEWAYS + 5, early=""), PARAMS)
    (skipped,) = [f for f in flows if f.findings[0].rule == "mgc.too-many-gateways"]
    assert f"at least {MAX_GATEWAYS} gateways beyond the first {MAX_GATEWAYS}" in skipped.summary
