"""The SIP message parser: compact forms, lists, parameters, URIs, bodies; junk never raises."""

from __future__ import annotations

import random

import pytest

from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sip.message import (
    ParseFailure,
    SipMsg,
    parse,
    parse_auth,
    parse_name_addr,
    parse_uri,
    split_list,
)


def rec(text: str, transport: str = "UDP") -> SipMessage:
    data = text.replace("\n", "\r\n").encode()
    return SipMessage((7,), 1.0, "10.0.0.1", 5060, "10.0.0.2", 5060, transport, data)


def ok(text: str) -> SipMsg:
    msg = parse(rec(text))
    assert isinstance(msg, SipMsg), msg
    return msg


INVITE = """INVITE sip:bob@example.com SIP/2.0
v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1, SIP/2.0/TCP proxy.example.com;branch=z9hG4bK2
f: "Alice, A." <sip:alice@example.com>;tag=abc
t: <sip:bob@example.com>
i: call-1@10.0.0.1
CSeq: 1 INVITE
m: <sip:alice@10.0.0.1:5060;transport=udp>;expires=60, sip:alice@10.0.0.3
k: 100rel, timer
Subject: a, b
 continued
c: application/sdp
l: 10

v=0
o=x
"""


def test_compact_forms_lists_and_params() -> None:
    msg = ok(INVITE)
    assert msg.is_request and msg.method == "INVITE" and msg.ruri == "sip:bob@example.com"
    assert msg.call_id == "call-1@10.0.0.1"
    assert msg.cseq == 1 and msg.cseq_method == "INVITE"
    assert len(msg.all("via")) == 2 and msg.branch == "z9hG4bK1"
    assert msg.from_.display == "Alice, A." and msg.from_.tag == "abc"
    assert msg.options("supported") == {"100rel", "timer"}
    contacts = msg.contacts
    assert [c.uri.host for c in contacts] == ["10.0.0.1", "10.0.0.3"]
    assert contacts[0].params["expires"] == "60" and contacts[0].uri.port == 5060
    assert msg.first("subject") == "a, b continued"  # not a list header; folded line joined
    assert msg.body == b"v=0\r\no=x\r\n"
    assert msg.problems == []


def test_response_takes_method_from_cseq() -> None:
    msg = ok(
        "SIP/2.0 183 Session Progress\nVia: SIP/2.0/UDP h;branch=z9\nFrom: <sip:a@h>;tag=1\n"
        "To: <sip:b@h>;tag=2\nCall-ID: x\nCSeq: 5 INVITE\nRequire: 100rel\nRSeq: 7\n\n"
    )
    assert not msg.is_request and msg.status == 183 and msg.method == "INVITE"
    assert msg.label == "183 Session Progress" and msg.first("rseq") == "7"


@pytest.mark.parametrize(
    ("raw", "host", "port", "problem"),
    [
        ("sip:alice@example.com:5070;transport=tcp", "example.com", 5070, False),
        ("sip:alice@[2001:db8::1]:5060", "2001:db8::1", 5060, False),
        ("sips:[2001:db8::1]", "2001:db8::1", None, False),
        ("sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060", "fec0:0:0:0:216:d3ff:fe0d:22c", 5060, True),
        ("sip:fe80::1", "fe80::1", None, True),
        ("tel:+15551234", "+15551234", None, False),
        ("nonsense", "", None, True),
    ],
)
def test_uris(raw: str, host: str, port: int | None, problem: bool) -> None:
    uri = parse_uri(raw)
    assert (uri.host, uri.port, bool(uri.problem)) == (host, port, problem)


def test_addr_spec_params_belong_to_the_header() -> None:
    na = parse_name_addr("sip:bob@example.com;tag=xyz")
    assert na.tag == "xyz" and na.uri.params == {}
    na = parse_name_addr('"B" <sip:bob@example.com;transport=tcp>;tag=1;tag=2')
    assert na.uri.params == {"transport": "tcp"} and na.dup_params == ("tag",)


def test_auth_header() -> None:
    ch = parse_auth(
        'Digest realm="sip.example, inc", nonce="abc", algorithm=MD5, qop="auth,auth-int"'
    )
    assert ch.scheme == "Digest"
    assert ch.params == {
        "realm": "sip.example, inc",
        "nonce": "abc",
        "algorithm": "MD5",
        "qop": "auth,auth-int",
    }


def test_split_list_respects_quotes_and_brackets() -> None:
    assert split_list('"a, b" <sip:x@y;p=1,2>, <sip:z@w>') == [
        '"a, b" <sip:x@y;p=1,2>',
        "<sip:z@w>",
    ]


def test_malformations_become_problems() -> None:
    msg = ok(
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP fe80:0:0:0:21a:a0ff:fe07:32e0:5060;branch=z9\n"
        "From: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2;tag=3\nCall-ID: x\nCSeq: abc\n"
        "Content-Length: 50\n\nshort"
    )
    text = " | ".join(msg.problems)
    assert "CSeq missing or malformed" in text
    assert "more than one tag" in text
    assert "IPv6 address without brackets" in text
    assert "Content-Length 50" in text


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"\x00\xff" * 100,
        b"INVITE\r\n",
        b"SIP/2.0 99x",
    ],
)
def test_junk_is_a_parse_failure(data: bytes) -> None:
    out = parse(SipMessage((1,), 0.0, "a", 1, "b", 2, "UDP", data))
    assert isinstance(out, ParseFailure) and out.reason


def test_random_junk_never_raises() -> None:
    rng = random.Random(3262)
    base = INVITE.replace("\n", "\r\n").encode()
    for _ in range(2000):
        data = bytearray(base)
        for _ in range(rng.randint(1, 20)):
            pos = rng.randrange(len(data))
            data[pos] = rng.randrange(256)
        out = parse(
            SipMessage((1,), 0.0, "a", 1, "b", 2, "TCP", bytes(data[: rng.randrange(len(data))]))
        )
        assert isinstance(out, (SipMsg, ParseFailure))
        if isinstance(out, SipMsg):  # accessors stay safe on damaged messages
            _ = (out.contacts, out.from_, out.to, out.top_via, out.expires, out.label)


def test_huge_header_count_is_bounded() -> None:
    text = "OPTIONS sip:x SIP/2.0\n" + "X-H: 1\n" * 5000 + "Call-ID: late\n\n"
    msg = ok(text)
    assert any("more than 256 header lines" in p for p in msg.problems)
