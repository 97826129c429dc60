"""Ladders kept for the dialogs of a capture stay within a total budget of arrows."""

from __future__ import annotations

import pytest

from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sip import analyze
from ecc_doctor.captures.sip.analyze import analyze_records, ladder_msg
from ecc_doctor.captures.sip.message import SipMsg, parse


def options(call: int, seq: int, frame: int) -> SipMessage:
    text = (
        f"OPTIONS sip:b@192.0.2.2 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-{call}-{seq}\r\n"
        f"From: <sip:a@192.0.2.1>;tag=t{call}\r\nTo: <sip:b@192.0.2.2>\r\n"
        f"Call-ID: call-{call}@192.0.2.1\r\nCSeq: {seq} OPTIONS\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    return SipMessage(
        (frame,), 1000.0 + frame, "192.0.2.1", 5060, "192.0.2.2", 5060, "UDP", text.encode()
    )


def test_total_ladder_arrows_stay_within_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analyze, "LADDER_TOTAL", 50)
    records = [options(call, seq, call * 20 + seq + 1) for call in range(10) for seq in range(20)]
    result = analyze_records(records, rules=("prack",))
    kept = {call: len(arrows) for call, arrows in result.ladders.items()}
    assert sum(kept.values()) <= 50
    assert kept["call-9@192.0.2.1"] == 20  # the latest dialog is whole
    assert "call-0@192.0.2.1" not in kept  # the oldest made room


def test_kept_arrows_are_the_ladder_msgs_of_their_messages() -> None:
    """The analyzer keeps raw values per arrow and makes the texts at the end: the arrows it
    returns are exactly what ladder_msg() makes of each message (labels of responses with
    and without a reason phrase, CSeq text, IPv6 endpoints in brackets)."""
    records = [options(1, seq, seq + 1) for seq in range(3)]
    for text in ("SIP/2.0 200 OK", "SIP/2.0 183 ", "SIP/2.0 480 Temporarily Unavailable"):
        data = (
            f"{text}\r\nVia: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-1-0\r\n"
            "From: <sip:a@192.0.2.1>;tag=t1\r\nTo: <sip:b@192.0.2.2>;tag=x\r\n"
            "Call-ID: call-1@192.0.2.1\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        frame = len(records) + 1
        records.append(
            SipMessage(
                (frame,), 2000.0 + frame, "2001:db8::2", 5062, "2001:db8::1", 5060, "TCP", data
            )
        )
    result = analyze_records(records, rules=("prack",))
    parsed = [parse(rec) for rec in records]
    expected = [ladder_msg(msg) for msg in parsed if isinstance(msg, SipMsg)]
    assert result.ladders["call-1@192.0.2.1"] == expected
    assert [arrow.label for arrow in expected] == [
        msg.label for msg in parsed if isinstance(msg, SipMsg)
    ]
    assert [a.label for a in expected[3:]] == ["200 OK", "183", "480 Temporarily Unavailable"]
    assert expected[3].src == "[2001:db8::2]:5062" and expected[3].cseq == "7 OPTIONS"
