"""Quiet calls are parked (serialized) while they wait; late messages still count.

Every 1,000 messages the analyzer parks the calls quiet for a second (issue #6: memory flat
on a capture shorter than the 64*T1 an ended call is kept). A late retransmission for a
parked call must be judged as if the call had stayed in memory, and a parked call must
come back unchanged.
"""

from __future__ import annotations

import pickle
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
from tests.conftest import FIXTURES

from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.reader import PcapEngine
from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sip.analyze import analyze_records
from ecc_doctor.captures.sip.common import MAX_FLOW_FRAMES, FlowDraft
from ecc_doctor.captures.sip.message import SipMsg, parse
from ecc_doctor.captures.sip.prack import (
    CallState,
    EarlyDialog,
    InviteTracker,
    InviteTxn,
    ParkedCall,
    PrackTxn,
    Reliable,
    park_call,
    unpark,
)
from ecc_doctor.models import Finding, Status

UAC, UAS = ("10.0.0.1", 5060), ("10.0.0.2", 5060)


class Wire:
    def __init__(self) -> None:
        self.records: list[SipMessage] = []
        self.ts = 1000.0

    def send(self, src: tuple[str, int], dst: tuple[str, int], text: str, dt: float = 0.005) -> int:
        self.ts += dt
        data = (text.strip("\n") + "\n\n").replace("\n", "\r\n").encode()
        frame = len(self.records) + 1
        self.records.append(SipMessage((frame,), self.ts, *src, *dst, "UDP", data))
        return frame


def msg(call: str, first: str, cseq: str, branch: str, to_tag: str = "", extra: str = "") -> str:
    lines = [
        first,
        f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{branch}",
        f"From: <sip:a@example.com>;tag=fa-{call}",
        f"To: <sip:b@example.com>{';tag=' + to_tag if to_tag else ''}",
        f"Call-ID: {call}",
        f"CSeq: {cseq}",
        *([extra] if extra else []),
        "Content-Length: 0",
    ]
    return "\n".join(lines)


def call(w: Wire, cid: str) -> dict[str, int]:
    """A complete 100rel call: INVITE, reliable 183, PRACK and its 200, 200, ACK, BYE, 200."""
    f = {}
    f["invite"] = w.send(UAC, UAS, msg(cid, "INVITE sip:b@10.0.0.2 SIP/2.0", "1 INVITE", f"{cid}i", extra="Supported: 100rel"))  # fmt: skip
    f["183"] = w.send(UAS, UAC, msg(cid, "SIP/2.0 183 Session Progress", "1 INVITE", f"{cid}i", "tb", "Require: 100rel\nRSeq: 1"))  # fmt: skip
    w.send(UAC, UAS, msg(cid, "PRACK sip:b@10.0.0.2 SIP/2.0", "2 PRACK", f"{cid}p", "tb", "RAck: 1 1 INVITE"))  # fmt: skip
    w.send(UAS, UAC, msg(cid, "SIP/2.0 200 OK", "2 PRACK", f"{cid}p", "tb"))
    w.send(UAS, UAC, msg(cid, "SIP/2.0 200 OK", "1 INVITE", f"{cid}i", "tb"))
    w.send(UAC, UAS, msg(cid, "ACK sip:b@10.0.0.2 SIP/2.0", "1 ACK", f"{cid}a", "tb"))
    w.send(UAC, UAS, msg(cid, "BYE sip:b@10.0.0.2 SIP/2.0", "3 BYE", f"{cid}b", "tb"))
    w.send(UAS, UAC, msg(cid, "SIP/2.0 200 OK", "3 BYE", f"{cid}b", "tb"))
    return f


def test_late_retransmission_for_a_parked_call_is_judged() -> None:
    w = Wire()
    first = call(w, "early")
    for n in range(140):  # 1,120 more messages, 5 s: the ended call is parked at the 1,000th
        call(w, f"filler-{n}")
    late = w.send(UAS, UAC, msg("early", "SIP/2.0 183 Session Progress", "1 INVITE", "earlyi", "tb", "Require: 100rel\nRSeq: 1"))  # fmt: skip
    a = analyze_records(w.records)
    assert a.messages == 8 * 141 + 1
    (flow,) = [f for f in a.flows if f.call_id == "early"]
    assert late in flow.frames and first["invite"] in flow.frames
    warn, passed = [x for x in flow.findings if x.rule == "sip.prack.retransmit"]
    assert warn.severity is Status.WARN and warn.frames == (late,)
    assert passed.severity is Status.PASS and passed.frames == (first["183"], late)
    assert "still retransmitted after its PRACK" in warn.message
    others = [f for f in a.flows if f.call_id != "early"]
    assert len(others) == 140 and all(f.status is Status.PASS for f in others)


def test_parked_calls_come_back_unchanged() -> None:
    records = [
        r
        for r in PcapEngine().sip(FIXTURES / "sip" / "prack-retrans-udp.pcap", (5060, 5061))
        if isinstance(r, SipMessage)
    ]
    tracker = InviteTracker(max_calls=100)
    for rec in records:
        parsed = parse(rec)
        if isinstance(parsed, SipMsg):
            tracker.feed(parsed)
    live = [(k, v) for k, v in tracker.calls.items() if isinstance(v, CallState)]
    assert live
    copies = {key: pickle.loads(pickle.dumps(state)) for key, state in live}  # independent
    tracker.park(float("inf"))  # everything is quiet long enough
    for key, state in live:
        parked = tracker.calls.peek(key)
        assert isinstance(parked, ParkedCall) and parked.last_ts == state.draft.last_ts
        assert parked.ended == state.ended
        assert unpark(parked) == copies[key]
    assert not tracker.live


def _rich_call() -> CallState:
    """A call with every field of every parked object set to something not its default."""
    draft = FlowDraft(
        "invite",
        "k",
        "c@h",
        aor="sip:b@h",
        frames=[1, 2, 5],
        findings=[
            Finding("sip.prack.rseq", Status.FAIL, "RSeq jumped", (2, 5), "RFC 3262 §3"),
            Finding("sip.prack.order", Status.WARN, "order", (5,)),
        ],
        dropped_findings=3,
        first_ts=10.25,
        last_ts=12.5,
        problems={"bad Via": [2, 5]},
        cut=[5],
    )
    reliable = Reliable(
        1, 183, [2, 3], [10.5, 11.0], sdp=True, pracked=True, prack_frames=[4],
        retrans_after_prack=[3], sent=2,
    )  # fmt: skip
    txn = InviteTxn(
        cseq=1, branch="z9hG4bKa", src="10.0.0.1", dst="10.0.0.2", frames=[1], ts=10.25,
        offers_100rel=True, early={"tb": EarlyDialog("tb", 1, {1: reliable})}, final=486,
        final_reason="Busy Here", final_frames=[6], retrans=2, with_auth=True, sport=5062,
        dport=5060,
    )  # fmt: skip
    prack = PrackTxn("z9hG4bKp", "10.0.0.1", "10.0.0.2", [4], 11.5, "1 1 INVITE", answer=200)
    return CallState(
        draft=draft,
        txns=[txn],
        pracks={("z9hG4bKp", "10.0.0.1", "10.0.0.2"): prack},
        cseq_by_tag={"fa|tb": 2},
        seen_requests={("z9hG4bKa", 1, "INVITE")},
        reliable_count=1,
        prack_count=1,
        digest_checked={(1, "INVITE")},
        prack_cseqs={2},
        ended=True,
    )


def _non_default_everywhere(obj: object) -> None:
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        assert value != default, f"{type(obj).__name__}.{f.name} left at its default"


def test_every_field_of_a_parked_call_comes_back() -> None:
    call = _rich_call()
    txn = call.txns[0]
    for obj in (call, call.draft, txn, txn.early["tb"], txn.early["tb"].reliable[1]):
        _non_default_everywhere(obj)  # a new field must be added to prack._pack too
    _non_default_everywhere(call.pracks[("z9hG4bKp", "10.0.0.1", "10.0.0.2")])
    copy = pickle.loads(pickle.dumps(call))
    parked = park_call(call)
    assert (parked.last_ts, parked.ended) == (12.5, True)
    assert parked.confirmed is False  # 486
    back = unpark(parked)
    assert back == copy
    assert [f.severity for f in back.draft.findings] == [Status.FAIL, Status.WARN]
    back.txns[0].frames.append(9)  # nothing shared with the parked state
    assert unpark(parked) == copy


PRACK_CAPTURES = sorted((FIXTURES / "sip").glob("prack-*.pcap"))


def _messages(path: Path) -> list[SipMsg]:
    parsed = [parse(r) for r in PcapEngine().sip(path, (5060, 5061)) if isinstance(r, SipMessage)]
    return [m for m in parsed if isinstance(m, SipMsg)]


def _flows(msgs: list[SipMsg], *, park: bool, timing_lost: bool, later: float) -> list[Flow]:
    tracker = InviteTracker(max_calls=100)
    for msg in msgs:
        tracker.feed(msg)
    if park:
        tracker.park(float("inf"))
        assert all(isinstance(state, ParkedCall) for _, state in tracker.calls.items())
    if timing_lost:
        tracker.timing = False  # the capture clock turned out implausible after parking
    tracker.end_ts += later  # the capture went on without these calls
    return tracker.finish_all()


@pytest.mark.parametrize("path", PRACK_CAPTURES, ids=lambda p: p.stem)
@pytest.mark.parametrize("timing_lost", [False, True])
@pytest.mark.parametrize("later", [0.0, 100.0])
def test_parked_calls_give_the_flows_of_calls_never_parked(
    path: Path, timing_lost: bool, later: float
) -> None:
    """A parked call whose flow cannot change any more keeps it ready (and is not restored to
    be finished); one whose verdicts depend on the end of the capture or on timing is
    restored. Either way the flows are those of calls that stayed in memory."""
    msgs = _messages(path)
    kept = _flows(msgs, park=False, timing_lost=timing_lost, later=later)
    assert kept and _flows(msgs, park=True, timing_lost=timing_lost, later=later) == kept


def _unsettled_calls() -> list[SipMsg]:
    """A call whose PRACK is never answered, and one whose reliable 183 is never PRACKed."""
    w = Wire()
    w.send(UAC, UAS, msg("p", "INVITE sip:b@10.0.0.2 SIP/2.0", "1 INVITE", "pi", extra="Supported: 100rel"))  # fmt: skip
    w.send(UAS, UAC, msg("p", "SIP/2.0 183 Session Progress", "1 INVITE", "pi", "tb", "Require: 100rel\nRSeq: 1"))  # fmt: skip
    w.send(UAC, UAS, msg("p", "PRACK sip:b@10.0.0.2 SIP/2.0", "2 PRACK", "pp", "tb", "RAck: 1 1 INVITE"))  # fmt: skip
    w.send(UAS, UAC, msg("p", "SIP/2.0 200 OK", "1 INVITE", "pi", "tb"))
    w.send(UAC, UAS, msg("r", "INVITE sip:b@10.0.0.2 SIP/2.0", "1 INVITE", "ri", extra="Supported: 100rel"))  # fmt: skip
    w.send(UAS, UAC, msg("r", "SIP/2.0 183 Session Progress", "1 INVITE", "ri", "tb", "Require: 100rel\nRSeq: 1"))  # fmt: skip
    parsed = [parse(rec) for rec in w.records]
    return [m for m in parsed if isinstance(m, SipMsg)]


@pytest.mark.parametrize("later", [0.0, 100.0])
def test_calls_judged_at_the_end_of_the_capture_are_restored_to_be_finished(later: float) -> None:
    msgs = _unsettled_calls()
    kept = _flows(msgs, park=False, timing_lost=False, later=later)
    assert {f.status for f in kept} == {Status.FAIL if later else Status.WARN}
    assert _flows(msgs, park=True, timing_lost=False, later=later) == kept


def test_only_settled_calls_are_parked_with_their_flow() -> None:
    ready = {}
    for path in PRACK_CAPTURES:
        tracker = InviteTracker(max_calls=100)
        for msg in _messages(path):
            tracker.feed(msg)
        tracker.park(float("inf"))
        for key, state in tracker.calls.items():
            assert isinstance(state, ParkedCall)
            ready[f"{path.stem}/{key}"] = state.flow is not None
    # both kinds occur in these captures: unanswered PRACKs, retransmitted reliable 1xx
    assert any(ready.values()) and not all(ready.values())


def test_a_flood_of_copies_is_counted_in_bounded_memory() -> None:
    """One INVITE and its reliable 183 sent 2,000 times each (a looping peer, a hostile
    capture): every copy is counted, but the call keeps at most MAX_FLOW_FRAMES frames per
    list, so memory does not grow with the flood."""
    w = Wire()
    cid = "flood"
    invite = msg(cid, "INVITE sip:b@10.0.0.2 SIP/2.0", "1 INVITE", "fi", extra="Supported: 100rel")
    ringing = msg(cid, "SIP/2.0 183 Session Progress", "1 INVITE", "fi", "tb", "Require: 100rel\nRSeq: 1")  # fmt: skip
    first = w.send(UAC, UAS, invite)
    for _ in range(1_999):  # 6 ms apart: not byte-identical copies captured twice (5 ms)
        w.send(UAC, UAS, invite, dt=0.006)
    for _ in range(2_000):
        w.send(UAS, UAC, ringing, dt=0.006)
    w.send(UAC, UAS, msg(cid, "PRACK sip:b@10.0.0.2 SIP/2.0", "2 PRACK", "fp", "tb", "RAck: 1 1 INVITE"))  # fmt: skip
    w.send(UAS, UAC, msg(cid, "SIP/2.0 200 OK", "2 PRACK", "fp", "tb"))
    w.send(UAS, UAC, msg(cid, "SIP/2.0 200 OK", "1 INVITE", "fi", "tb"))
    tracker = InviteTracker(max_calls=10)
    for rec in w.records:
        parsed = parse(rec)
        assert isinstance(parsed, SipMsg)
        tracker.feed(parsed)
    state = tracker.calls.peek(cid)
    assert isinstance(state, CallState)
    (txn,) = state.txns
    (rel,) = [r for d in txn.early.values() for r in d.reliable.values()]
    assert txn.retrans == 1_999 and rel.sent == 2_000
    assert len(txn.frames) <= MAX_FLOW_FRAMES and len(rel.frames) <= MAX_FLOW_FRAMES
    a = analyze_records(w.records)
    (flow,) = a.flows
    (sent,) = [x for x in flow.findings if "sent 2000 times" in x.message]
    assert sent.frames[0] == first + 2_000 and len(sent.frames) <= MAX_FLOW_FRAMES
