"""A ServiceChange reply with MgcIdToTry (ServiceChangeMgcId, RFC 3525 §7.2.8) redirects."""

from __future__ import annotations

from ecc_doctor.captures.mgc import MgcParams, analyze_frames
from ecc_doctor.captures.mgc.megaco import parse_payload
from ecc_doctor.captures.records import UDP, Frame
from ecc_doctor.models import Status

GW, PE, ESS = "192.0.2.50", "192.0.2.10", "198.51.100.20"


def _sc(tid: int) -> bytes:
    return f"MEGACO/1 [{GW}]:2944\nTransaction = {tid} {{ Context = - {{ ServiceChange = ROOT {{ Services {{ Method = Restart }} }} }} }}".encode()


def _reply(tid: int, extra: str = "") -> bytes:
    return f"MEGACO/1 [{ESS}]:2944\nReply = {tid} {{ Context = - {{ ServiceChange = ROOT {{ Services {{ ServiceChangeAddress = 2944{extra} }} }} }} }}".encode()


def test_reply_with_mgcidtotry_is_a_redirect_not_a_registration() -> None:
    (msg,) = parse_payload(_reply(5, f", MgcIdToTry = [{PE}]:2944"))
    assert msg.redirect == f"[{PE}]:2944"
    (short,) = parse_payload(_reply(5, f", MG = [{PE}]"))
    assert short.redirect == f"[{PE}]"
    params = MgcParams.of([PE, ESS], primary_search_min=1, total_search_min=2, gateway=GW)
    frames = [
        Frame(1, 0.0, GW, ESS, UDP, 2944, 2944, _sc(5)),
        Frame(2, 0.05, ESS, GW, UDP, 2944, 2944, _reply(5, f", MgcIdToTry = [{PE}]:2944")),
    ]
    (flow,) = analyze_frames(frames, params)
    assert not any(f.rule == "mgc.registered" for f in flow.findings)
    assert flow.status is Status.WARN  # nothing registered before the capture ends
    frames[1] = Frame(2, 0.05, ESS, GW, UDP, 2944, 2944, _reply(5))
    (flow,) = analyze_frames(frames, params)
    assert any(f.rule == "mgc.registered" for f in flow.findings)
