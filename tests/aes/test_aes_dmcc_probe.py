"""The DMCC session probe against the lab AES and against scripted hostile peers."""

from __future__ import annotations

import asyncio
import dataclasses
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ecc_doctor.config.aes import AesConfig
from ecc_doctor.errors import AuthError, ConnectError, ProbeTimeout, ProtocolError
from ecc_doctor.lab import Lab
from ecc_doctor.lab.pki import LabCA
from ecc_doctor.probes.dmcc import PROTOCOL_VERSIONS, DmccSession, SessionRefused
from ecc_doctor.secrets import Secret
from ecc_doctor.transcript import Transcript

from .conftest import aes_of

POS = (
    b'<StartApplicationSessionPosResponse xmlns="http://www.ecma-international.org/standards/'
    b'ecma-354/appl_session"><sessionID>ABC-0</sessionID><actualProtocolVersion>'
    b"http://www.ecma-international.org/standards/ecma-323/csta/ed3/privA"
    b"</actualProtocolVersion><actualSessionDuration>180</actualSessionDuration>"
    b"</StartApplicationSessionPosResponse>"
)


def frame(invoke_id: bytes, body: bytes) -> bytes:
    return struct.pack(">HH4s", 0, 8 + len(body), invoke_id) + body


def lab_password(lab: Lab) -> str:
    return aes_of(lab).password


@pytest.mark.anyio
async def test_session_opens_negotiates_and_stops(aes_lab: Lab) -> None:
    cfg = aes_lab.config.aes
    transcript = Transcript("dmcc")
    async with DmccSession(cfg, transcript) as session:
        assert session.info is not None
        assert session.info.protocol_version == PROTOCOL_VERSIONS["7.0.0"]
        assert session.info.duration_s == cfg.session_duration_s
        assert aes_lab.status()["aes"]["open_sessions"] == 1
        assert await session.reset_timer() == cfg.session_duration_s
    assert aes_lab.status()["aes"]["open_sessions"] == 0
    assert session.stop_problem == ""
    text = "\n".join(transcript.lines)
    assert "StopApplicationSessionPosResponse" in text
    assert lab_password(aes_lab) not in text


@pytest.mark.anyio
async def test_protocol_version_list_picks_the_first_the_lab_speaks(aes_lab: Lab) -> None:
    cfg = dataclasses.replace(
        aes_lab.config.aes, protocol_versions=["urn:not-a-version", "6.2", "7.0.0"]
    )
    async with DmccSession(cfg, Transcript("dmcc")) as session:
        assert session.info is not None
        assert session.info.protocol_version == PROTOCOL_VERSIONS["6.2"]


@pytest.mark.anyio
async def test_tls_with_the_lab_ca_pinned(aes_lab: Lab) -> None:
    cfg = dataclasses.replace(aes_lab.config.aes, dmcc_tls=True, dmcc_port=aes_of(aes_lab).tls_port)
    async with DmccSession(cfg, Transcript("dmcc")) as session:
        assert session.info is not None
        rows = aes_of(aes_lab).session_rows()
        assert any(r[0] == session.info.session_id and "XML Encrypted" in r for r in rows)


@pytest.mark.anyio
async def test_tls_with_a_foreign_ca_is_a_connect_error(aes_lab: Lab, tmp_path: Path) -> None:
    other = LabCA(tmp_path, name="someone else's CA")
    cfg = dataclasses.replace(
        aes_lab.config.aes,
        dmcc_tls=True,
        dmcc_port=aes_of(aes_lab).tls_port,
        ca_file=other.ca_file,
    )
    with pytest.raises(ConnectError, match="TLS certificate not trusted"):
        async with DmccSession(cfg, Transcript("dmcc")):
            pass


@pytest.mark.anyio
async def test_wrong_password_is_an_auth_error(aes_lab: Lab) -> None:
    cfg = dataclasses.replace(aes_lab.config.aes, password=Secret("not-the-password"))
    transcript = Transcript("dmcc")
    with pytest.raises(AuthError, match="AES refused the CTI user ctiuser"):
        async with DmccSession(cfg, transcript):
            pass
    assert "not-the-password" not in "\n".join(transcript.lines)


@pytest.mark.anyio
async def test_license_exhaustion_is_a_capacity_refusal(aes_lab: Lab) -> None:
    await aes_lab.fault("dmcc-license-exhausted")
    with pytest.raises(SessionRefused) as info:
        async with DmccSession(aes_lab.config.aes, Transcript("dmcc")):
            pass
    assert info.value.capacity
    assert info.value.reason == "maxNumberSessions"


@pytest.mark.anyio
async def test_unsupported_protocol_versions_are_named(aes_lab: Lab) -> None:
    cfg = dataclasses.replace(aes_lab.config.aes, protocol_versions=["urn:nope"])
    with pytest.raises(SessionRefused, match="none of the DMCC protocol versions") as info:
        async with DmccSession(cfg, Transcript("dmcc")):
            pass
    assert not info.value.capacity


@pytest.mark.anyio
async def test_session_is_stopped_on_error_inside_the_block(aes_lab: Lab) -> None:
    with pytest.raises(RuntimeError):
        async with DmccSession(aes_lab.config.aes, Transcript("dmcc")):
            raise RuntimeError("boom")
    assert aes_lab.status()["aes"]["open_sessions"] == 0


@pytest.mark.anyio
async def test_session_is_stopped_on_timeout_and_cancellation(aes_lab: Lab) -> None:
    opened = asyncio.Event()

    async def hold() -> None:
        async with DmccSession(aes_lab.config.aes, Transcript("dmcc")):
            opened.set()
            await asyncio.sleep(3600)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await hold()
    assert aes_lab.status()["aes"]["open_sessions"] == 0
    task = asyncio.create_task(hold())
    await opened.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert aes_lab.status()["aes"]["open_sessions"] == 0


@pytest.mark.anyio
async def test_aes_restart_mid_session_is_noted_not_hung(aes_lab: Lab) -> None:
    transcript = Transcript("dmcc")
    async with DmccSession(aes_lab.config.aes, transcript, io_timeout=2) as session:
        await aes_lab.fault("aes-restart")
        with pytest.raises(ConnectError):
            await session.reset_timer()
    assert "connection broken" in session.stop_problem
    assert any("StopApplicationSession" in line and "not sent" in line for line in transcript.lines)
    with pytest.raises(ConnectError, match="connection refused"):
        async with DmccSession(aes_lab.config.aes, Transcript("dmcc")):
            pass
    await aes_lab.heal("aes-restart")
    async with DmccSession(aes_lab.config.aes, Transcript("dmcc")) as again:
        assert again.info is not None


@pytest.mark.anyio
async def test_invoke_ids_wrap_from_9998_to_0001(aes_lab: Lab) -> None:
    transcript = Transcript("dmcc")
    async with DmccSession(aes_lab.config.aes, transcript) as session:
        session._next_id = 9997  # jump ahead instead of sending 9996 keepalives
        await session.reset_timer()
        await session.reset_timer()
    sent = [line.split("> [", 1)[1][:4] for line in transcript.lines if "> [" in line]
    assert sent == ["0001", "9998", "0001", "0002"]


# -- scripted peers --------------------------------------------------------------------------

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def peer() -> AsyncIterator[Callable[[Script], Awaitable[AesConfig]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> AesConfig:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await script(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return AesConfig(host="127.0.0.1", username="u", password=Secret("pw-123"), dmcc_port=port)

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readexactly(8)
    length = struct.unpack(">H", head[2:4])[0]
    return head[4:8], await reader.readexactly(length - 8)


@pytest.mark.anyio
async def test_events_with_invoke_id_9999_are_routed_and_ignored(peer) -> None:  # type: ignore[no-untyped-def]
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        invoke_id, _ = await read_request(reader)
        writer.write(
            frame(
                b"9999",
                b'<DeliveredEvent xmlns="urn:x"><monitorCrossRefID>1'
                b"</monitorCrossRefID></DeliveredEvent>",
            )
        )
        writer.write(frame(invoke_id, POS))
        while True:
            invoke_id, body = await read_request(reader)
            writer.write(frame(invoke_id, b'<StopApplicationSessionPosResponse xmlns="urn:x"/>'))

    cfg = await peer(script)
    async with DmccSession(cfg, Transcript("dmcc")) as session:
        assert session.info is not None and session.info.session_id == "ABC-0"
    assert session.events["DeliveredEvent"] == 1
    assert session.stop_problem == ""


@pytest.mark.anyio
async def test_wrong_invoke_id_is_a_protocol_error(peer) -> None:  # type: ignore[no-untyped-def]
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(frame(b"4242", POS))
        await asyncio.sleep(5)

    cfg = await peer(script)
    with pytest.raises(ProtocolError, match="invoke ID 4242 matches no request"):
        async with DmccSession(cfg, Transcript("dmcc"), io_timeout=2):
            pass


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (struct.pack(">HH4s", 0, 0, b"0001"), "length 0 is shorter"),
        (struct.pack(">HH4s", 0, 7, b"0001"), "length 7 is shorter"),
        (frame(b"0001", b"this is not xml"), "not XML"),
        (frame(b"0001", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'), "DTD or entities"),
        (struct.pack(">HH4s", 0x0107, 20, b"0001") + b"<a/>", "version 0x0107"),
        (struct.pack(">HH4s", 0, 65535, b"0001") + b"<a/>", "closed the DMCC connection"),
    ],
)
async def test_hostile_answers_fail_fast(peer, reply: bytes, match: str) -> None:  # type: ignore[no-untyped-def]
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply)
        await writer.drain()

    cfg = await peer(script)
    with pytest.raises((ProtocolError, ConnectError), match=match) as info:
        async with DmccSession(cfg, Transcript("dmcc"), io_timeout=2):
            pass
    assert info.value.message.startswith(f"AES DMCC 127.0.0.1:{cfg.dmcc_port} (plain): ")


@pytest.mark.anyio
async def test_silent_peer_times_out(peer) -> None:  # type: ignore[no-untyped-def]
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(10)

    cfg = await peer(script)
    with pytest.raises(ProbeTimeout, match="no answer within 0.2 s"):
        async with DmccSession(cfg, Transcript("dmcc"), io_timeout=0.2):
            pass


@pytest.mark.anyio
async def test_late_grant_after_a_timeout_is_stopped(peer) -> None:  # type: ignore[no-untyped-def]
    stopped = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        invoke_id, _ = await read_request(reader)
        await asyncio.sleep(0.3)
        writer.write(frame(invoke_id, POS))
        invoke_id, body = await read_request(reader)
        if b"StopApplicationSession" in body and b"ABC-0" in body:
            stopped.set()
        writer.write(frame(invoke_id, b'<StopApplicationSessionPosResponse xmlns="urn:x"/>'))

    cfg = await peer(script)
    with pytest.raises(ProbeTimeout):
        async with DmccSession(cfg, Transcript("dmcc"), io_timeout=0.1):
            pass
    assert stopped.is_set()


@pytest.mark.anyio
async def test_tls_certificate_for_another_name_is_a_connect_error(tmp_path: Path) -> None:
    ca = LabCA(tmp_path)
    server = await asyncio.start_server(
        lambda r, w: w.close(), "127.0.0.1", 0, ssl=ca.server_context("x", ("aes.example",))
    )
    cfg = AesConfig(
        host="127.0.0.1",
        username="u",
        password=Secret("pw-123"),
        dmcc_port=server.sockets[0].getsockname()[1],
        dmcc_tls=True,
        ca_file=ca.ca_file,
    )
    try:
        with pytest.raises(
            ConnectError,
            match=r"TLS certificate is not for this host \(IP address mismatch.*check aes\.(host|oam_url)",
        ):
            async with DmccSession(cfg, Transcript("dmcc")):
                pass
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.anyio
async def test_bytes_beyond_the_announced_length_break_the_link_not_the_probe(peer) -> None:  # type: ignore[no-untyped-def]
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        invoke_id, _ = await read_request(reader)
        writer.write(frame(invoke_id, POS) + b"XXXXXXXXXXXX")
        await asyncio.sleep(5)

    cfg = await peer(script)
    transcript = Transcript("dmcc")
    async with DmccSession(cfg, transcript, io_timeout=2) as session:
        assert session.info is not None
        with pytest.raises(ProtocolError, match="version 0x5858"):
            await session.reset_timer()
    assert "connection broken" in session.stop_problem


@pytest.mark.anyio
@pytest.mark.parametrize("duration", [b"abc", b""], ids=["garbage-duration", "empty-duration"])
async def test_malformed_grant_with_a_session_id_is_still_stopped(peer, duration: bytes) -> None:  # type: ignore[no-untyped-def]
    stopped = asyncio.Event()
    bad = POS.replace(b"<actualSessionDuration>180<", b"<actualSessionDuration>" + duration + b"<")

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        invoke_id, _ = await read_request(reader)
        writer.write(frame(invoke_id, bad))
        invoke_id, body = await read_request(reader)
        if b"StopApplicationSession" in body and b"ABC-0" in body:
            stopped.set()
        writer.write(frame(invoke_id, b'<StopApplicationSessionPosResponse xmlns="urn:x"/>'))
        await writer.drain()

    cfg = await peer(script)
    transcript = Transcript("dmcc")
    session = DmccSession(cfg, transcript, io_timeout=2)
    with pytest.raises(ProtocolError, match="lacks sessionID or actualSessionDuration"):
        async with session:
            pass
    assert stopped.is_set()
    assert "session ABC-0 stopped" in "\n".join(transcript.lines)
    # what AES did grant is kept after the stop, with duration 0 for the unparsable one
    info = session.last_info
    assert info is not None
    assert (info.session_id, info.duration_s) == ("ABC-0", 0)
    assert info.protocol_version.endswith("/csta/ed3/privA")


@pytest.mark.anyio
async def test_timeout_message_rounds_the_limit(peer) -> None:  # type: ignore[no-untyped-def]
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(10)

    cfg = await peer(script)
    with pytest.raises(ProbeTimeout) as info:
        async with DmccSession(cfg, Transcript("dmcc"), io_timeout=0.29998):
            pass
    assert "no answer within 0.3 s" in info.value.message
