"""TLS and binary H.248: a rejected handshake or an at-once close is no registration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tests.conftest import FIXTURES, load_module, require_tool

from ecc_doctor.captures.mgc import analyze_file
from ecc_doctor.models import Status

MGC = FIXTURES / "mgc"


def _generator() -> ModuleType:
    return load_module(MGC / "make_captures.py", "mgc_make_captures_u")


GEN = _generator()
CLIENT_HELLO = b"\x16\x03\x01\x00\x30\x01" + bytes(47)
SERVER_HELLO = b"\x16\x03\x03\x00\x40\x02" + bytes(63)
ALERT = b"\x15\x03\x03\x00\x02\x02\x2a"  # fatal bad_certificate
APP = b"\x17\x03\x03\x00\x10" + bytes(16)


def _record(kind: int, body: bytes) -> bytes:
    return bytes([kind, 3, 3]) + len(body).to_bytes(2, "big") + body


def _server_hello_13() -> bytes:
    """A TLS 1.3 ServerHello (RFC 8446 §4.1.3): supported_versions selects 0x0304."""
    extensions = (
        b"\x00\x2b\x00\x02\x03\x04"  # supported_versions: TLS 1.3
        + b"\x00\x33\x00\x24\x00\x1d\x00\x20"  # key_share: x25519
        + bytes(32)
    )
    body = (
        b"\x03\x03"
        + bytes(32)
        + b"\x20"
        + bytes(32)
        + b"\x13\x01\x00"
        + len(extensions).to_bytes(2, "big")
        + extensions
    )
    return _record(22, b"\x02" + len(body).to_bytes(3, "big") + body)


SERVER_HELLO_13 = _server_hello_13() + _record(20, b"\x01")
# the encrypted flight (EncryptedExtensions, Certificate, CertificateVerify, Finished)
FLIGHT_13 = _record(23, bytes(1200))
FINISHED_13 = _record(20, b"\x01") + _record(23, bytes(53))  # ChangeCipherSpec, Finished
ALERT_13 = _record(20, b"\x01") + _record(23, bytes(19))  # an encrypted bad_certificate


def _connect(cap: Any, t: float, controller: str, port: int) -> tuple[int, int]:
    cap.sport += 1
    sport = cap.sport
    seq = 1000 * sport
    cap.tcp(t, GEN.GW, controller, sport, port, "S", seq)
    cap.tcp(t + 0.001, controller, GEN.GW, port, sport, "SA", 7000, seq + 1)
    cap.tcp(t + 0.002, GEN.GW, controller, sport, port, "A", seq + 1, 7001)
    return sport, seq + 1


def _search(port: int) -> Any:
    cap = GEN.Capture()
    cap.session(-40, -10, GEN.PE, end="rst")
    for t, c in GEN._model(until=600):
        cap.tcp(t, GEN.GW, c, 45000 + int(t), port, "S", 1)
    return cap


def tls_certificate_rejected(path: Path) -> Path:
    """TLS 1039: the ESS accepts TCP and sends its certificate; the gateway rejects it (alert,
    FIN) and goes on with the search correctly: LSP, then the list from the top."""
    cap = _search(1039)
    sport, seq = _connect(cap, 600, GEN.ESS, 1039)
    cap.tcp(600.01, GEN.GW, GEN.ESS, sport, 1039, "PA", seq, 7001, CLIENT_HELLO)
    seq += len(CLIENT_HELLO)
    cap.tcp(600.05, GEN.ESS, GEN.GW, 1039, sport, "PA", 7001, seq, SERVER_HELLO)
    cap.tcp(600.06, GEN.GW, GEN.ESS, sport, 1039, "PA", seq, 7001 + len(SERVER_HELLO), ALERT)
    cap.tcp(600.07, GEN.GW, GEN.ESS, sport, 1039, "FA", seq + len(ALERT), 7065)
    for t, c in ((610, GEN.LSP), (620, GEN.PE), (630, GEN.CLAN)):
        cap.tcp(t, GEN.GW, c, 46000 + t, 1039, "S", 1)
    cap.write(path)
    return path


def binary_closed_at_once(path: Path) -> Path:
    """Binary H.248 on 2945: the ESS exchanges one packet each way and closes 0.5 s later; the
    LSP then accepts and keeps the link (data again 30 s later)."""
    cap = _search(2945)
    request = GEN.tpkt(bytes([0x30, 0x81, 0x80]) + bytes(range(0x80)))
    answer = GEN.tpkt(bytes([0x30, 0x20]) + bytes(32))
    for t, c, close in ((600, GEN.ESS, True), (610, GEN.LSP, False)):
        sport, seq = _connect(cap, t, c, 2945)
        cap.tcp(t + 0.01, GEN.GW, c, sport, 2945, "PA", seq, 7001, request)
        cap.tcp(t + 0.05, c, GEN.GW, 2945, sport, "PA", 7001, seq + len(request), answer)
        if close:
            cap.tcp(t + 0.5, c, GEN.GW, 2945, sport, "FA", 7001 + len(answer), seq + len(request))
        else:
            cap.tcp(t + 30, c, GEN.GW, 2945, sport, "PA", 7001 + len(answer), seq, answer)
    cap.write(path)
    return path


def tls_registered(path: Path) -> Path:
    """TLS 1039: handshake, then application data both ways: the ESS registers the gateway."""
    cap = _search(1039)
    sport, seq = _connect(cap, 600, GEN.ESS, 1039)
    cap.tcp(600.01, GEN.GW, GEN.ESS, sport, 1039, "PA", seq, 7001, CLIENT_HELLO)
    cap.tcp(600.05, GEN.ESS, GEN.GW, 1039, sport, "PA", 7001, seq + 53, SERVER_HELLO)
    cap.tcp(600.1, GEN.GW, GEN.ESS, sport, 1039, "PA", seq + 53, 7069, APP)
    cap.tcp(600.2, GEN.ESS, GEN.GW, 1039, sport, "PA", 7069, seq + 74, APP)
    cap.tcp(630, GEN.GW, GEN.ESS, sport, 1039, "PA", seq + 74, 7090, APP)  # a keep-alive
    cap.write(path)
    return path


def _tls13(
    path: Path,
    answer: bytes,
    *,
    closed: bool = False,
    coalesced: bool = False,
    early: bytes = b"",
    reply: bytes = b"",
) -> Path:
    """TLS 1.3 on 1039: ClientHello (and *early* 0-RTT data), ServerHello, then the ESS's
    encrypted certificate flight, in a segment of its own or (*coalesced*) in the
    ServerHello's; the gateway answers with *answer* (its Finished and a ServiceChange, or
    an alert), the ESS with *reply* if any; the capture ends 1 s after the gateway's answer,
    with (*closed*) or without its FIN."""
    cap = _search(1039)
    sport, seq = _connect(cap, 600, GEN.ESS, 1039)
    for t, data in ((600.01, CLIENT_HELLO), (600.011, early)):
        if data:
            cap.tcp(t, GEN.GW, GEN.ESS, sport, 1039, "PA", seq, 7001, data)
            seq += len(data)
    ack = 7001
    segments = (
        [(600.05, SERVER_HELLO_13 + FLIGHT_13)]
        if coalesced
        else [(600.05, SERVER_HELLO_13), (600.051, FLIGHT_13)]
    )
    for t, data in segments:
        cap.tcp(t, GEN.ESS, GEN.GW, 1039, sport, "PA", ack, seq, data)
        ack += len(data)
    cap.tcp(600.06, GEN.GW, GEN.ESS, sport, 1039, "PA", seq, ack, answer)
    seq += len(answer)
    if reply:
        cap.tcp(600.1, GEN.ESS, GEN.GW, 1039, sport, "PA", ack, seq, reply)
        ack += len(reply)
    if closed:
        cap.tcp(600.07, GEN.GW, GEN.ESS, sport, 1039, "FA", seq, ack)
        seq += 1
    cap.tcp(601.06, GEN.ESS, GEN.GW, 1039, sport, "A", ack, seq)
    cap.write(path)
    return path


ACCEPTED_13 = FINISHED_13 + _record(23, bytes(200))  # Finished, then the ServiceChange
REPLY_13 = _record(23, bytes(300))  # the ServiceChange reply (or a session ticket first)


def tls13_cut_short(path: Path) -> Path:
    """The certificate rejected; the capture ends with the link still open."""
    return _tls13(path, ALERT_13)


def tls13_closed(path: Path) -> Path:
    """The certificate rejected and the link closed."""
    return _tls13(path, ALERT_13, closed=True)


def tls13_registered(path: Path) -> Path:
    """The certificate accepted: Finished and a ServiceChange, answered."""
    return _tls13(path, ACCEPTED_13, reply=REPLY_13)


def tls13_coalesced_cut_short(path: Path) -> Path:
    """ServerHello, ChangeCipherSpec and the flight in one segment; rejected, link open."""
    return _tls13(path, ALERT_13, coalesced=True)


def tls13_coalesced_registered(path: Path) -> Path:
    return _tls13(path, ACCEPTED_13, coalesced=True, reply=REPLY_13)


def tls13_early_data_cut_short(path: Path) -> Path:
    """0-RTT data from the gateway before the ServerHello is no Finished: rejected, open."""
    return _tls13(path, ALERT_13, early=_record(23, bytes(200)))


def tls13_gateway_certificate_refused(path: Path) -> Path:
    """The ESS refuses the gateway's own certificate: its (encrypted) alert answers the
    gateway's Finished; the capture ends with the link open."""
    return _tls13(path, ACCEPTED_13, reply=_record(23, bytes(19)))


def tls12_finished_and_data_in_one_segment(path: Path) -> Path:
    """TLS 1.2 resumed: the ESS's ChangeCipherSpec, Finished and its first application data
    in one segment after the gateway's data: that data is the answer."""
    cap = _search(1039)
    sport, seq = _connect(cap, 600, GEN.ESS, 1039)
    cap.tcp(600.01, GEN.GW, GEN.ESS, sport, 1039, "PA", seq, 7001, CLIENT_HELLO)
    seq += len(CLIENT_HELLO)
    cap.tcp(600.05, GEN.ESS, GEN.GW, 1039, sport, "PA", 7001, seq, SERVER_HELLO)
    ack = 7001 + len(SERVER_HELLO)
    mine = _record(20, b"\x01") + _record(22, bytes(40)) + APP
    cap.tcp(600.06, GEN.GW, GEN.ESS, sport, 1039, "PA", seq, ack, mine)
    seq += len(mine)
    theirs = _record(20, b"\x01") + _record(22, bytes(40)) + APP
    cap.tcp(600.1, GEN.ESS, GEN.GW, 1039, sport, "PA", ack, seq, theirs)
    ack += len(theirs)
    cap.tcp(630, GEN.GW, GEN.ESS, sport, 1039, "PA", seq, ack, APP)  # a keep-alive
    cap.write(path)
    return path


def _flows(path: Path) -> list[tuple[str, Status, str]]:
    flows = analyze_file(path, params=GEN.PARAMS)
    return [(f.key, f.status, f.summary) for f in flows]


def test_rejected_tls_certificate_is_no_registration(tmp_path: Path) -> None:
    flows = _flows(tls_certificate_rejected(tmp_path / "tls.pcap"))
    assert [(k, s) for k, s, _ in flows] == [(GEN.GW, Status.WARN)]
    assert "no registration seen" in flows[0][2]


def test_binary_link_closed_at_once_is_no_registration(tmp_path: Path) -> None:
    flows = _flows(binary_closed_at_once(tmp_path / "bin.pcap"))
    assert [(k, s) for k, s, _ in flows] == [(GEN.GW, Status.PASS)]
    assert "registered to LSP 203.0.113.30 +10:10" in flows[0][2]


def test_tls_with_application_data_registers(tmp_path: Path) -> None:
    flows = _flows(tls_registered(tmp_path / "ok.pcap"))
    assert [(k, s) for k, s, _ in flows] == [(GEN.GW, Status.PASS)]
    assert "registered to ESS 198.51.100.20 +10:00" in flows[0][2]


def test_a_tls13_certificate_flight_is_no_answer(tmp_path: Path) -> None:
    """Review s7 #5: TLS 1.3 encrypts the controller's certificate, so it travels as
    application data before the gateway has judged it. A capture that ended 1 s after the
    gateway's (encrypted) rejection, the link still open, counted that as registered."""
    flows = _flows(tls13_cut_short(tmp_path / "cut.pcap"))
    assert [(k, s) for k, s, _ in flows] == [(GEN.GW, Status.WARN)]
    assert "no registration seen" in flows[0][2]


def test_a_tls13_certificate_rejected_and_closed_is_no_registration(tmp_path: Path) -> None:
    flows = _flows(tls13_closed(tmp_path / "closed.pcap"))
    assert [(k, s) for k, s, _ in flows] == [(GEN.GW, Status.WARN)]
    assert "no registration seen" in flows[0][2]


@pytest.mark.parametrize(
    "build",
    [tls13_coalesced_cut_short, tls13_early_data_cut_short, tls13_gateway_certificate_refused],
)
def test_more_tls13_refusals_are_no_registration(
    tmp_path: Path, build: Callable[[Path], Path]
) -> None:
    """Review s9: the records of one segment are all read; 0-RTT data is no Finished; the
    controller's encrypted alert (19 bytes) is an alert, not an answer."""
    flows = _flows(build(tmp_path / "x.pcap"))
    assert [(k, s) for k, s, _ in flows] == [(GEN.GW, Status.WARN)]
    assert "no registration seen" in flows[0][2]


@pytest.mark.parametrize(
    ("build", "after"),
    [(tls13_coalesced_registered, 6), (tls12_finished_and_data_in_one_segment, 6)],
)
def test_an_answer_in_a_segment_of_several_records_registers(
    tmp_path: Path, build: Callable[[Path], Path], after: int
) -> None:
    flows = analyze_file(build(tmp_path / "x.pcap"), params=GEN.PARAMS)
    assert [(f.key, f.status) for f in flows] == [(GEN.GW, Status.PASS)]
    (registered,) = [x for x in flows[0].findings if x.rule == "mgc.registered"]
    attempt, answer = registered.frames
    assert answer == attempt + after  # SYN, SYN-ACK, ACK, hello, hello, the gateway's, answer


def test_tls13_registers_on_the_answer_to_the_gateways_data(tmp_path: Path) -> None:
    """The controller's first application data after the gateway's Finished (the
    ServiceChange reply) is the registration, not its certificate flight."""
    flows = analyze_file(tls13_registered(tmp_path / "ok13.pcap"), params=GEN.PARAMS)
    assert [(f.key, f.status) for f in flows] == [(GEN.GW, Status.PASS)]
    assert "registered to ESS 198.51.100.20 +10:00" in flows[0].summary
    (registered,) = [x for x in flows[0].findings if x.rule == "mgc.registered"]
    attempt, reply = registered.frames
    # SYN, SYN-ACK, ACK, ClientHello, ServerHello, flight, Finished + ServiceChange, reply
    assert reply == attempt + 7 and f"answer frame {reply}" in registered.message


@pytest.mark.parametrize(
    "build",
    [
        tls_certificate_rejected,
        binary_closed_at_once,
        tls_registered,
        tls13_cut_short,
        tls13_closed,
        tls13_registered,
        tls13_coalesced_cut_short,
        tls13_coalesced_registered,
        tls13_early_data_cut_short,
        tls13_gateway_certificate_refused,
        tls12_finished_and_data_in_one_segment,
    ],
)
def test_both_engines_agree_on_unreadable_links(
    tmp_path: Path, build: Callable[[Path], Path]
) -> None:
    require_tool("tshark")
    path = build(tmp_path / "x.pcap")
    ours = analyze_file(path, engine="scapy", params=GEN.PARAMS)
    theirs = analyze_file(path, engine="tshark", params=GEN.PARAMS)
    assert [f.to_dict() for f in ours] == [f.to_dict() for f in theirs]
