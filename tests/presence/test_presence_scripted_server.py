"""A scripted SFTP server (asyncssh, in the test): listing order, listed sizes, files that
vanish between READDIR and OPEN, and counts of the bytes it actually served."""

from __future__ import annotations

import gzip
import io
import stat
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

DAY = 86400.0


@dataclass
class File:
    name: bytes
    age_s: float
    data: bytes
    listed_size: int | None = None  # None: the real size
    vanished: bool = False  # listed, but gone when opened (a collector took it)


@dataclass
class Script:
    files: list[File] = field(default_factory=list)
    served: int = 0  # bytes actually sent in READ replies


class ScriptedSFTP(asyncssh.SFTPServer):
    def __init__(self, chan: Any, script: Script) -> None:
        super().__init__(chan)
        self._script = script
        self._now = time.time()

    def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return asyncssh.SFTPAttrs(permissions=stat.S_IFDIR | 0o755)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:  # type: ignore[override]
        for f in self._script.files:
            when = int(self._now - f.age_s)
            size = len(f.data) if f.listed_size is None else f.listed_size
            attrs = asyncssh.SFTPAttrs(
                permissions=stat.S_IFREG | 0o644, size=size, atime=when, mtime=when
            )
            yield asyncssh.SFTPName(f.name, attrs=attrs)

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        name = path.rsplit(b"/", 1)[-1]
        f = next((f for f in self._script.files if f.name == name), None)
        if f is None or f.vanished:
            raise asyncssh.SFTPNoSuchFile("No such file")
        return io.BytesIO(f.data)

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        assert isinstance(file_obj, io.BytesIO)
        file_obj.seek(offset)
        data = file_obj.read(size)
        self._script.served += len(data)
        return data

    def close(self, file_obj: object) -> None:
        return None


class KeyServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return password == "scripted-pass"


@pytest.fixture
async def scripted(tmp_path: Path) -> AsyncIterator[tuple[Script, dict[str, Any]]]:
    script = Script()
    async with sftp_server(
        tmp_path, "scripted-pass", KeyServer, lambda chan: ScriptedSFTP(chan, script)
    ) as section:
        yield script, section


async def run(section: dict[str, Any]) -> Result:
    cfg = from_mapping({"sftp": section}, source="<test>")
    [result] = await run_checks([spec_of(presence_archive)], cfg)
    return result


def doc(body: str, age_s: float) -> bytes:
    return archive_xml([("a@x", "b@x", body, time.time() - age_s)])


@pytest.mark.anyio
async def test_fresh_file_past_the_listing_bound_gives_warn_not_a_false_fail(
    scripted: tuple[Script, dict[str, Any]],
) -> None:
    script, section = scripted
    old = [File(b"im_%03d.xml" % i, 2 * DAY + i, doc("old", 2 * DAY)) for i in range(60)]
    script.files = old[:50] + [File(b"im_fresh.xml", 300, doc("new", 300))] + old[50:]
    result = await run({**section, "max_list_entries": 20, "max_files_read": 1})
    assert result.status is Status.WARN, result.summary
    assert "newest of the first 20 listed, im_000.xml, is 2 d 0 h old" in result.summary
    assert "listing of /archive stopped after 20 entries (sftp.max_list_entries)" in (
        result.summary
    )


@pytest.mark.anyio
async def test_a_file_the_collector_took_between_listing_and_reading_is_a_warn(
    scripted: tuple[Script, dict[str, Any]],
) -> None:
    script, section = scripted
    script.files = [
        File(b"im_new.xml", 60, doc("new", 60)),
        File(b"im_taken.xml", 120, doc("taken", 120), vanished=True),
    ]
    result = await run(section)
    assert result.status is Status.WARN, result.summary
    assert result.summary == (
        "archive im_taken.xml: removed while checking (taken by the collector?)"
    )
    assert "newest archive im_new.xml is 1 min old (uploads are expected every 1 h)" in (
        result.details
    )
    assert "1 files read: 1 IM records, root <imArchive>" in result.details


@pytest.mark.anyio
async def test_budget_counts_bytes_actually_read_not_listed_sizes(
    scripted: tuple[Script, dict[str, Any]],
) -> None:
    script, section = scripted
    big = doc("z" * 900_000, 60)
    script.files = [File(b"im_%d.xml" % i, 60 + i, big, listed_size=100) for i in range(6)]
    result = await run({**section, "max_total_bytes": 1000, "max_files_read": 6})
    assert script.served <= 1001, f"the server sent {script.served} bytes"
    assert result.status is Status.WARN, result.summary
    assert result.summary == (
        "archive im_0.xml: listed as 100 B, but more than 1000 B were served: read stopped at"
        " the sftp.max_total_bytes budget, content not verified"
    )
    for i in range(1, 6):
        assert f"im_{i}.xml: not read, sftp.max_total_bytes budget spent" in result.details


@pytest.mark.anyio
async def test_a_file_that_grows_past_max_file_bytes_is_cut_at_the_cap(
    scripted: tuple[Script, dict[str, Any]],
) -> None:
    script, section = scripted
    script.files = [File(b"im_grows.xml", 60, doc("g" * 500_000, 60), listed_size=200)]
    result = await run({**section, "max_file_bytes": 4096})
    assert script.served <= 4097, f"the server sent {script.served} bytes"
    assert result.status is Status.ERROR, result.summary
    assert result.summary == (
        "archive im_grows.xml: listed as 200 B, but more than 4.0 KiB were served (over"
        " sftp.max_file_bytes): read stopped at the cap, content not verified"
    )


@pytest.mark.anyio
async def test_a_huge_record_is_counted_and_named_but_not_read(
    scripted: tuple[Script, dict[str, Any]],
) -> None:
    script, section = scripted
    huge = b'<imArchive><message from="a@x" to="b@x">' + b"<b/>" * 200_000 + b"</message>"
    normal = b'<message from="c@x" to="d@x"><body>ok</body></message></imArchive>'
    script.files = [File(b"im_deep.xml.gz", 60, gzip.compress(huge + normal))]
    result = await run(section)
    assert result.status is Status.WARN, result.summary
    assert result.summary == (
        "archive im_deep.xml.gz: 2 records, 1 of them over the per-record cap (1000 elements or"
        " 64 KiB of text): counted, their fields not read"
    )
