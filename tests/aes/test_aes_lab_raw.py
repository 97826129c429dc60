"""The lab AES over raw sockets: hostile frames never crash it; session semantics hold."""

from __future__ import annotations

import asyncio
import ssl
import struct

import pytest

from ecc_doctor.lab import Lab
from ecc_doctor.probes.dmcc import DmccSession
from ecc_doctor.transcript import Transcript

from .conftest import aes_of

pytestmark = pytest.mark.anyio
NS = "http://www.ecma-international.org/standards/ecma-354/appl_session"


def frame(invoke_id: bytes, body: bytes, length: int | None = None) -> bytes:
    return struct.pack(">HH4s", 0, 8 + len(body) if length is None else length, invoke_id) + body


def start_body(password: str, delay: int = 60, old_id: str = "") -> bytes:
    return (
        f'<StartApplicationSession xmlns="{NS}" xmlns:acx="http://www.avaya.com/csta">'
        "<applicationInfo><applicationID>raw</applicationID><applicationSpecificInfo>"
        f"<acx:SessionLoginInfo><acx:userName>ctiuser</acx:userName>"
        f"<acx:password>{password}</acx:password>"
        f"<acx:sessionCleanupDelay>{delay}</acx:sessionCleanupDelay>"
        f"<acx:sessionID>{old_id}</acx:sessionID></acx:SessionLoginInfo>"
        "</applicationSpecificInfo></applicationInfo><requestedProtocolVersions>"
        "<protocolVersion>http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv6"
        "</protocolVersion></requestedProtocolVersions>"
        "<requestedSessionDuration>60</requestedSessionDuration></StartApplicationSession>"
    ).encode()


async def exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    writer.write_eof()  # then the client goes quiet: a truncated frame must not stall the lab
    await writer.drain()
    try:
        async with asyncio.timeout(5):
            return await reader.read(65536)
    finally:
        writer.close()
        await writer.wait_closed()


async def read_answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readexactly(8)
    return head[4:8], await reader.readexactly(struct.unpack(">H", head[2:4])[0] - 8)


HOSTILE = [
    struct.pack(">HH4s", 0, 0, b"0001"),
    struct.pack(">HH4s", 0, 7, b"0001"),
    frame(b"ab!?", b"<a/>"),
    frame(b"0001", b"not xml at all"),
    frame(b"0001", b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'),
    frame(b"0001", b"<a/>", length=65535),  # announces more than it sends, then closes
    b"GET / HTTP/1.1\r\nHost: aes\r\n\r\n",
    b"\x16\x03\x01\x00\x05hello",
]


@pytest.mark.parametrize("data", HOSTILE)
async def test_hostile_frame_closes_the_connection(aes_lab: Lab, data: bytes) -> None:
    port = aes_lab.config.aes.dmcc_port
    assert await exchange(port, data) == b""
    async with DmccSession(aes_lab.config.aes, Transcript("dmcc")) as session:
        assert session.info is not None


async def test_plain_bytes_on_the_tls_port_do_not_hurt(aes_lab: Lab) -> None:
    emu = aes_of(aes_lab)
    reader, writer = await asyncio.open_connection("127.0.0.1", emu.tls_port)
    writer.write(frame(b"0001", start_body(emu.password)))
    await writer.drain()
    async with asyncio.timeout(5):
        await reader.read(65536)
    writer.close()
    await writer.wait_closed()
    context = ssl.create_default_context(cafile=str(aes_lab.config.aes.ca_file))
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", emu.tls_port, ssl=context, server_hostname="127.0.0.1"
    )
    writer.write(frame(b"0001", start_body(emu.password, delay=0)))
    _, body = await read_answer(reader)
    assert b"StartApplicationSessionPosResponse" in body
    writer.close()


async def test_unknown_requests_get_an_error_and_bad_ids_a_neg_response(aes_lab: Lab) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", aes_lab.config.aes.dmcc_port)
    writer.write(frame(b"0005", b'<MakeCall xmlns="urn:x"/>'))
    writer.write(
        frame(
            b"0006",
            f'<StopApplicationSession xmlns="{NS}"><sessionID>nope'
            f"</sessionID></StopApplicationSession>".encode(),
        )
    )
    first, second = await read_answer(reader), await read_answer(reader)
    writer.close()
    await writer.wait_closed()
    assert first[0] == b"0005" and b"CSTAErrorCode" in first[1]
    assert second[0] == b"0006" and b"invalidSessionID" in second[1]


async def test_dropped_session_is_kept_for_the_cleanup_delay_and_recoverable(
    aes_lab: Lab,
) -> None:
    emu = aes_of(aes_lab)
    port = aes_lab.config.aes.dmcc_port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(frame(b"0001", start_body(emu.password, delay=60)))
    _, body = await read_answer(reader)
    session_id = body.split(b"<sessionID>")[1].split(b"</sessionID>")[0].decode()
    writer.transport.abort()
    await asyncio.sleep(0.05)
    assert aes_lab.status()["aes"]["open_sessions"] == 1  # a ghost, as on a real AES
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(frame(b"0001", start_body(emu.password, old_id=session_id)))
    _, body = await read_answer(reader)
    assert f"<sessionID>{session_id}</sessionID>".encode() in body
    writer.write(
        frame(
            b"0002",
            f'<StopApplicationSession xmlns="{NS}"><sessionID>{session_id}'
            f"</sessionID></StopApplicationSession>".encode(),
        )
    )
    _, body = await read_answer(reader)
    assert b"StopApplicationSessionPosResponse" in body
    writer.close()
    await writer.wait_closed()


async def test_dropped_session_ends_after_a_zero_cleanup_delay(aes_lab: Lab) -> None:
    emu = aes_of(aes_lab)
    reader, writer = await asyncio.open_connection("127.0.0.1", aes_lab.config.aes.dmcc_port)
    writer.write(frame(b"0001", start_body(emu.password, delay=0)))
    await read_answer(reader)
    writer.close()
    await writer.wait_closed()
    for _ in range(100):
        if aes_lab.status()["aes"]["open_sessions"] == 0:
            break
        await asyncio.sleep(0.02)
    assert aes_lab.status()["aes"]["open_sessions"] == 0


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET http://[ HTTP/1.1\r\n\r\n",
        b"POST /aesvcs/login.xhtml HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
    ],
)
async def test_console_answers_garbage_with_400(aes_lab: Lab, request_bytes: bytes) -> None:
    url = aes_lab.config.aes.oam_url
    port = int(url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(aes_lab.config.aes.ca_file))
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
    )
    writer.write(request_bytes)
    await writer.drain()
    async with asyncio.timeout(5):
        answer = await reader.read(65536)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert aes_lab.status()["aes"]["dmcc_tls_port"] > 0
