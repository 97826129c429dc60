"""A hostile SFTP server (asyncssh, in the test): names that try to escape the download
dir, sizes that lie, and reads that never answer."""

from __future__ import annotations

import asyncio
import io
import stat
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from tests.presence.sftp_test_server import sftp_server

from ecc_doctor.checks import presence_archive, spec_of
from ecc_doctor.config import from_mapping
from ecc_doctor.lab.sftp import archive_xml
from ecc_doctor.models import Result, Status
from ecc_doctor.runner import run_checks

DOC = archive_xml([("alice@x", "bob@x", "escape attempt", time.time() - 60)])
HOSTILE_NAMES = [b"../../escape.xml", b"/tmp/abs_escape.xml", b"sub/../../up_escape.xml"]
GOOD_NAMES = [b"im_\xff\xfe.xml", b"im_ok.xml"]


@dataclass
class State:
    names: list[bytes]
    hang: bool = False
    sessions: int = 0
    connections: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    opened: list[bytes] = field(default_factory=list)


class HostileSFTP(asyncssh.SFTPServer):
    def __init__(self, chan: Any, state: State) -> None:
        super().__init__(chan)
        self._state = state
        state.sessions += 1

    def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return asyncssh.SFTPAttrs(permissions=stat.S_IFDIR | 0o755)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:  # type: ignore[override]
        for i, name in enumerate(self._state.names):
            when = int(time.time()) - 60 - i
            attrs = asyncssh.SFTPAttrs(
                permissions=stat.S_IFREG | 0o644, size=len(DOC), atime=when, mtime=when
            )
            yield asyncssh.SFTPName(name, attrs=attrs)

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        self._state.opened.append(path)
        return io.BytesIO(DOC)

    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        if self._state.hang:
            await self._state.release.wait()
        assert isinstance(file_obj, io.BytesIO)
        file_obj.seek(offset)
        return file_obj.read(size)

    def close(self, file_obj: object) -> None:
        return None

    def exit(self) -> None:
        self._state.sessions -= 1


class PasswordServer(asyncssh.SSHServer):
    def __init__(self, state: State) -> None:
        self._state = state

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._state.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._state.connections -= 1

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return password == "hostile-pass"


@pytest.fixture
async def hostile(tmp_path: Path) -> AsyncIterator[tuple[State, dict[str, Any]]]:
    state = State(HOSTILE_NAMES + GOOD_NAMES)
    async with sftp_server(
        tmp_path,
        "hostile-pass",
        lambda: PasswordServer(state),
        lambda chan: HostileSFTP(chan, state),
    ) as section:
        try:
            yield state, section
        finally:
            state.release.set()


async def run(section: dict[str, Any], timeout: float | None = None) -> Result:
    cfg = from_mapping({"sftp": section}, source="<test>")
    [result] = await run_checks([spec_of(presence_archive)], cfg, timeout_override=timeout)
    return result


def _escapes(tmp_path: Path) -> list[str]:
    places = [Path("/tmp"), tmp_path, tmp_path.parent, Path.cwd()]
    names = {"escape.xml", "abs_escape.xml", "up_escape.xml"}
    return [str(p / n) for p in places for n in names if (p / n).exists()]


@pytest.mark.anyio
async def test_names_that_try_to_escape_are_downloaded_inside_the_private_dir(
    hostile: tuple[State, dict[str, Any]], tmp_path: Path
) -> None:
    state, section = hostile
    result = await run({**section, "file_patterns": ["*"]})
    assert result.status is Status.WARN, result.summary
    assert result.summary == (
        "the server listed 3 names that are not plain file names (e.g. '../../escape.xml'): ignored"
    )
    assert "2 files read: 2 IM records, root <imArchive>" in result.details
    assert state.opened == [b"/archive/im_\xff\xfe.xml", b"/archive/im_ok.xml"]
    assert _escapes(tmp_path) == []
    table = next(e for e in result.evidence if e.kind == "table")
    assert [row[0] for row in table.rows] == ["im_\\xff\\xfe.xml", "im_ok.xml"]


@pytest.mark.anyio
async def test_a_read_that_never_answers_times_out_and_closes_the_session(
    hostile: tuple[State, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, section = hostile
    state.hang = True
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    result = await run(section, timeout=1.5)
    assert result.status is Status.ERROR
    assert result.summary.startswith("timed out after 1.5 s")
    for _ in range(100):
        if state.connections == 0:
            break
        await asyncio.sleep(0.02)
    assert state.connections == 0, "the SSH connection was left open after the timeout"
    assert list(scratch.iterdir()) == [], "the private download dir was left behind"
