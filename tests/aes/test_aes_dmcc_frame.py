"""DMCC framing: encode/decode, partial reads, bad lengths, non-XML bodies, XML bombs."""

from __future__ import annotations

import asyncio
import struct

import pytest

from ecc_doctor.errors import ConnectError, ProbeTimeout, ProtocolError
from ecc_doctor.probes.dmcc_frame import (
    child_text,
    decode_header,
    encode_frame,
    parse_xml,
    read_frame,
)
from ecc_doctor.probes.timefmt import seconds


def header(length: int, invoke_id: bytes = b"0001", version: int = 0) -> bytes:
    return struct.pack(">HH4s", version, length, invoke_id)


def feed(data: bytes, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


def test_encode_puts_total_length_and_ascii_invoke_id() -> None:
    frame = encode_frame(42, b"<a/>")
    assert frame == b"\x00\x00\x00\x0c0042<a/>"


def test_decode_round_trip() -> None:
    head = decode_header(encode_frame(9999, b"<event/>")[:8])
    assert (head.version, head.length, head.invoke_id) == (0, 16, 9999)


@pytest.mark.parametrize("length", [0, 7])
def test_lengths_shorter_than_the_header_are_refused(length: int) -> None:
    with pytest.raises(ProtocolError, match=f"length {length} is shorter"):
        decode_header(header(length))


def test_length_above_our_limit_is_refused() -> None:
    with pytest.raises(ProtocolError, match="exceeds the limit of 1000"):
        decode_header(header(65535), max_length=1000)


@pytest.mark.parametrize("raw", [b"00a1", b"\x00\x00\x00\x01", b" 123"])
def test_invoke_id_must_be_ascii_digits(raw: bytes) -> None:
    with pytest.raises(ProtocolError, match="not 4 ASCII digits"):
        decode_header(header(12, raw))


def test_unknown_header_version_is_refused_but_ascii_zeroes_pass() -> None:
    with pytest.raises(ProtocolError, match="version 0x0102"):
        decode_header(header(12, version=0x0102))
    assert decode_header(header(12, version=0x3030)).version == 0x3030


def test_encode_refuses_oversized_message() -> None:
    with pytest.raises(ProtocolError, match="65535-byte frame limit"):
        encode_frame(1, b"x" * 65528)


@pytest.mark.anyio
async def test_max_length_frame_is_read_whole() -> None:
    body = b"<a>" + b"x" * (65535 - 8 - 7) + b"</a>"
    frame = await read_frame(feed(encode_frame(7, body)), 1.0)
    assert (frame.invoke_id, len(frame.body)) == (7, 65527)
    assert parse_xml(frame.body).tag == "a"


@pytest.mark.anyio
async def test_partial_reads_are_reassembled() -> None:
    data = encode_frame(3, b"<StartApplicationSessionPosResponse/>")
    reader = asyncio.StreamReader()

    async def trickle() -> None:
        for i in range(len(data)):
            reader.feed_data(data[i : i + 1])
            await asyncio.sleep(0)
        reader.feed_eof()

    feeder = asyncio.create_task(trickle())
    frame = await read_frame(reader, 2.0)
    await feeder
    assert frame.body == b"<StartApplicationSessionPosResponse/>"


@pytest.mark.anyio
async def test_truncated_body_is_a_connect_error_not_a_hang() -> None:
    with pytest.raises(ConnectError, match="in the middle of a message"):
        await read_frame(feed(header(100) + b"<a/>"), 1.0)


@pytest.mark.anyio
async def test_stalled_body_times_out() -> None:
    with pytest.raises(ProbeTimeout, match="no complete DMCC message from AES within 0.05 s"):
        await read_frame(feed(header(100) + b"<a/>", eof=False), 0.05)


@pytest.mark.parametrize(
    ("value", "shown"), [(9.99998, "10"), (0.25, "0.25"), (5.0, "5"), (0.123, "0.12")]
)
def test_time_limits_are_shown_rounded(value: float, shown: str) -> None:
    assert seconds(value) == shown


@pytest.mark.anyio
async def test_bad_length_on_the_wire_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="length 7"):
        await read_frame(feed(header(7) + b"<a/>"), 1.0)


def test_non_xml_body_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not XML"):
        parse_xml(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def test_entity_bomb_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<lolz>&lol2;</lolz>"
    )
    with pytest.raises(ProtocolError, match="DTD or entities"):
        parse_xml(bomb)


def test_child_text_ignores_namespaces() -> None:
    root = parse_xml(
        b'<StartApplicationSessionNegResponse xmlns="http://www.ecma-international.org/'
        b'standards/ecma-354/appl_session"><errorCode><definedError>invalidApplicationInfo'
        b"</definedError></errorCode></StartApplicationSessionNegResponse>"
    )
    assert child_text(root, "errorCode/definedError") == "invalidApplicationInfo"
    assert child_text(root, "errorCode/applError") == ""
