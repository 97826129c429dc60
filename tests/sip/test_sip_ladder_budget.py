"""Ladders kept for the dialogs of a capture stay within a total budget of arrows."""

from __future__ import annotations

import pytest

from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sip import analyze
from ecc_doctor.captures.sip.analyze import analyze_records


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
