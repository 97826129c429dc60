"""shard_of()'s inlined common spellings place every message where the general rule does
(REGISTER -> 0, else the CRC of the Call-ID), also inside a larger buffer; and the fast
lane gives a SIP datagram to that process, anything that cannot begin a start line to 0."""

from __future__ import annotations

import random
import zlib

import pytest

from ecc_doctor.captures.reader import _datagram_owner
from ecc_doctor.captures.shard import _head_end, call_id_key, is_register, shard_of
from ecc_doctor.captures.sipframing import SIP_FIRST_BYTES, looks_like_sip

_STARTS = [
    b"INVITE sip:a@h SIP/2.0",
    b"REGISTER sip:h SIP/2.0",
    b"register sip:h SIP/2.0",
    b"Register sip:h SIP/2.0",
    b"SUBSCRIBE sip:a@h SIP/2.0",
    b"SIP/2.0 200 OK",
    b"SIP/2.0 401 Unauthorized",
    b"SIPX/2.0 200 OK",
    b"RTP junk",
    b"",
]
_HEADERS = [
    b"Call-ID: abc@h",
    b"Call-ID:xyz ",
    b"call-id: abc@h",
    b"i: other",
    b"CSeq: 1 INVITE",
    b"CSeq: 2 REGISTER",
    b"CSeq: 2 register",
    b"cseq: 3 REGISTER",
    b"CSeq: 4",
    b"Subject: REGISTER",
    b"Via: SIP/2.0/UDP h",
]


def _general(data: bytes, count: int, start: int, stop: int) -> int:
    end = _head_end(data, start, stop)
    if is_register(data, start, stop, end):
        return 0
    return zlib.crc32(call_id_key(data, start, stop, end)) % count


def _message(rnd: random.Random) -> bytes:
    lines = [rnd.choice(_STARTS)] + [rnd.choice(_HEADERS) for _ in range(rnd.randrange(5))]
    eol = rnd.choice([b"\r\n", b"\r\n", b"\n"])
    tail = rnd.choice([eol, eol + b"body\r\nCall-ID: body\r\n", b"", b"\r\n\r\nCSeq: 1 REGISTER"])
    return eol.join(lines) + eol + tail


@pytest.mark.parametrize("seed", range(4))
def test_shard_of_is_the_general_rule(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(2000):
        data = _message(rnd)
        count = rnd.choice([2, 3, 5])
        assert shard_of(data, count) == _general(data, count, 0, len(data)), data
        # inside a buffer: what comes after stop must not count
        buf = b"xx" + data + b"\r\n\r\nCall-ID: after\r\n\r\n"
        stop = 2 + len(data)
        assert shard_of(buf, count, 2, stop) == _general(buf, count, 2, stop), data
        owner = _datagram_owner(buf, count, 2, stop)
        if looks_like_sip(buf, 2, stop):
            assert owner == _general(buf, count, 2, stop), data
        elif stop == 2 or buf[2] not in SIP_FIRST_BYTES:
            assert owner == 0, data
        assert 0 <= owner < count


@pytest.mark.parametrize("pad", [65_520, 65_526, 65_527, 65_528, 65_540, 70_000])
def test_shard_of_a_header_block_near_or_past_the_parser_limit(pad: int) -> None:
    # the parser reads 64 KiB of a message: a Call-ID or CSeq beyond it, or a header block
    # that ends right at the limit, is placed where the general rule puts it
    for head in (b"INVITE sip:a@h SIP/2.0", b"SIP/2.0 200 OK"):
        for tail in (b"Call-ID: late\r\nCSeq: 1 REGISTER", b"CSeq: 2 INVITE\r\nCall-ID: late"):
            data = head + b"\r\nCall-ID: early\r\nX: " + b"a" * pad + b"\r\n" + tail + b"\r\n\r\n"
            for cut in (len(data), len(data) - 2, pad):
                msg = data[:cut]
                for count in (2, 3):
                    assert shard_of(msg, count) == _general(msg, count, 0, len(msg))
                    buf = b"yy" + msg + b"\r\n\r\n"
                    assert shard_of(buf, count, 2, 2 + len(msg)) == _general(
                        buf, count, 2, 2 + len(msg)
                    )
