"""Presence archive test helpers: a real OpenSSH sshd in tmp_path, tree hashing, runners."""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import require_tool

from ecc_doctor.checks import presence_archive, spec_of
from ecc_doctor.config import from_mapping
from ecc_doctor.models import Result
from ecc_doctor.runner import run_checks


@dataclass
class Sshd:
    """A running OpenSSH server: where it listens and how to log in."""

    port: int
    user: str
    client_key: Path
    known_hosts: Path
    host_pub: str
    archive: Path
    cmd: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start sshd (again: a restart keeps port, keys and config)."""
        with self.log.open("ab") as log_fh:
            self.proc = subprocess.Popen(self.cmd, stdout=log_fh, stderr=subprocess.STDOUT)
        _wait_listening(self.port, self.proc, self.log)

    def stop(self) -> None:
        """Stop sshd by its PID (and the sessions it forked go with their connections)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def sftp_section(self, **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "username": self.user,
            "key_file": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "path": str(self.archive),
        }
        data.update(extra)
        return data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    keygen = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
    subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30
    )


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    pytest.fail("sshd did not listen within 10 s")


SFTP_SERVER = "/usr/lib/openssh/sftp-server"


@pytest.fixture
def sshd(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Sshd]:
    """OpenSSH sshd on a free loopback port, own keys and config, stopped by PID. The SFTP
    subsystem is internal-sftp, or the one a test names with
    ``@pytest.mark.parametrize("sshd", [SFTP_SERVER], indirect=True)``. As root it runs
    without CAP_DAC_OVERRIDE/READ_SEARCH so file modes apply to it."""
    sshd_bin = require_tool("sshd", "/usr/sbin/sshd")
    subsystem = str(getattr(request, "param", "internal-sftp"))
    if subsystem != "internal-sftp":
        subsystem = require_tool(subsystem, subsystem)
    conf_dir = tmp_path / "sshd"
    conf_dir.mkdir()
    archive = tmp_path / "archive"
    archive.mkdir()
    _keygen(conf_dir / "host_key")
    _keygen(conf_dir / "client_key")
    shutil.copy(conf_dir / "client_key.pub", conf_dir / "authorized_keys")
    port = _free_port()
    user = getpass.getuser()
    config = conf_dir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {conf_dir / 'host_key'}",
                f"PidFile {conf_dir / 'sshd.pid'}",
                f"AuthorizedKeysFile {conf_dir / 'authorized_keys'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                f"Subsystem sftp {subsystem}",
                "",
            ]
        )
    )
    host_pub = (conf_dir / "host_key.pub").read_text().split()
    known_hosts = conf_dir / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    cmd = [sshd_bin, "-D", "-e", "-f", str(config)]
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        caps = "-dac_override,-dac_read_search"
        setpriv = require_tool("setpriv", "/usr/bin/setpriv")
        cmd = [setpriv, "--bounding-set", caps, "--inh-caps", caps, *cmd]
    server = Sshd(
        port,
        user,
        conf_dir / "client_key",
        known_hosts,
        f"{host_pub[0]} {host_pub[1]}",
        archive,
        cmd,
        conf_dir / "sshd.log",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def tree_digest(root: Path) -> str:
    """A digest of every name, type, mode, size, mtime and byte under *root* (symlinks not
    followed; sparse files hashed by their data extents, holes being zeros by definition)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            h.update(b"%s\0%o\0%d\0%d\0" % (path, st.st_mode, st.st_size, st.st_mtime_ns))
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(path))
            elif stat.S_ISREG(st.st_mode) and st.st_size:
                _hash_data(path, st.st_size, h)
    return h.hexdigest()


def _hash_data(path: bytes, size: int, h: Any) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            h.update(b"@%d" % start)
            os.lseek(fd, start, os.SEEK_SET)
            left = end - start
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                h.update(chunk)
                left -= len(chunk)
            offset = end
    finally:
        os.close(fd)


async def run_presence(sftp: dict[str, Any], **sections: Any) -> Result:
    """Run presence.im-archive through the runner with an [sftp] section."""
    cfg = from_mapping({"sftp": sftp, **sections}, source="<test>")
    [result] = await run_checks([spec_of(presence_archive)], cfg)
    return result
