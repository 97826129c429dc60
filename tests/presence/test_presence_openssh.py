"""presence.im-archive against a real OpenSSH sshd + internal-sftp started in tmp_path.

Every test asserts that the served directory is byte-for-byte unchanged by the check.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests.presence.conftest import SFTP_SERVER, Sshd, run_presence, tree_digest

from ecc_doctor.lab.sftp import archive_xml
from ecc_doctor.models import Result, Status

pytestmark = pytest.mark.peer
HOUR = 3600.0


def put(directory: Path, name: str | bytes, data: bytes, age_s: float) -> Path:
    path = Path(os.fsdecode(os.path.join(os.fsencode(directory), os.fsencode(name))))
    path.write_bytes(data)
    ts = time.time() - age_s
    os.utime(path, (ts, ts))
    return path


def fresh_archive(directory: Path) -> None:
    now = time.time()
    put(
        directory, "im_old.xml", archive_xml([("c@x", "d@x", "old news", now - 3 * HOUR)]), 2 * HOUR
    )
    put(
        directory,
        "im_new.xml.gz",
        gzip.compress(archive_xml([("alice@x", "bob@x", "release 9.1 is out", now - 900)])),
        600,
    )


async def check(sshd: Sshd, **extra: Any) -> Result:
    """Run the check; the served tree must be byte-for-byte the same afterwards."""
    before = tree_digest(sshd.archive)
    result = await run_presence(sshd.sftp_section(**extra))
    assert tree_digest(sshd.archive) == before, "the check changed the server's files"
    return result


BOTH_SUBSYSTEMS = pytest.mark.parametrize(
    "sshd", ["internal-sftp", SFTP_SERVER], indirect=True, ids=["internal-sftp", "sftp-server"]
)


@pytest.mark.anyio
@BOTH_SUBSYSTEMS
async def test_fresh_archives_pass(sshd: Sshd) -> None:
    fresh_archive(sshd.archive)
    result = await check(sshd)
    assert result.status is Status.PASS, result.summary
    assert "newest archive im_new.xml.gz is 10 min old" in result.summary
    assert "2 files read: 2 IM records, root <imArchive>" in result.summary


@pytest.mark.anyio
async def test_stale_archive_fails_naming_file_and_age(sshd: Sshd) -> None:
    put(sshd.archive, "im_2026-11-21T07.xml", archive_xml([]), 5 * HOUR + 12 * 60 + 20)
    result = await check(sshd)
    assert result.status is Status.FAIL
    assert result.summary == (
        "newest archive im_2026-11-21T07.xml is 5 h 12 min old by its modification time; "
        "uploads are expected every 1 h"
    )


@pytest.mark.anyio
@pytest.mark.parametrize(("body", "status"), [("9.1 is out", Status.PASS), ("9.2", Status.FAIL)])
async def test_marker_comparison(sshd: Sshd, body: str, status: Status) -> None:
    fresh_archive(sshd.archive)
    after = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    marker = {
        "marker_from": "alice@x",
        "marker_to": "bob@x",
        "marker_body": body,
        "marker_sent_after": after,
    }
    result = await check(sshd, **marker)
    assert result.status is status, result.summary
    if status is Status.FAIL:
        assert "differs in body 'release 9.1 is out' lacks '9.2'" in result.summary


@pytest.mark.anyio
async def test_sparse_2gb_file_is_not_downloaded(sshd: Sshd) -> None:
    fresh_archive(sshd.archive)
    big = put(sshd.archive, "im_huge.xml", b"", 60)
    os.truncate(big, 2 * 1024**3)
    os.utime(big, (time.time() - 60, time.time() - 60))
    rss_before = psutil.Process().memory_info().rss
    result = await check(sshd)
    assert result.status is Status.ERROR
    assert result.summary == (
        "archive im_huge.xml: 2.0 GiB, over sftp.max_file_bytes (32.0 MiB): not downloaded, "
        "content not verified"
    )
    assert psutil.Process().memory_info().rss - rss_before < 200 * 1024**2


@pytest.mark.anyio
async def test_size_lie_is_capped_while_reading(sshd: Sshd) -> None:
    put(sshd.archive, "im_a.xml", archive_xml([("a@x", "b@x", "x" * 5000, time.time())]), 60)
    result = await check(sshd, max_file_bytes=1000)
    assert result.status is Status.ERROR
    assert "over sftp.max_file_bytes" in result.summary


@pytest.mark.anyio
async def test_xml_bomb_and_external_entity_on_the_server_fail(sshd: Sshd) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">'
        b"]><l>&c;</l>"
    )
    xxe = b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/shadow">]><m>&x;</m>'
    put(sshd.archive, "im_bomb.xml", bomb, 60)
    put(sshd.archive, "im_xxe.xml", xxe, 120)
    result = await check(sshd)
    assert result.status is Status.FAIL
    assert "archive im_bomb.xml: declares XML entity 'a': refused, not expanded" in result.summary
    assert "archive im_xxe.xml: declares external entity 'x' (file:///etc/shadow)" in (
        result.summary
    )


@pytest.mark.anyio
async def test_binary_file_named_xml_and_empty_file(sshd: Sshd) -> None:
    put(sshd.archive, "im_bin.xml", os.urandom(4096), 60)
    put(sshd.archive, "im_empty.xml", b"", 120)
    result = await check(sshd)
    assert result.status is Status.FAIL
    assert result.summary.startswith("archive im_bin.xml: not well-formed XML")
    assert "archive im_empty.xml: empty file" in result.details


@pytest.mark.anyio
async def test_hostile_names_are_read_safely(sshd: Sshd, tmp_path: Path) -> None:
    doc = archive_xml([("a@x", "b@x", "hi", time.time() - 60)])
    put(sshd.archive, b"im_\xff\xfe.xml", doc, 60)
    put(sshd.archive, "..im_dots.xml", doc, 90)  # a dot file: ignored
    put(sshd.archive, "im_..%2f..%2fescape.xml", doc, 120)
    outside = set(os.listdir(tmp_path))
    result = await check(sshd)
    assert result.status is Status.PASS, result.summary
    assert "newest archive im_\\xff\\xfe.xml is 1 min old" in result.summary
    assert "2 files read" in result.summary
    assert set(os.listdir(tmp_path)) == outside


@pytest.mark.anyio
async def test_symlink_loop_is_not_followed(sshd: Sshd) -> None:
    fresh_archive(sshd.archive)
    os.symlink("loop_b.xml", sshd.archive / "loop_a.xml")
    os.symlink("loop_a.xml", sshd.archive / "loop_b.xml")
    os.symlink(".", sshd.archive / "self.xml")
    os.symlink("/etc/passwd", sshd.archive / "im_zzz.xml")
    result = await check(sshd)
    assert result.status is Status.PASS, result.summary
    assert "ignored: 4 symlinks (not followed), 0 directories/other" in result.details


@pytest.mark.anyio
async def test_path_that_is_a_symlink_loop_fails_clearly(sshd: Sshd) -> None:
    os.symlink("loop", sshd.archive / "loop")
    result = await check(sshd, path=str(sshd.archive / "loop"))
    assert result.status is Status.FAIL
    assert result.summary == (
        f"archive directory {sshd.archive / 'loop'} on 127.0.0.1:{sshd.port} is a symbolic "
        "link that does not resolve (dangling, or a loop)"
    )


@pytest.fixture
def big_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory on tmpfs when there is one (100k creates there take about a second)."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path / "archive"
        return
    directory = Path(tempfile.mkdtemp(prefix="ecc-doctor-100k-", dir=shm))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.anyio
async def test_100k_files_listing_is_bounded_and_reported(sshd: Sshd, big_dir: Path) -> None:
    fd = os.open(big_dir, os.O_RDONLY)
    try:
        for i in range(100_000):
            os.mknod(f"im_{i:06d}.xml", stat.S_IFREG | 0o644, dir_fd=fd)
    finally:
        os.close(fd)
    before = tree_digest(big_dir)
    result = await run_presence(
        sshd.sftp_section(
            path=str(big_dir), max_list_entries=1000, pile_up_threshold=500, max_files_read=2
        )
    )
    assert tree_digest(big_dir) == before
    assert result.status is Status.WARN, result.summary
    assert f"listing of {big_dir} stopped after 1000 entries (sftp.max_list_entries)" in (
        result.summary
    )
    assert "at least 1000 archive files wait" in result.summary
    assert result.metrics["files"] == 1000


@pytest.mark.anyio
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run sshd without DAC override")
async def test_permission_denied_on_the_path_is_an_error(sshd: Sshd) -> None:
    locked = sshd.archive / "locked"
    locked.mkdir()
    put(locked, "im_a.xml", archive_xml([]), 60)
    locked.chmod(0)
    try:
        result = await check(sshd, path=str(locked))
    finally:
        locked.chmod(0o755)
    assert result.status is Status.ERROR
    assert result.summary == f"permission denied listing {locked} on 127.0.0.1:{sshd.port}"


@pytest.mark.anyio
@BOTH_SUBSYSTEMS
async def test_an_unreadable_file_is_its_own_error_and_the_other_verdicts_stay(
    sshd: Sshd,
) -> None:
    fresh_archive(sshd.archive)
    locked = put(sshd.archive, "im_locked.xml", archive_xml([]), 60)
    locked.chmod(0)
    try:
        result = await check(sshd)
    finally:
        locked.chmod(0o644)
    assert result.status is Status.ERROR, result.summary
    assert result.summary == (
        "archive im_locked.xml: permission denied: the SFTP account cannot read it, content not"
        " verified"
    )
    assert "newest archive im_locked.xml is 1 min old (uploads are expected every 1 h)" in (
        result.details
    )
    assert "2 files read: 2 IM records, root <imArchive>" in result.details


@pytest.mark.anyio
async def test_path_that_is_a_file_fails_as_not_a_directory(sshd: Sshd) -> None:
    afile = put(sshd.archive, "im_a.xml", archive_xml([]), 60)
    result = await check(sshd, path=str(afile))
    assert result.status is Status.FAIL
    assert result.summary == (
        f"archive path {afile} on 127.0.0.1:{sshd.port} is not a directory (a regular file)"
    )


@pytest.mark.anyio
async def test_missing_path_fails(sshd: Sshd) -> None:
    result = await check(sshd, path=str(sshd.archive / "nope"))
    assert result.status is Status.FAIL
    assert "does not exist on 127.0.0.1" in result.summary


@pytest.mark.anyio
async def test_host_key_mismatch_is_a_connect_error(sshd: Sshd, tmp_path: Path) -> None:
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGkZ3x0gJ5Yd7bF4s2uQm9pXcV8rT1eW6nL0aH3jK5oP"
    sshd.known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {other}\n")
    result = await check(sshd)
    assert result.status is Status.ERROR
    assert "host key does not match the one in" in result.summary
    assert "refusing to connect" in result.summary


@pytest.mark.anyio
async def test_unknown_host_key_and_accept_new(sshd: Sshd, tmp_path: Path) -> None:
    fresh_archive(sshd.archive)
    empty = tmp_path / "kh"
    empty.write_text("")
    refused = await check(sshd, known_hosts=str(empty))
    assert refused.status is Status.ERROR and "host key unknown" in refused.summary
    accepted = await check(sshd, known_hosts=str(empty), accept_new_host_key=True)
    assert accepted.status is Status.PASS, accepted.summary
    assert sshd.host_pub in empty.read_text()
    # the record names the trusted key with its fingerprint (QA 4a F8), as ssh-keygen -l does
    fingerprint = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", "-"],
        input=sshd.host_pub,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    assert any(
        f"{fingerprint} for 127.0.0.1:{sshd.port} trusted (accept_new_host_key)" in d
        for d in accepted.details
    ), accepted.details
    again = await check(sshd, known_hosts=str(empty), accept_new_host_key=True)
    assert again.status is Status.PASS and not [d for d in again.details if "trusted" in d]


@pytest.mark.anyio
async def test_total_download_budget_is_respected(sshd: Sshd) -> None:
    for i in range(3):
        doc = archive_xml([("a@x", "b@x", "y" * 3000, time.time() - 60 * i)])
        put(sshd.archive, f"im_{i}.xml", doc, 60 * (i + 1))
    result = await check(sshd, max_total_bytes=7000)
    assert result.status is Status.PASS, result.summary
    assert "2 files read: 2 IM records" in result.summary
    assert "im_2.xml: not read, sftp.max_total_bytes budget spent" in result.details


@pytest.mark.anyio
async def test_collection_resumes_after_sftp_server_restart(sshd: Sshd) -> None:
    fresh_archive(sshd.archive)
    assert (await check(sshd)).status is Status.PASS
    sshd.stop()
    down = await check(sshd)
    assert down.status is Status.ERROR
    assert down.summary == f"SFTP 127.0.0.1:{sshd.port}: connection refused"
    sshd.start()
    again = await check(sshd)
    assert again.status is Status.PASS, again.summary
