"""The UDP body check's one-pass common path says exactly what header_end() and
content_length() say, for every spelling and line-end mix."""

from __future__ import annotations

import random

import pytest

from ecc_doctor.captures.records import CaptureNote
from ecc_doctor.captures.sipassembler import _udp_body_check
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
def test_udp_body_check_matches_the_general_path(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(3000):
        payload = _message(rnd)
        assert _why(_udp_body_check(payload, (1,))) == _reference(payload), payload


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
def test_udp_body_check_examples(payload: bytes, why: list[str]) -> None:
    got = _why(_udp_body_check(payload, (1,)))
    assert len(got) == len(why) and all(g.startswith(w) for g, w in zip(got, why, strict=True))
