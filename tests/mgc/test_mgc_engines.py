"""The H.248 verdicts do not depend on the capture engine: ours and tshark's agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import FIXTURES, require_tool

from ecc_doctor.captures.mgc import analyze_file

MGC = FIXTURES / "mgc"
CAPTURES = sorted(p.name for p in MGC.glob("*.pcap"))


@pytest.mark.parametrize("name", CAPTURES)
def test_both_engines_give_the_same_flows(name: str) -> None:
    require_tool("tshark")
    path: Path = MGC / name
    ours = analyze_file(path, engine="scapy", config_path=MGC / "site.toml")
    theirs = analyze_file(path, engine="tshark", config_path=MGC / "site.toml")
    assert ours, "every capture gives at least one flow (or an ERROR flow saying why)"
    assert [f.to_dict() for f in ours] == [f.to_dict() for f in theirs]
