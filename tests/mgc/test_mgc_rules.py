"""Each deviation rule named by the issue, on hand-built frames: its rule id and its frames."""

from __future__ import annotations

from ecc_doctor.captures.mgc import MgcParams, analyze_frames
from ecc_doctor.captures.records import ACK, PSH, RST, SYN, TCP, Frame
from ecc_doctor.models import Finding, Status

GW = "192.0.2.50"
PE, CLAN, ESS, LSP = "192.0.2.10", "192.0.2.11", "198.51.100.20", "203.0.113.30"
STRANGER = "192.0.2.77"
PARAMS = MgcParams.of(
    [f"PE={PE}", f"CLAN={CLAN}", f"ESS={ESS}", f"LSP={LSP}"],
    transition_point=2,
    primary_search_min=10,
    total_search_min=15,
    gateway=GW,
)
PRIMARY = [PE, CLAN] * 30  # +0:00 .. +9:50, every 10 s


class Search:
    """A link to the PE that the PE resets, then one SYN per target every *step* seconds."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.add(0.0, GW, PE, 39000, 2945, PSH | ACK, b"\x17\x03\x03\x00\x10")
        self.add(0.05, PE, GW, 2945, 39000, PSH | ACK, b"\x17\x03\x03\x00\x10")
        self.add(1.0, PE, GW, 2945, 39000, RST)

    def add(
        self, ts: float, src: str, dst: str, sport: int, dport: int, flags: int, data: bytes = b""
    ) -> int:
        self.frames.append(
            Frame(len(self.frames) + 1, ts, src, dst, TCP, sport, dport, data, flags)
        )
        return len(self.frames)

    def attempts(self, targets: list[str], step: float = 10.0, start: float = 1.1) -> list[int]:
        """SYN frame numbers, one per target; offsets from the first are step * index."""
        return [
            self.add(start + step * i, GW, t, 40000 + len(self.frames), 2945, SYN)
            for i, t in enumerate(targets)
        ]

    def findings(self) -> tuple[Status, dict[str, Finding]]:
        (flow,) = analyze_frames(self.frames, PARAMS)
        bad = {f.rule: f for f in flow.findings if f.severity is not Status.PASS}
        return flow.status, bad


def test_entry_below_tp_tried_twice_in_one_round() -> None:
    s = Search()
    syn = s.attempts([*PRIMARY, ESS, LSP, ESS])
    status, bad = s.findings()
    assert status is Status.FAIL
    repeat = bad["mgc.below-repeat"]
    assert repeat.severity is Status.FAIL
    assert repeat.frames == (syn[60], syn[62])
    assert f"tried again in the same round (first at frame {syn[60]})" in repeat.message


def test_a_new_round_from_the_top_may_try_the_ess_again() -> None:
    s = Search()
    s.attempts([*PRIMARY, ESS, LSP, PE, CLAN, ESS, LSP])
    _, bad = s.findings()
    assert "mgc.below-repeat" not in bad and "mgc.order" not in bad


def test_never_crossing_after_primary_search_is_a_late_crossing() -> None:
    s = Search()
    syn = s.attempts(PRIMARY + [PE, CLAN, PE])  # +10:00 within the tolerance, +10:10 is late
    status, bad = s.findings()
    assert status is Status.FAIL
    late = bad["mgc.late-crossing"]
    assert late.frames == (syn[61],)
    assert "mgc.order" not in bad
    assert f"frame {syn[61]} at +10:10 tried CLAN 192.0.2.11 (entry 2, above TP)" in late.message
    assert "did not cross the transition point when primary-search expired" in late.message


def test_above_tp_attempt_just_before_primary_search_expiry_is_not_late() -> None:
    s = Search()
    s.attempts([PE, CLAN] * 31 + [ESS, LSP], step=9.8)  # the 62nd at +9:57.8, ESS at +10:07.6
    _, bad = s.findings()
    assert not {"mgc.late-crossing", "mgc.order", "mgc.early-crossing"} & set(bad), bad


def test_attempt_to_an_address_not_in_the_list() -> None:
    s = Search()
    syn = s.attempts([*PRIMARY, ESS, STRANGER, LSP])
    status, bad = s.findings()
    assert status is Status.FAIL
    unknown = bad["mgc.unknown-target"]
    assert unknown.frames == (syn[61],)
    assert f"frame {syn[61]} at +10:10: registration attempt to {STRANGER}" in unknown.message
    assert "not in the MGC list (1 such attempt)" in unknown.message


def test_thirty_second_gaps_are_too_late() -> None:
    s = Search()
    syn = s.attempts([PE, CLAN, PE, CLAN], step=30.0)
    status, bad = s.findings()
    assert status is Status.FAIL
    spacing = bad["mgc.spacing"]
    assert spacing.frames == tuple(syn[1:])
    assert "3 attempts came too late: median gap 30.0 s, expected 10 s ± 3 s" in spacing.message
    assert f"first at frame {syn[1]}, +0:30" in spacing.message
