"""Messages cut by the snapshot length inside their headers: no FAIL that the cut may have
made (a missing nonce, CSeq or Authorization), and a flow-level capture.snaplen finding."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import FIXTURES, require_tool
from tests.pcapwrite import UDP, cut_snaplen, ipv4_frame, write_pcap

from ecc_doctor.captures.engines import get_engine
from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sip.analyze import analyze_file
from ecc_doctor.models import Status

ZEEK = FIXTURES / "captures" / "zeek-sip-wireshark.pcap"
SIP = FIXTURES / "sip"
SOFTENED = "[WARN, not FAIL: the snapshot length cut messages]"


def _fails(path: Path, engine: str = "scapy") -> list[tuple[str, str]]:
    a = analyze_file(path, engine=engine)
    return [(f.rule, f.message) for fl in a.flows for f in fl.findings if f.severity is Status.FAIL]


def test_cut_challenges_and_acks_are_not_failed(tmp_path: Path) -> None:
    # 420 bytes: the 401s lose their nonce, REGISTERs their CSeq; uncut, no such FAIL
    assert not any(rule == "sip.register.challenge" for rule, _ in _fails(ZEEK))
    path = cut_snaplen(ZEEK, tmp_path / "cut420.pcap", 420)
    a = analyze_file(path)
    fails = [
        (f.rule, f.message) for fl in a.flows for f in fl.findings if f.severity is Status.FAIL
    ]
    # only the start-line fact survives as FAIL: a 403 is a 403 however little was captured
    assert fails and {rule for rule, _ in fails} == {"sip.register.rejected"}
    softened = [f for fl in a.flows for f in fl.findings if f.message.endswith(SOFTENED)]
    assert {f.rule for f in softened} >= {"sip.register.challenge", "sip.register.incomplete"}
    assert all(f.severity is Status.WARN for f in softened)
    flow = next(fl for fl in a.flows if fl.aor == "sip:voi18062@sip.cybercity.dk")
    assert flow.status is Status.WARN
    note = next(f for f in flow.findings if f.rule == "capture.snaplen")
    assert note.severity is Status.WARN and "tcpdump -s 0" in note.message
    assert "6 FAIL verdicts on cut messages, which may come from the capture" in note.message


def test_cut_acks_in_invite_dialogs_are_not_failed(tmp_path: Path) -> None:
    # 330 bytes: ACKs lose their CSeq ("CSeq -1, not the INVITE's CSeq" was a FAIL)
    path = cut_snaplen(ZEEK, tmp_path / "cut330.pcap", 330)
    invites = [fl for fl in analyze_file(path).flows if fl.kind == "invite"]
    assert invites and all(fl.status is Status.WARN for fl in invites)
    acks = [f for fl in invites for f in fl.findings if f.rule == "sip.prack.ack-cseq"]
    assert acks and all(f.severity is Status.WARN for f in acks)


def test_a_flow_with_cut_headers_is_not_passed_on_trust(tmp_path: Path) -> None:
    # 500 bytes: the de-register's Expires: 0 is cut off, so it looks like a registration.
    # Nothing FAILs, but the flow says its verdicts read part of the headers only.
    whole = analyze_file(SIP / "register-udp.pcap", passwords={"alice": "alice-Lab-pw1"})
    assert [fl.status for fl in whole.flows] == [Status.PASS]
    path = cut_snaplen(SIP / "register-udp.pcap", tmp_path / "cut500.pcap", 500)
    a = analyze_file(path, passwords={"alice": "alice-Lab-pw1"})
    (flow,) = a.flows
    assert flow.status is Status.WARN
    note = next(f for f in flow.findings if f.rule == "capture.snaplen")
    assert note.frames == (3, 7, 11) and "FAIL" not in note.message


def _invite_with_body() -> bytes:
    sdp = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" * 3
    head = (
        b"INVITE sip:b@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
        b"From: <sip:a@10.0.0.1>;tag=1\r\nTo: <sip:b@10.0.0.2>\r\nCall-ID: cut-1\r\n"
        b"CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n"
        b"Content-Length: " + str(len(sdp)).encode() + b"\r\n\r\n"
    )
    return head + sdp


@pytest.mark.parametrize("engine", ["scapy", "tshark"])
def test_only_a_cut_inside_the_headers_marks_the_message(tmp_path: Path, engine: str) -> None:
    if engine == "tshark":
        require_tool("tshark")
    payload = _invite_with_body()
    whole = write_pcap(tmp_path / "whole.pcap", [ipv4_frame(UDP, payload)])
    head_end = 14 + 20 + 8 + payload.index(b"\r\n\r\n") + 4  # Ethernet + IPv4 + UDP
    marks = []
    for snaplen in (head_end + 10, head_end - 10):
        path = cut_snaplen(whole, tmp_path / f"cut{snaplen}.pcap", snaplen)
        records = list(get_engine(engine).sip(path, (5060,)))
        assert any(getattr(r, "rule", "") == "capture.snaplen" for r in records)
        (message,) = [r for r in records if isinstance(r, SipMessage)]
        marks.append(message.cut)
    # the body cut leaves every header for the rules; the header cut does not
    assert marks == [False, True]


def _cut_one(path: Path, out: Path, frame: int, keep: int) -> Path:
    """A copy of the pcap at *path* with only record *frame* (1-based) cut: *keep* bytes, or
    with -*keep* < 0, that many bytes before the end of its SIP header block."""
    data = path.read_bytes()
    parts, pos, n = [data[:24]], 24, 0
    while pos + 16 <= len(data):
        n += 1
        head = bytearray(data[pos : pos + 16])
        caplen = int.from_bytes(head[8:12], "little")
        body = data[pos + 16 : pos + 16 + caplen]
        if n == frame:
            body = body[: keep if keep > 0 else body.index(b"\r\n\r\n") + keep]
            head[8:12] = len(body).to_bytes(4, "little")
        parts += [bytes(head), body]
        pos += 16 + caplen
    out.write_bytes(b"".join(parts))
    return out


def test_a_cut_message_does_not_soften_a_fail_on_complete_messages(tmp_path: Path) -> None:
    # the RSeq jump rests on f3 and f6; cutting only f12 (the BYE's 200) inside its headers
    # must leave that FAIL a FAIL (review s6 F13)
    jump = SIP / "prack-rseq-jump-udp.pcap"
    rseq = [(f.rule, f.severity) for fl in analyze_file(jump).flows for f in fl.findings]
    assert ("sip.prack.rseq", Status.FAIL) in rseq
    path = _cut_one(jump, tmp_path / "cut12.pcap", 12, -5)  # its Call-ID is kept
    (flow,) = analyze_file(path).flows
    assert flow.status is Status.FAIL
    assert [f.severity for f in flow.findings if f.rule == "sip.prack.rseq"] == [Status.FAIL]
    note = next(f for f in flow.findings if f.rule == "capture.snaplen")
    assert note.frames == (12,) and "FAIL verdict" not in note.message
