"""The lab's SFTP server: Presence Services IM archive files, served read-only.

An asyncssh server with password login and an SFTP subsystem chrooted to a lab directory
holding generated archive files (one per upload window, XMPP-like layout). Faults:
``sftp-stale`` (no new file since 3 windows: mtimes set back), ``sftp-auth`` (logins
refused), ``sftp-corrupt`` (a truncated XML file appears as the newest upload).
While healthy it "uploads" a new file on login when the newest is older than a window.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import asyncssh

from ecc_doctor.lab.base import LabEnv

USERNAME = "archive"
REMOTE_PATH = "/archive/im"
FREQUENCY_H = 1.0
MARKER = ("alice@lab.example", "bob@lab.example", "ecc-doctor lab marker: hello from 8.2")
_WRITE_FLAGS = asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC
_WRITE_ACCESS = asyncssh.ACE4_WRITE_DATA | asyncssh.ACE4_APPEND_DATA


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def archive_xml(messages: list[tuple[str, str, str, float]]) -> bytes:
    """An archive document: ``<imArchive><message from= to= timestamp=><body>``."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<imArchive>"]
    for sender, recipient, body, ts in messages:
        parts.append(
            f"  <message from={quoteattr(sender)} to={quoteattr(recipient)} "
            f'timestamp="{_iso(ts)}" type="chat"><body>{escape(body)}</body></message>'
        )
    parts.append("</imArchive>\n")
    return "\n".join(parts).encode()


def _file_name(ts: float) -> str:
    return "im_" + datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H%M%S") + ".xml"


def _deny(*_args: Any) -> None:
    raise asyncssh.SFTPPermissionDenied("read-only archive")


class _ReadOnlySFTP(asyncssh.SFTPServer):
    """asyncssh's file server in a chroot, with every write refused."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], emu: SftpEmulator) -> None:
        super().__init__(chan, chroot=str(emu.root).encode())
        self._emu = emu
        emu.sessions += 1

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & _WRITE_FLAGS:
            _deny()
        return super().open(path, pflags, attrs)

    def open56(
        self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs
    ) -> object:
        if desired_access & _WRITE_ACCESS:
            _deny()
        return super().open56(path, desired_access, flags, attrs)

    write = remove = mkdir = rmdir = rename = posix_rename = _deny  # type: ignore[assignment]
    setstat = lsetstat = fsetstat = symlink = link = _deny  # type: ignore[assignment]

    def exit(self) -> None:
        self._emu.sessions -= 1


class _Server(asyncssh.SSHServer):
    def __init__(self, emu: SftpEmulator) -> None:
        self._emu = emu
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._emu.conns.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._emu.conns.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        ok = username == USERNAME and password == self._emu.password
        if self._emu.auth_fault or not ok:
            self._emu.refused += 1
            return False
        self._emu.upload_if_due()
        return True


class SftpEmulator:
    """Presence Services' archive target: an SFTP server with IM archive files."""

    name = "sftp"
    faults: tuple[str, ...] = ("sftp-stale", "sftp-auth", "sftp-corrupt")

    def __init__(self) -> None:
        self.root = Path()
        self.password = ""
        self.port = 0
        self.sessions = 0
        self.refused = 0
        self.conns: set[asyncssh.SSHServerConnection] = set()
        self.auth_fault = False
        self._stale_mtimes: dict[Path, float] | None = None
        self._corrupt: Path | None = None
        self._key: asyncssh.SSHKey | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None

    @property
    def archive_dir(self) -> Path:
        return self.root / REMOTE_PATH.lstrip("/")

    def _write(self, ts: float, messages: list[tuple[str, str, str, float]]) -> Path:
        path = self.archive_dir / _file_name(ts)
        path.write_bytes(archive_xml(messages))
        os.utime(path, (ts, ts))
        return path

    def _generate(self, now: float) -> float:
        window = FREQUENCY_H * 3600
        for k in (2, 1):
            ts = now - 600 - k * window
            self._write(
                ts, [("carol@lab.example", "dave@lab.example", f"status update {k}", ts - 900)]
            )
        newest = now - 600
        marker_sent = newest - 300
        self._write(
            newest,
            [
                ("dave@lab.example", "carol@lab.example", "ack", marker_sent - 60),
                (*MARKER, marker_sent),
            ],
        )
        return marker_sent

    def upload_if_due(self) -> None:
        """While healthy, a new archive appears once the newest is a window old."""
        if self._stale_mtimes is not None:
            return
        files = [p for p in self.archive_dir.glob("im_*.xml") if p != self._corrupt]
        newest = max((p.stat().st_mtime for p in files), default=0.0)
        now = time.time()
        if now - newest > FREQUENCY_H * 3600 * 0.8:
            self._write(
                now, [("carol@lab.example", "dave@lab.example", "hourly chatter", now - 60)]
            )

    async def _listen(self) -> None:
        assert self._key is not None
        self._acceptor = await asyncssh.listen(
            "127.0.0.1",
            self.port,
            server_factory=lambda: _Server(self),
            server_host_keys=[self._key],
            sftp_factory=lambda chan: _ReadOnlySFTP(chan, self),
            allow_scp=False,
            reuse_address=True,
        )
        self.port = self._acceptor.sockets[0].getsockname()[1]

    async def start(self, env: LabEnv) -> dict[str, Any]:
        self.root = env.directory / "sftp-root"
        self.archive_dir.mkdir(parents=True, mode=0o755)
        marker_sent = self._generate(time.time())
        self.password, password_ref = env.secret("sftp-password")
        self._key = asyncssh.generate_private_key("ssh-ed25519")
        await self._listen()
        env.add_known_host(self.port, self._key.export_public_key().decode())
        return {
            "sftp": {
                "host": env.host,
                "port": self.port,
                "username": USERNAME,
                "password": password_ref,
                "path": REMOTE_PATH,
                "known_hosts": str(env.known_hosts),
                "upload_frequency_hours": FREQUENCY_H,
                "file_patterns": ["im_*.xml", "im_*.zip", "im_*.xml.gz"],
                "pile_up_threshold": 48,
                "marker_from": MARKER[0],
                "marker_to": MARKER[1],
                "marker_body": "hello from 8.2",
                "marker_sent_after": _iso(marker_sent - 60),
            }
        }

    async def _close_listener(self) -> None:
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            acceptor.close()
            await acceptor.wait_closed()
        for conn in list(self.conns):
            conn.abort()

    async def stop(self) -> None:
        await self._close_listener()

    async def set_fault(self, fault: str, active: bool) -> None:
        if fault == "sftp-auth":
            self.auth_fault = active
        elif fault == "sftp-stale":
            self._set_stale(active)
        elif fault == "sftp-corrupt":
            self._set_corrupt(active)
        else:
            raise KeyError(fault)

    def _set_stale(self, active: bool) -> None:
        if active and self._stale_mtimes is None:
            shift = 3 * FREQUENCY_H * 3600 + 120
            self._stale_mtimes = {}
            for path in self.archive_dir.iterdir():
                mtime = path.stat().st_mtime
                self._stale_mtimes[path] = mtime
                os.utime(path, (mtime - shift, mtime - shift))
        elif not active and self._stale_mtimes is not None:
            for path, mtime in self._stale_mtimes.items():
                if path.exists():
                    os.utime(path, (mtime, mtime))
            self._stale_mtimes = None

    def _set_corrupt(self, active: bool) -> None:
        if active and self._corrupt is None:
            now = time.time()
            full = archive_xml([("carol@lab.example", "dave@lab.example", "cut off", now - 30)])
            path = self.archive_dir / _file_name(now + 1)
            path.write_bytes(full[: len(full) // 2])
            os.utime(path, (now, now))
            self._corrupt = path
        elif not active and self._corrupt is not None:
            self._corrupt.unlink(missing_ok=True)
            self._corrupt = None

    async def set_network(self, up: bool) -> None:
        if up:
            if self._acceptor is None:
                await self._listen()
        else:
            await self._close_listener()

    def status(self) -> dict[str, Any]:
        return {
            "open_sessions": self.sessions,
            "connections": len(self.conns),
            "logins_refused": self.refused,
            "files": sum(1 for _ in self.archive_dir.iterdir()) if self.archive_dir.exists() else 0,
        }
