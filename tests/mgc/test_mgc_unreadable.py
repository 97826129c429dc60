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


@pytest.mark.parametrize("build", [tls_certificate_rejected, binary_closed_at_once, tls_registered])
def test_both_engines_agree_on_unreadable_links(
    tmp_path: Path, build: Callable[[Path], Path]
) -> None:
    require_tool("tshark")
    path = build(tmp_path / "x.pcap")
    ours = analyze_file(path, engine="scapy", params=GEN.PARAMS)
    theirs = analyze_file(path, engine="tshark", params=GEN.PARAMS)
    assert [f.to_dict() for f in ours] == [f.to_dict() for f in theirs]
