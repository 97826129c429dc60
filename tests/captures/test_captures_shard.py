"""``PcapEngine.sip_routed(path, ports, n)`` deals a capture's SIP messages out to processes.

The shards together must give exactly what one reader gives (every message and note once,
each shard in file order, no empty batch), every Call-ID must live in one shard, and every
REGISTER transaction in shard 0 (the REGISTER rules look across Call-IDs).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import FIXTURES, PUBLIC_CAPTURES

from ecc_doctor.captures import pcapfile
from ecc_doctor.captures.reader import PcapEngine
from ecc_doctor.captures.records import SipMessage, SipRecord
from ecc_doctor.captures.shard import call_id_key, is_register, shard_of
from ecc_doctor.captures.sip.message import SipMsg, parse

ALL = sorted(FIXTURES.rglob("*.pcap*"))
if PUBLIC_CAPTURES.is_dir():
    ALL += sorted(PUBLIC_CAPTURES.glob("*.pcap*"))
PORTS = (5060, 5061, 5062)


def _is_subsequence(part: list[SipRecord], whole: list[SipRecord]) -> bool:
    it = iter(whole)
    return all(any(rec == other for other in it) for rec in part)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
@pytest.mark.parametrize(("count", "chunk"), [(2, 1 << 20), (3, 1 << 20), (2, 97)])
def test_shards_add_up_to_one_reader(
    path: Path, count: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small read chunks send records through the file reader's general path (records cut
    # by a chunk end), where the shard router is asked too
    monkeypatch.setattr(pcapfile, "CHUNK", chunk)
    whole = list(PcapEngine().sip(path, PORTS))
    parts: list[list[SipRecord]] = [[] for _ in range(count)]
    for index, batch in PcapEngine().sip_routed(path, PORTS, count, batch=7):
        assert batch
        parts[index].extend(batch)
    assert sorted(map(repr, whole)) == sorted(repr(r) for part in parts for r in part)
    owner: dict[str, int] = {}
    for index, part in enumerate(parts):
        assert _is_subsequence(part, whole)
        for rec in part:
            if type(rec) is not SipMessage:
                continue
            msg = parse(rec)
            if not isinstance(msg, SipMsg):
                continue
            assert shard_of(rec.data, count) == index
            if msg.method == "REGISTER":
                assert index == 0, f"REGISTER f{rec.frame} is in shard {index}"
            else:
                assert owner.setdefault(msg.call_id, index) == index, msg.call_id


def test_call_id_key_spellings() -> None:
    assert (
        call_id_key(b"INVITE sip:b@h SIP/2.0\r\nCall-ID: abc@h \r\nCSeq: 1 INVITE\r\n\r\n")
        == b"abc@h"
    )
    assert call_id_key(b"SIP/2.0 200 OK\r\ni:abc@h\r\n\r\n") == b"abc@h"
    assert call_id_key(b"SIP/2.0 200 OK\r\nCALL-ID :  abc@h\r\n\r\n") == b"abc@h"
    assert call_id_key(b"SIP/2.0 200 OK\nCall-ID: abc@h\n\n") == b"abc@h"
    # the common spelling is looked for first (a message with two Call-IDs is malformed)
    assert call_id_key(b"SIP/2.0 200 OK\r\ni: one\r\nCall-ID: two\r\n\r\n") == b"two"
    assert call_id_key(b"SIP/2.0 200 OK\r\ni: one\r\ncall-id: two\r\n\r\n") == b"one"
    # a Call-ID in the body does not count
    assert call_id_key(b"NOTIFY sip:a@h SIP/2.0\r\nCSeq: 1 NOTIFY\r\n\r\nCall-ID: body\r\n") == b""


def test_register_goes_to_shard_zero() -> None:
    request = b"REGISTER sip:h SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n"
    response = b"SIP/2.0 401 Unauthorized\r\nCall-ID: x\r\ncseq: 1 Register\r\n\r\n"
    other = b"SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nSubject: REGISTER\r\n\r\n"
    assert is_register(request) and is_register(response) and not is_register(other)
    assert is_register(response.replace(b"cseq", b"CSeq"))
    assert not is_register(b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nX: 1 REGISTER\r\n\r\n")
    assert not is_register(b"SIP/2.0 200 OK\r\nCSeq: 1\r\n\r\n")
    keys = [f"call-{n}".encode() for n in range(50)]
    for count in (2, 4):
        spread = {
            shard_of(b"BYE sip:b@h SIP/2.0\r\nCall-ID: " + k + b"\r\n\r\n", count) for k in keys
        }
        assert spread == set(range(count))
        assert shard_of(request.replace(b"x", keys[7]), count) == 0
        assert shard_of(response.replace(b"x", keys[7]), count) == 0


def test_register_in_any_letter_case_stays_in_the_first_process() -> None:
    """The parser upper-cases methods, so 'REGIster' is a REGISTER (review finding)."""
    for method in (b"REGIster", b"REGISTEr", b"register", b"Register"):
        request = b"%s sip:h SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 %s\r\n\r\n" % (method, method)
        response = b"SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: 1 %s\r\n\r\n" % method
        for count in (2, 3):
            assert shard_of(request, count) == 0 and shard_of(response, count) == 0, method
