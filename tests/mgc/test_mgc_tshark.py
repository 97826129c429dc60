"""tshark's MEGACO dissector sees the ServiceChange exchanges of our synthetic captures."""

from __future__ import annotations

import subprocess

import pytest
from tests.conftest import FIXTURES, require_tool

from ecc_doctor.captures.mgc import MgcParams, analyze_file

MGC = FIXTURES / "mgc"
PARAMS = MgcParams.of(
    ["192.0.2.10", "192.0.2.11", "198.51.100.20", "203.0.113.30"],
    transition_point=2,
    primary_search_min=10,
    total_search_min=15,
)


def tshark_service_changes(name: str, *decode_as: str) -> list[tuple[int, str]]:
    """(frame, source) of every MEGACO ServiceChange that tshark dissects."""
    tshark = require_tool("tshark")
    args = [tshark, "-n", "-r", str(MGC / name)]
    for rule in decode_as:
        args += ["-d", rule]
    args += ["-Y", 'megaco.command == "ServiceChange"', "-T", "fields"]
    args += ["-e", "frame.number", "-e", "ip.src"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    rows = [line.split("\t") for line in proc.stdout.splitlines() if line.strip()]
    return [(int(frame), src) for frame, src in rows]


@pytest.mark.peer
def test_tshark_sees_the_udp_servicechange_we_see() -> None:
    seen = tshark_service_changes("servicechange_udp.pcap")
    assert seen == [(1, "192.0.2.50"), (2, "192.0.2.10")]
    flow = analyze_file(MGC / "servicechange_udp.pcap", params=PARAMS)[0]
    registered = next(f for f in flow.findings if f.rule == "mgc.registered")
    assert registered.frames == (seen[0][0], seen[1][0])


@pytest.mark.peer
def test_tshark_sees_the_tpkt_servicechange_over_tcp_2945() -> None:
    seen = tshark_service_changes("failover_ess.pcap", "tcp.port==2945,megaco")
    assert [src for _, src in seen] == ["192.0.2.50", "198.51.100.20"]
    flow = analyze_file(MGC / "failover_ess.pcap", params=PARAMS)[0]
    registered = next(f for f in flow.findings if f.rule == "mgc.registered")
    assert registered.frames[1] == seen[1][0]  # the Reply that completed the registration
