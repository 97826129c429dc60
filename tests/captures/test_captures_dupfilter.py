"""DuplicateFilter's fast form gives exactly the notes of the reference rule (an ordered
table cleaned before every look-up), also across the cap, the window and timestamps going
back."""

from __future__ import annotations

import random
from collections import OrderedDict

import pytest

from ecc_doctor.captures import sipassembler
from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sipassembler import DuplicateFilter


class _Reference:
    """The rule as it was written before the fast form (one ordered table)."""

    def __init__(self) -> None:
        self.recent: OrderedDict[tuple[object, ...], tuple[int, float]] = OrderedDict()

    def check(self, message: SipMessage, ip_id: int) -> tuple[int, int] | None:
        key = (message.src, message.dst, message.sport, message.dport, ip_id, message.data)
        recent = self.recent
        while recent:
            oldest = next(iter(recent.values()))
            if (
                message.ts - oldest[1] <= sipassembler.DUPLICATE_WINDOW
                and len(recent) < sipassembler.MAX_RECENT
            ):
                break
            recent.popitem(last=False)
        seen = recent.get(key)
        if seen is not None and abs(message.ts - seen[1]) <= sipassembler.DUPLICATE_WINDOW:
            return (seen[0], message.frame)
        recent[key] = (message.frame, message.ts)
        return None


def _run(seed: int, count: int, keys: int, step: float, back_at: int | None) -> int:
    rnd = random.Random(seed)
    fast, ref = DuplicateFilter(), _Reference()
    ts, dups = 100.0, 0
    for frame in range(1, count + 1):
        ts += rnd.random() * step
        if frame == back_at:
            ts -= 3 * step * rnd.random() + 0.5
        if back_at is not None and frame > back_at and rnd.random() < 0.05:
            ts -= rnd.random() * 2  # and from then on now and then
        ip_id = rnd.randrange(1, keys)
        data = b"INVITE sip:x SIP/2.0\r\n\r\n" + bytes([ip_id % 3])
        message = SipMessage((frame,), ts, "10.0.0.1", 5060, "10.0.0.2", 5060, "UDP", data)
        note = fast.check(message, ip_id)
        expected = ref.check(message, ip_id)
        assert (note.frames if note else None) == expected, (seed, frame)
        dups += expected is not None
    return dups


@pytest.mark.parametrize("prune_bytes", [DuplicateFilter.PRUNE_BYTES, 100])
@pytest.mark.parametrize("back_at", [None, 700, 2900])
@pytest.mark.parametrize("seed", range(6))
def test_duplicate_filter_matches_the_reference_rule(
    monkeypatch: pytest.MonkeyPatch, seed: int, back_at: int | None, prune_bytes: int
) -> None:
    monkeypatch.setattr(sipassembler, "MAX_RECENT", 16)
    # 100 bytes: a prune after every few datagrams (as big datagrams do), at any count
    monkeypatch.setattr(DuplicateFilter, "PRUNE_BYTES", prune_bytes)
    # a few keys and short steps: the cap, the window and prunes all come into play
    dups = _run(seed, 3000, 40 + 20 * seed, 0.02 + 0.03 * (seed % 3), back_at)
    assert dups > 0


def test_duplicate_filter_matches_the_reference_rule_at_full_size() -> None:
    assert _run(99, 20_000, 9000, 0.0004, None) > 0
    assert _run(98, 20_000, 9000, 0.0004, 15_000) > 0


def test_duplicate_filter_ignores_tcp_and_missing_ip_id() -> None:
    message = SipMessage((1,), 1.0, "a", 1, "b", 2, "TCP", b"x")
    dups = DuplicateFilter()
    assert dups.check(message, 5) is None and dups.check(message, 5) is None
    udp = message._replace(transport="UDP")
    assert dups.check(udp, None) is None and dups.check(udp, 0) is None
    assert dups.check(udp, 7) is None
    note = dups.check(udp._replace(frames=(2,)), 7)
    assert note is not None and note.frames == (1, 2) and "0x0007" in note.message


def test_duplicate_filter_memory_is_bounded_in_bytes_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Big distinct datagrams in a burst: beyond what the rule itself must remember (the last
    MAX_RECENT within the window), at most PRUNE_BYTES more payload is held."""
    monkeypatch.setattr(DuplicateFilter, "PRUNE_BYTES", 64_000)
    dups = DuplicateFilter()
    size = 6_000
    for frame in range(1, 3 * sipassembler.MAX_RECENT):
        data = frame.to_bytes(4, "big") * (size // 4)
        message = SipMessage((frame,), 1.0 + frame / 10_000, "a", 1, "b", 2, "UDP", data)
        assert dups.check(message, frame % 65_535 + 1) is None
        held = sum(len(key[5]) for key in {**dups._older, **dups._latest})
        assert held <= sipassembler.MAX_RECENT * size + 64_000 + size, frame


def test_duplicate_filter_not_a_number_time_takes_the_reference_form() -> None:
    """A timestamp that is not a number (no engine gives one) makes everything before it
    stale, as in the reference rule: the copy after it is not a duplicate."""
    dups = DuplicateFilter()
    first = SipMessage((1,), 10.0, "a", 1, "b", 2, "UDP", b"x")
    assert dups.check(first, 7) is None
    assert dups.check(first._replace(frames=(2,), ts=float("nan"), data=b"y"), 8) is None
    assert dups.check(first._replace(frames=(3,), ts=10.5), 7) is None
