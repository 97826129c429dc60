"""A capture that begins during the search: the timers cannot be measured, only bounded."""

from __future__ import annotations

import dataclasses

from ecc_doctor.captures.mgc import MgcParams, analyze_frames
from ecc_doctor.captures.records import ACK, PSH, SYN, TCP, UDP, Frame
from ecc_doctor.models import Status

GW = "192.0.2.50"
PE, CLAN, ESS, LSP = "192.0.2.10", "192.0.2.11", "198.51.100.20", "203.0.113.30"
PARAMS = MgcParams.of(
    [f"PE={PE}", f"CLAN={CLAN}", f"ESS={ESS}", f"LSP={LSP}"],
    transition_point=2,
    primary_search_min=10,
    total_search_min=15,
    gateway=GW,
)
REPLY = b"MEGACO/1 [198.51.100.20]:2944\nReply = 7 { Context = - { ServiceChange = ROOT {} } }"
REQUEST = b"MEGACO/1 [192.0.2.50]:2944\nTransaction = 7 { Context = - { ServiceChange = ROOT {} } }"


def _tpkt(body: bytes) -> bytes:
    return bytes([3, 0]) + (len(body) + 4).to_bytes(2, "big") + body


def _search(crossing_at: float, after: tuple[str, ...] = ()) -> list[Frame]:
    """The capture starts at +5:00 of a search: PE/C-LAN every 10 s (no earlier session), then
    the ESS accepts the ServiceChange *crossing_at* s after the first attempt in the capture."""
    frames: list[Frame] = []

    def add(ts: float, src: str, dst: str, sp: int, dp: int, flags: int, data: bytes = b"") -> None:
        frames.append(Frame(len(frames) + 1, ts, src, dst, TCP, sp, dp, data, flags))

    t, i = 0.0, 0
    while t < crossing_at:
        add(t, GW, (PE, CLAN)[i % 2], 41000 + i, 2945, SYN)
        t, i = t + 10.0, i + 1
    for target in after:
        add(t, GW, target, 41000 + i, 2945, SYN)
        t, i = t + 10.0, i + 1
    add(t, GW, ESS, 42000, 2945, SYN)
    add(t + 0.01, ESS, GW, 2945, 42000, SYN | ACK)
    add(t + 0.02, GW, ESS, 42000, 2945, PSH | ACK, _tpkt(REQUEST))
    add(t + 0.05, ESS, GW, 2945, 42000, PSH | ACK, _tpkt(REPLY))
    return frames


def test_capture_starting_mid_outage_warns_with_the_lower_bound() -> None:
    (flow,) = analyze_frames(_search(300.0), PARAMS)
    bad = {f.rule: f for f in flow.findings if f.severity is not Status.PASS}
    assert flow.status is Status.WARN, flow.findings
    assert set(bad) == {"mgc.timers-unmeasured"}
    text = bad["mgc.timers-unmeasured"].message
    assert "at least +5:00 after the loss" in text
    assert "primary-search (+10:00) cannot be checked" in text
    assert bad["mgc.timers-unmeasured"].frames == (31,)


def test_mid_outage_order_after_the_crossing_is_still_judged() -> None:
    # after the crossing: LSP before the ESS is a wrong order, whatever the loss time
    (flow,) = analyze_frames(_search(300.0, after=(LSP,)), PARAMS)
    bad = {f.rule: f for f in flow.findings if f.severity is Status.FAIL}
    assert set(bad) == {"mgc.order"}, flow.findings
    assert "tried LSP 203.0.113.30" in bad["mgc.order"].message


def test_above_tp_past_primary_search_is_still_late_without_a_loss() -> None:
    # a lower bound that already exceeds primary-search proves the late crossing
    (flow,) = analyze_frames(_search(620.0), PARAMS)
    bad = {f.rule for f in flow.findings if f.severity is Status.FAIL}
    assert "mgc.late-crossing" in bad


def test_a_search_that_begins_inside_the_capture_is_measured_not_bounded() -> None:
    """Review s7 #2: 120 s of capture before the gateway's first attempt (a searching gateway
    retries every 10 s): the search began in the capture, so a crossing 20 s into a 10 min
    primary-search is a measured early crossing (FAIL), not a lower bound (WARN)."""
    lead_in = Frame(1, 0.0, GW, "192.0.2.1", UDP, 40000, 161, b"x", 0)
    search = [dataclasses.replace(f, frame=f.frame + 1, ts=f.ts + 120.0) for f in _search(20.0)]
    (flow,) = analyze_frames([lead_in, *search], PARAMS)
    bad = {f.rule for f in flow.findings if f.severity is not Status.PASS}
    assert flow.status is Status.FAIL, flow.findings
    assert "mgc.early-crossing" in bad and "mgc.timers-unmeasured" not in bad
    # the same search with the capture starting at its first attempt stays a lower bound
    (bounded,) = analyze_frames(_search(20.0), PARAMS)
    assert {f.rule for f in bounded.findings if f.severity is Status.WARN} == {
        "mgc.timers-unmeasured"
    }
