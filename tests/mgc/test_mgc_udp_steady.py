"""A healthy gateway on UDP 2944 (text MEGACO, RFC 3525's default transport) is a session."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from tests.conftest import FIXTURES, load_module, require_tool

from ecc_doctor.captures.mgc import MgcParams, analyze_file
from ecc_doctor.models import Status

MGC = FIXTURES / "mgc"


def _generator() -> ModuleType:
    return load_module(MGC / "make_captures.py", "mgc_make_captures_s")


GEN = _generator()


def steady_udp(path: Path) -> Path:
    """Ten Notify/Reply exchanges between the gateway and the PE on UDP 2944, both ways."""
    cap = GEN.Capture()
    for i in range(10):
        tid = 300 + i
        notify = f"MEGACO/1 [{GEN.GW}]:2944\r\nTransaction = {tid} {{ Context = - {{ Notify = ROOT {{ }} }} }}\r\n"
        answer = (
            f"MEGACO/1 [{GEN.PE}]:2944\r\nReply = {tid} {{ Context = - {{ Notify = ROOT }} }}\r\n"
        )
        cap.udp(10.0 * i, GEN.GW, GEN.PE, 2944, 2944, notify.encode())
        cap.udp(10.0 * i + 0.01, GEN.PE, GEN.GW, 2944, 2944, answer.encode())
        command = f"MEGACO/1 [{GEN.PE}]:2944\r\nTransaction = {900 + i} {{ Context = 5 {{ Modify = A1 }} }}\r\n"
        cap.udp(10.0 * i + 5, GEN.PE, GEN.GW, 2944, 2944, command.encode())
    cap.write(path)
    return path


def test_steady_udp_megaco_warns_no_failover(tmp_path: Path) -> None:
    path = steady_udp(tmp_path / "steady.pcap")
    for params in (GEN.PARAMS, MgcParams.of([GEN.PE, GEN.ESS])):
        flows = analyze_file(path, params=params)
        assert [(f.key, f.status, f.findings[0].rule) for f in flows] == [
            (GEN.GW, Status.WARN, "mgc.no-failover")
        ]
        assert f"gateway {GEN.GW} keeps its H.248 link to {GEN.PE}" in flows[0].summary


def test_both_engines_agree_on_steady_udp(tmp_path: Path) -> None:
    require_tool("tshark")
    path = steady_udp(tmp_path / "steady.pcap")
    params = MgcParams.of([GEN.PE, GEN.ESS])
    ours = analyze_file(path, engine="scapy", params=params)
    theirs = analyze_file(path, engine="tshark", params=params)
    assert [f.to_dict() for f in ours] == [f.to_dict() for f in theirs]
