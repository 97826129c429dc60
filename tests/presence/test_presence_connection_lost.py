"""A connection lost in the middle of an SFTP session (the "pull the cable" case, QA 2 #1):
presence.im-archive gives ERROR "SFTP host:port: connection lost during ...", never an
internal error, and the cleanup after it raises nothing."""

from __future__ import annotations

import asyncio
import io
import socket
import stat
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from tests.presence.sftp_test_server import sftp_server

from ecc_doctor.checks import presence_archive, spec_of
from ecc_doctor.config import from_mapping
from ecc_doctor.errors import ConnectError
from ecc_doctor.lab import Lab
from ecc_doctor.lab.sftp import SftpEmulator, archive_xml
from ecc_doctor.models import Result, Status
from ecc_doctor.probes.sftp import open_session
from ecc_doctor.runner import run_checks
from ecc_doctor.transcript import Transcript

pytestmark = pytest.mark.anyio

DOC = archive_xml([("alice@x", "bob@x", "hello", time.time() - 60)])


class CutOnRead(asyncssh.SFTPServer):
    """Lists one fresh archive; reading it resets the TCP connection (RST, as a cable pulled
    under a busy link or a crashed server gives)."""

    def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return asyncssh.SFTPAttrs(permissions=stat.S_IFDIR | 0o755)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:  # type: ignore[override]
        when = int(time.time()) - 60
        attrs = asyncssh.SFTPAttrs(
            permissions=stat.S_IFREG | 0o644, size=len(DOC), atime=when, mtime=when
        )
        yield asyncssh.SFTPName(b"im_cut.xml", attrs=attrs)

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        return io.BytesIO(DOC)

    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        conn = self.channel.get_connection()
        sock = conn.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.abort()
        await asyncio.sleep(10)
        return b""

    def close(self, file_obj: object) -> None:
        return None


class AnyPassword(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return True


async def run(section: dict[str, Any]) -> Result:
    cfg = from_mapping({"sftp": section}, source="<test>")
    [result] = await run_checks([spec_of(presence_archive)], cfg)
    return result


async def test_connection_reset_during_a_download_is_an_error_not_an_internal_error(
    tmp_path: Path,
) -> None:
    async with sftp_server(tmp_path, "pw", AnyPassword, CutOnRead) as section:
        result = await asyncio.wait_for(run(section), 30)
    assert result.status is Status.ERROR, result.summary
    assert result.summary == (
        f"SFTP 127.0.0.1:{section['port']}: connection lost during the download of im_cut.xml"
    )


async def test_network_flap_after_the_listing_is_connect_error(tmp_path: Path) -> None:
    emu = SftpEmulator()
    async with Lab([emu]) as lab:
        cfg = lab.config.sftp
        assert cfg is not None
        transcript = Transcript("sftp")
        with pytest.raises(ConnectError) as info:
            async with open_session(cfg, transcript, 5.0) as session:
                listing = await session.list_dir(cfg.path, 100)
                entry = next(e for e in listing.entries if e.kind == "file")
                await emu.set_network(False)
                await session.download(cfg.path, entry, 1 << 20)
        assert info.value.message == (
            f"SFTP 127.0.0.1:{emu.port}: connection lost during the download of {entry.name}"
        )
        assert transcript.lines[-1].endswith("session aborted")
