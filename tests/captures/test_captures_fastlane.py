"""The reader's fast lane (plain IPv4/UDP straight to the assembler) changes nothing.

With the fast lane turned off every packet takes the Decoder -> Frame -> SipAssembler.feed
path; on every committed and public capture both must give the same records.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import FIXTURES, PUBLIC_CAPTURES

from ecc_doctor.captures import reader
from ecc_doctor.captures.reader import PcapEngine

ALL = sorted(FIXTURES.rglob("*.pcap*"))
if PUBLIC_CAPTURES.is_dir():
    ALL += sorted(PUBLIC_CAPTURES.glob("*.pcap*"))


def _closed(lane: reader._FastLane, *args: object) -> None:
    """A fast lane that takes nothing: every packet goes the general way."""
    lane.out = []
    lane.take = lambda *_: False


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_fast_lane_is_the_general_path(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ports = (5060, 5061, 5062)
    fast = list(PcapEngine().sip(path, ports))
    monkeypatch.setattr(reader._FastLane, "__init__", _closed)
    assert fast == list(PcapEngine().sip(path, ports))
