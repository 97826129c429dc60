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
    lane.take = lambda *_: False


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_fast_lane_is_the_general_path(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ports = (5060, 5061, 5062)
    fast = list(PcapEngine().sip(path, ports))
    monkeypatch.setattr(reader._FastLane, "__init__", _closed)
    assert fast == list(PcapEngine().sip(path, ports))


def test_fast_lane_hands_messages_over_as_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages taken in the read buffer come out in small batches while the file is read,
    not all at the end (memory stays flat however many SIP packets follow each other)."""
    from tests.pcapwrite import UDP, ipv4_frame, write_pcap

    from ecc_doctor.captures import pcapfile

    monkeypatch.setattr(pcapfile, "CHUNK", 4096)
    refills = 0
    need = pcapfile.ChunkReader.need

    def counting(self: pcapfile.ChunkReader, n: int) -> bool:
        nonlocal refills
        if self.pos + n > len(self.buf):
            refills += 1
        return need(self, n)

    monkeypatch.setattr(pcapfile.ChunkReader, "need", counting)
    sip = b"OPTIONS sip:b@h SIP/2.0\r\nCall-ID: %d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    path = write_pcap(tmp_path / "many.pcap", (ipv4_frame(UDP, sip % n) for n in range(2000)))
    seen = [refills for _ in PcapEngine().sip(path)]  # refills done when each came out
    assert len(seen) == 2000
    assert refills > 30 and seen[0] <= 2 and seen[999] < refills / 2 + 2
