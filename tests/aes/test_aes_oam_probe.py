"""The AES OAM console probe against the lab: JSF login, session table, errors."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from ecc_doctor.config.aes import AesConfig
from ecc_doctor.errors import AuthError, ConnectError, ProtocolError
from ecc_doctor.lab import Lab
from ecc_doctor.lab.aes_oam import WELCOME_PATH
from ecc_doctor.lab.pki import LabCA
from ecc_doctor.probes.aes_oam import COLUMNS, fetch_dmcc_summary, find_session_table, parse_page
from ecc_doctor.probes.dmcc import DmccSession
from ecc_doctor.secrets import Secret
from ecc_doctor.transcript import Transcript

from .conftest import aes_of

pytestmark = pytest.mark.anyio


async def test_login_with_viewstate_then_session_table(aes_lab: Lab) -> None:
    cfg = aes_lab.config.aes
    transcript = Transcript("oam")
    async with DmccSession(cfg, Transcript("dmcc")) as session:
        assert session.info is not None
        session_id = session.info.session_id
        table = await fetch_dmcc_summary(cfg, transcript, timeout=5)
    records = table.records()
    ecc = [r for r in records if r["Application"] == "EngagementCallControl"]
    ours = [r for r in records if r["Session ID"] == session_id]
    assert ecc[0]["Far-end Identifier"] == aes_of(aes_lab).far_end
    assert ecc[0]["User"] == "ctiuser"
    assert ours[0]["Application"] == "ecc-doctor"
    assert ours[0]["Connection Type"] == "XML Unencrypted"
    text = "\n".join(transcript.lines)
    assert "javax.faces.ViewState=" in text
    assert "logged out" in text
    oam_password = Path(str(cfg.oam_password).removeprefix("file:")).read_text().strip()
    assert oam_password not in text
    assert aes_lab.status()["aes"]["oam_logins"] == 1


async def test_page_without_the_table_is_a_protocol_error(aes_lab: Lab) -> None:
    cfg = dataclasses.replace(aes_lab.config.aes, oam_summary_path=WELCOME_PATH)
    with pytest.raises(ProtocolError, match=f"no DMCC session table on {WELCOME_PATH}"):
        await fetch_dmcc_summary(cfg, Transcript("oam"), timeout=5)


async def test_missing_page_names_the_path(aes_lab: Lab) -> None:
    cfg = dataclasses.replace(aes_lab.config.aes, oam_summary_path="/aesvcs/nope.xhtml")
    with pytest.raises(ProtocolError, match="HTTP 404 .is the page path right"):
        await fetch_dmcc_summary(cfg, Transcript("oam"), timeout=5)


async def test_wrong_password_is_an_auth_error(aes_lab: Lab) -> None:
    cfg = dataclasses.replace(aes_lab.config.aes, oam_password=Secret("wrong-oam-pw"))
    transcript = Transcript("oam")
    with pytest.raises(AuthError, match="AES OAM refused the login for cust"):
        await fetch_dmcc_summary(cfg, transcript, timeout=5)
    assert "wrong-oam-pw" not in "\n".join(transcript.lines)


async def test_wrong_login_path_says_so(aes_lab: Lab) -> None:
    cfg = dataclasses.replace(aes_lab.config.aes, oam_login_path="/aesvcs/nope.xhtml")
    with pytest.raises(ProtocolError, match="answered HTTP 404"):
        await fetch_dmcc_summary(cfg, Transcript("oam"), timeout=5)


async def test_foreign_ca_names_the_certificate_problem(aes_lab: Lab, tmp_path: Path) -> None:
    cfg = dataclasses.replace(aes_lab.config.aes, ca_file=LabCA(tmp_path, "other CA").ca_file)
    with pytest.raises(
        ConnectError, match=r"TLS certificate not trusted \(unable to get local.*check aes\.ca_file"
    ):
        await fetch_dmcc_summary(cfg, Transcript("oam"), timeout=5)


async def test_hostname_mismatch_names_the_certificate_problem(tmp_path: Path) -> None:
    ca = LabCA(tmp_path)
    server = await asyncio.start_server(
        lambda r, w: w.close(), "127.0.0.1", 0, ssl=ca.server_context("x", ("aes.example",))
    )
    port = server.sockets[0].getsockname()[1]
    cfg = AesConfig(
        host="127.0.0.1",
        username="u",
        password=Secret("pw-123"),
        ca_file=ca.ca_file,
        oam_url=f"https://127.0.0.1:{port}",
    )
    try:
        with pytest.raises(
            ConnectError,
            match=r"TLS certificate is not for this host \(IP address mismatch.*check aes\.(host|oam_url)",
        ):
            await fetch_dmcc_summary(cfg, Transcript("oam"), timeout=5)
    finally:
        server.close()
        await server.wait_closed()


async def test_console_down_is_a_connect_error(aes_lab: Lab) -> None:
    await aes_lab.fault("network-flap")
    with pytest.raises(ConnectError, match="connection refused"):
        await fetch_dmcc_summary(aes_lab.config.aes, Transcript("oam"), timeout=5)


def test_table_is_found_by_header_among_nested_tables() -> None:
    page = parse_page(
        "<table><tr><td>menu<table><tr><td>x</td></tr></table></td></tr></table>"
        "<table><thead><tr><th></th><th>Session ID</th><th>User</th><th>Application</th>"
        "<th>Far-end  Identifier</th><th>Connection Type</th><th># of Associated Devices</th>"
        "</tr></thead><tbody><tr><td colspan='7'>No sessions</td></tr>"
        "<tr><td><input type='checkbox'/></td><td>A-0</td><td>ctiuser</td><td>ECC</td>"
        "<td>10.0.0.5:4711</td><td>XML Encrypted</td><td>3</td></tr></tbody></table>"
    )
    table = find_session_table(page, "/x")
    assert table is not None
    assert table.rows == (("A-0", "ctiuser", "ECC", "10.0.0.5:4711", "XML Encrypted", "3"),)
    assert list(table.records()[0]) == list(COLUMNS)


async def test_a_redirect_out_of_the_https_origin_is_not_followed(tmp_path: Path) -> None:
    # QA 4a F7: a 307 from the console to http:// would have carried the login form there
    plain_hits: list[bytes] = []

    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        plain_hits.append(await reader.read(4096))
        writer.close()

    sink = await asyncio.start_server(plain, "127.0.0.1", 0)
    sink_port = sink.sockets[0].getsockname()[1]

    async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(4096)
        writer.write(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:"
            + str(sink_port).encode()
            + b"/aesvcs/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    ca = LabCA(tmp_path)
    console = await asyncio.start_server(redirect, "127.0.0.1", 0, ssl=ca.server_context("c"))
    port = console.sockets[0].getsockname()[1]
    cfg = AesConfig(
        host="127.0.0.1",
        username="u",
        password=Secret("pw-123"),
        ca_file=ca.ca_file,
        oam_url=f"https://127.0.0.1:{port}",
    )
    try:
        with pytest.raises(ProtocolError, match="not followed: it leaves the console's https"):
            await fetch_dmcc_summary(cfg, Transcript("oam"), timeout=5)
    finally:
        for server in (console, sink):
            server.close()
            await server.wait_closed()
    assert plain_hits == []
