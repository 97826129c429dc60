"""Analyzer behaviour on hand-built Frame records: several searches, late detection, SLS."""

from __future__ import annotations

from ecc_doctor.captures.mgc import MgcParams, analyze_frames
from ecc_doctor.captures.records import ACK, PSH, RST, SYN, TCP, Frame
from ecc_doctor.models import Status

GW, PE, ESS = "10.9.0.5", "10.1.0.1", "10.2.0.1"


class Frames:
    def __init__(self) -> None:
        self.items: list[Frame] = []
        self.port = 50000

    def add(
        self,
        ts: float,
        src: str,
        dst: str,
        sport: int,
        dport: int,
        flags: int,
        payload: bytes = b"",
    ) -> None:
        self.items.append(
            Frame(len(self.items) + 1, ts, src, dst, TCP, sport, dport, payload, flags)
        )

    def attempt(self, ts: float, dst: str, answer: bool = False) -> None:
        self.port += 1
        self.add(ts, GW, dst, self.port, 2945, SYN)
        if answer:
            self.add(ts + 0.01, dst, GW, 2945, self.port, SYN | ACK)
            self.add(ts + 0.02, dst, GW, 2945, self.port, PSH | ACK, b"\x17\x03\x03\x00\x10")

    def keepalive(self, ts: float, controller: str, sport: int) -> None:
        self.add(ts, GW, controller, sport, 2945, PSH | ACK, b"\x17\x03\x03\x00\x10")
        self.add(ts + 0.05, controller, GW, 2945, sport, PSH | ACK, b"\x17\x03\x03\x00\x10")


def test_two_searches_in_one_capture() -> None:
    params = MgcParams.of([PE, ESS], primary_search_min=1, total_search_min=3, gateway=GW)
    f = Frames()
    for i in range(3):
        f.attempt(10.0 * i, PE, answer=i == 2)
    f.add(100.0, PE, GW, 2945, f.port, RST)  # the new link breaks again
    for i in range(6):
        f.attempt(100.1 + 10 * i, PE)
    f.attempt(160.1, ESS, answer=True)
    flows = analyze_frames(f.items, params)
    assert [(x.key, x.status) for x in flows] == [
        (GW, Status.PASS),
        (f"{GW} search 2", Status.PASS),
    ]
    second = {x.rule: x for x in flows[1].findings}
    assert "TCP RST" in second["mgc.loss"].message
    assert (
        "registered to #2 10.2.0.1 (entry 2, below TP) at +1:00" in second["mgc.registered"].message
    )


def test_late_detection_of_a_silent_loss_warns() -> None:
    params = MgcParams.of([PE], primary_search_min=1, total_search_min=2, gateway=GW)
    f = Frames()
    f.keepalive(0.0, PE, 40000)
    f.attempt(90.0, PE, answer=True)  # 90 s after the last traffic: beyond 60 s + 3 s
    flows = analyze_frames(f.items, params)
    detection = [x for x in flows[0].findings if x.rule == "mgc.detection"]
    assert detection and detection[0].severity is Status.WARN
    assert detection[0].frames == (2, 3)
    assert "within 40-60 s of a silent link loss" in detection[0].message


def test_sls_slot_leaves_a_gap_that_is_not_a_spacing_fault() -> None:
    params = MgcParams.of([PE, ESS], primary_search_min=1, total_search_min=2, sls=True, gateway=GW)
    f = Frames()
    for i in range(6):
        f.attempt(10.0 * i, PE)
    f.attempt(60.0, ESS)  # then SLS (inside the gateway) at 70: nothing on the wire
    f.attempt(80.0, PE)
    f.attempt(90.0, ESS, answer=True)
    flows = analyze_frames(f.items, params)
    assert flows[0].status is Status.PASS, flows[0].findings


def test_steady_link_without_failover_warns() -> None:
    f = Frames()
    for i in range(3):
        f.keepalive(10.0 * i, PE, 40000)
    flows = analyze_frames(f.items, None)
    assert [(x.key, x.status, x.findings[0].rule) for x in flows] == [
        (GW, Status.WARN, "mgc.no-failover")
    ]
    assert "keeps its H.248 link to 10.1.0.1 (last answer frame 6)" in flows[0].summary


def test_observer_state_stays_bounded() -> None:
    """Many connections and attempts: the tables are capped, the stream is not kept."""
    from ecc_doctor.captures.mgc import observe

    obs = observe.Observer((2945,), (PE,), GW)

    def frames():  # a generator: analyze never needs the list
        for i in range(3 * observe.MAX_CONNECTIONS):
            port = 1024 + i
            yield Frame(2 * i + 1, float(i), GW, PE, TCP, port, 2945, b"x", PSH | ACK)
            yield Frame(2 * i + 2, float(i), PE, GW, TCP, 2945, port, b"y", PSH | ACK)

    for record in frames():
        obs.feed(record)
    gw = obs.obs.gateways[GW]
    assert len(gw.conns) <= observe.MAX_CONNECTIONS
    assert len(gw.sessions) <= observe.MAX_CONNECTIONS
    assert obs.obs.frames == 6 * observe.MAX_CONNECTIONS


def test_servicechange_split_over_two_tcp_segments() -> None:
    body = b"MEGACO/1 [10.9.0.5]:2944\nTransaction = 9 { Context = - { ServiceChange = ROOT {} } }"
    sc = bytes([3, 0]) + (len(body) + 4).to_bytes(2, "big") + body
    answer = b"MEGACO/1 [10.1.0.1]:2944\nReply = 9 { Context = - { ServiceChange = ROOT {} } }"
    rp = bytes([3, 0]) + (len(answer) + 4).to_bytes(2, "big") + answer
    f = Frames()
    f.add(0.0, GW, PE, 50001, 2945, SYN)
    f.add(0.01, PE, GW, 2945, 50001, SYN | ACK)
    f.add(0.02, GW, PE, 50001, 2945, PSH | ACK, sc[:30])
    f.add(0.03, GW, PE, 50001, 2945, PSH | ACK, sc[30:])
    f.add(0.04, PE, GW, 2945, 50001, PSH | ACK, rp[:3])
    f.add(0.05, PE, GW, 2945, 50001, PSH | ACK, rp[3:])
    params = MgcParams.of([PE], gateway=GW)
    (flow,) = analyze_frames(f.items, params)
    registered = next(x for x in flow.findings if x.rule == "mgc.registered")
    assert registered.frames == (1, 6)


def test_capture_starting_mid_search_follows_the_cycle() -> None:
    clan = "10.1.0.2"
    params = MgcParams.of([PE, clan, ESS], transition_point=2, gateway=GW)
    f = Frames()
    for i, target in enumerate([clan, PE, clan]):
        f.attempt(10.0 * i, target)
    f.attempt(30.0, PE, answer=True)
    (flow,) = analyze_frames(f.items, params)
    assert flow.status is Status.PASS, flow.findings
