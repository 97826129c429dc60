"""``analyze_file(ladders=False)`` (what ``ecc-doctor analyze`` runs) keeps no ladder data
and gives exactly the same verdicts, in one process and in two."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import FIXTURES

from ecc_doctor.captures.sip.analyze import analyze_file

SIP = sorted((FIXTURES / "sip").glob("*.pcap*"))


@pytest.mark.parametrize("path", SIP, ids=lambda p: p.name)
def test_same_verdicts_without_ladders(path: Path) -> None:
    ports = (5060, 5061, 5062)
    full = analyze_file(path, ports=ports, jobs=1)
    bare = analyze_file(path, ports=ports, jobs=1, ladders=False)
    assert bare.to_dict() == full.to_dict()
    assert bare.ladders == {} and (full.ladders or not full.messages)


def test_no_ladders_in_two_processes() -> None:
    path = max(SIP, key=lambda p: p.stat().st_size)
    two = analyze_file(path, ports=(5060, 5061, 5062), jobs=2, ladders=False)
    assert two.ladders == {}
    assert two.to_dict() == analyze_file(path, ports=(5060, 5061, 5062), jobs=1).to_dict()


def test_a_ladder_call_id_still_gets_its_ladder() -> None:
    path = max(SIP, key=lambda p: p.stat().st_size)
    call_id = next(iter(analyze_file(path, ports=(5060, 5061, 5062)).ladders))
    one = analyze_file(path, ports=(5060, 5061, 5062), ladder_call_id=call_id, ladders=False)
    assert list(one.ladders) == [call_id]
