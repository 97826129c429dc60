"""The UDP body check's one-pass common path says exactly what header_end() and
content_length() say, for every spelling and line-end mix; and the parse vouches for a
datagram (so the analyzer skips the check) only where the check would say nothing."""

from __future__ import annotations

import random

import pytest

from ecc_doctor.captures.records import CaptureNote, SipMessage
from ecc_doctor.captures.sip.analyze import analyze_records
from ecc_doctor.captures.sip.message import SipMsg, parse
from ecc_doctor.captures.sipassembler import udp_body_check
from ecc_doctor.captures.sipframing import FramingError, content_length, header_end


def _reference(payload: bytes) -> list[str]:
    end = header_end(payload)
    if end < 0:
        return ["the header block has no terminating empty line"]
    try:
        length = content_length(payload[:end])
    except FramingError as exc:
        return [str(exc)]
    if length is not None and length > len(payload) - end:
        return [f"Content-Length {length} but only {len(payload) - end} body bytes"]
    return []


def _why(notes: list[CaptureNote]) -> list[str]:
    return [n.message.split("malformed SIP message: ", 1)[1] for n in notes]


_LENGTHS = [
    b"Content-Length: 4",
    b"Content-Length:   4  ",
    b"content-length:4",
    b"CONTENT-LENGTH : 9",
    b"l: 4",
    b"L:\t3",
    b"Content-Length: 5",
    b"Content-Length: x",
    b"Content-Length: 99999999999999999999",
    b"Content-Length: 2000000",
    b"Content-Length:",
    b"Content-Lengthy: 4",
    b"Lorem: 1",
]
_OTHERS = [b"Via: SIP/2.0/UDP h", b"Call-ID: abc", b"CSeq: 1 INVITE", b"X: l: 2", b""]
_ENDS = [b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r"]


def _message(rnd: random.Random) -> bytes:
    lines = [b"INVITE sip:a@b SIP/2.0"]
    for _ in range(rnd.randrange(0, 6)):
        lines.append(rnd.choice(_LENGTHS if rnd.random() < 0.4 else _OTHERS))
    out = b""
    for line in lines:
        out += line + rnd.choice(_ENDS)
    out += rnd.choice([b"\r\n", b"\r\n", b"\n", b"", b"\r\n\r\n"])
    return out + rnd.choice([b"", b"abcd", b"v=0\r\nl: 7\r\n\r\n\n", b"\n\nxyz"])


@pytest.mark.parametrize("seed", range(4))
def testudp_body_check_matches_the_general_path(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(3000):
        payload = _message(rnd)
        assert _why(udp_body_check(payload, (1,))) == _reference(payload), payload


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"BYE sip:a SIP/2.0\r\nContent-Length: 4\r\n\r\nabcd", []),
        (b"BYE sip:a SIP/2.0\r\nContent-Length: 5\r\n\r\nabcd", ["Content-Length 5 but only 4"]),
        (b"BYE sip:a SIP/2.0\r\nl: 1\r\ncontent-length: 2\r\n\r\nab", ["conflicting"]),
        # a bare-LF empty line ends the header block before the CRLFCRLF
        (b"BYE sip:a SIP/2.0\n\nContent-Length: 9\r\n\r\nab", []),
        (b"BYE sip:a SIP/2.0\r\nl: 11\n\r\nX: y\r\n\r\nab", ["Content-Length 11 but only 10"]),
        (b"BYE sip:a SIP/2.0\r\nl: 9\r\n", ["the header block has no terminating"]),
    ],
)
def testudp_body_check_examples(payload: bytes, why: list[str]) -> None:
    got = _why(udp_body_check(payload, (1,)))
    assert len(got) == len(why) and all(g.startswith(w) for g, w in zip(got, why, strict=True))


# Content-Length lines that read differently to the parser (str.strip(), Unicode) and to the
# byte-level rule (a regular expression, bytes.strip()): the parse must not vouch for them
_ODD_LENGTHS = [
    b"Content-Length: \x1c4",
    b"Content-Length: 4\x1f",
    b"\x0bContent-Length: 4",
    b"Content-Length\x0b: 4",
    b"Content-Length: \xc2\xa04",
    b"Content-Length: \r4",
    b"Content-Length: 4\r",
    b"Content-Length: 4\rjunk",
    b"Content-Length: \xef\xbc\x94",  # a full-width digit 4
    b"Content-Length:\t4\x0c",
    b"l :4",
    b"Content-Length: 0000000000004",
]


def _datagram(payload: bytes) -> SipMessage:
    return SipMessage((1,), 0.0, "192.0.2.1", 5060, "192.0.2.2", 5060, "UDP", payload)


@pytest.mark.parametrize("seed", range(4))
def test_parse_vouches_only_for_what_the_body_check_passes(seed: int) -> None:
    """``SipMsg.body_fits`` lets the analyzer skip the datagram body check: it must never be
    True where the check (the reader's rule, byte for byte) has something to say."""
    rnd = random.Random(seed)
    vouched = 0
    for _ in range(3000):
        payload = _message(rnd)
        if rnd.random() < 0.3:
            odd = rnd.choice(_ODD_LENGTHS)
            payload = payload.replace(b"\r\n", b"\r\n" + odd + b"\r\n", 1)
        msg = parse(_datagram(payload))
        if isinstance(msg, SipMsg) and msg.body_fits:
            vouched += 1
            assert udp_body_check(payload, (1,)) == [], payload
    assert vouched > 300  # the fast path is taken, not only the general one


@pytest.mark.parametrize("odd", _ODD_LENGTHS)
def test_odd_content_length_lines_take_the_general_path(odd: bytes) -> None:
    payload = b"BYE sip:a SIP/2.0\r\n" + odd + b"\r\nCall-ID: x\r\n\r\nab"
    msg = parse(_datagram(payload))
    assert isinstance(msg, SipMsg)
    if udp_body_check(payload, (1,)):
        assert not msg.body_fits


@pytest.mark.parametrize(
    ("payload", "fits"),
    [
        (b"BYE sip:a SIP/2.0\r\nCall-ID: x\r\nContent-Length: 2\r\n\r\nab", True),
        (b"BYE sip:a SIP/2.0\r\nCall-ID: x\r\nContent-Length: 1\r\n\r\nab", True),
        (b"BYE sip:a SIP/2.0\r\nCall-ID: x\r\n\r\nab", True),  # no Content-Length
        (b"BYE sip:a SIP/2.0\r\nCall-ID: x\r\nl: 2\r\n\r\nab", True),
        (b"BYE sip:a SIP/2.0\r\nCall-ID: x\r\nContent-Length: 3\r\n\r\nab", False),
        (b"BYE sip:a SIP/2.0\r\nCall-ID: x\r\nContent-Length:\r\n\r\nab", False),
        (b"BYE sip:a SIP/2.0\r\nCall-ID: x\r\nContent-Length: 2\r\nl: 2\r\n\r\nab", False),
        (b"BYE sip:a SIP/2.0\nCall-ID: x\r\nContent-Length: 2\r\n\r\nab", False),  # bare LF
        (b"BYE sip:a SIP/2.0\r\nCall-ID: x\r\n folded\r\nContent-Length: 2\r\n\r\nab", False),
    ],
)
def test_body_fits_examples(payload: bytes, fits: bool) -> None:
    msg = parse(_datagram(payload))
    assert isinstance(msg, SipMsg) and msg.body_fits is fits


def test_the_analysis_notes_what_the_body_check_finds() -> None:
    """Records given to the analyzer directly (any engine) are checked as the reader did:
    a short body, a duplicate copy of it, and nothing for a TCP message or a cut datagram."""
    short = b"INVITE sip:a SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 9\r\n\r\nab"
    records = [
        _datagram(short),
        _datagram(short)._replace(ts=0.001),  # a copy within 5 ms: a duplicate
        _datagram(short)._replace(frames=(3,), ts=1.0, transport="TCP"),
        _datagram(short)._replace(frames=(4,), ts=2.0, cut=True),
    ]
    result = analyze_records(records, ladders=False)
    framing = [(n.message, n.frames) for n in result.notes if n.rule == "sip.framing"]
    why = "malformed SIP message: Content-Length 9 but only 2 body bytes"
    assert framing == [(f"frame 1: {why}", (1,)), (f"frame 1: {why}", (1,))]
    assert result.duplicates == 1
