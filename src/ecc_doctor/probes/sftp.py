"""SFTP probe (asyncssh): read-only listing and bounded downloads of an archive directory.

Only LIST, STAT/LSTAT and OPEN-for-read are ever sent: nothing on the server is written,
renamed or deleted. Host keys are verified against known_hosts (accept-new only on request).
Downloads land in a private 0700 temp dir under sanitized names and stop at a size cap;
symlinks are never followed.

>>> async def demo(cfg):                                 # doctest: +SKIP
...     async with open_session(cfg, Transcript("sftp"), 5.0) as s:
...         listing = await s.list_dir(cfg.path, limit=1000)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import stat
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncssh

from ecc_doctor.config.sftp import SftpConfig
from ecc_doctor.errors import AuthError, ConfigError, ConnectError, ProbeError, ProbeTimeout
from ecc_doctor.netaddr import host_port
from ecc_doctor.probes.ssh_common import readable_known_hosts
from ecc_doctor.probes.tcp import describe_os_error
from ecc_doctor.transcript import Transcript

CHUNK = 32 * 1024  # every SFTP server must serve reads this large (draft-ietf-secsh-filexfer)
MAX_READ = 256 * 1024
CLOSE_WAIT = 2.0
DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
_T = TypeVar("_T")
#: asyncssh's SFTP errors that mean the session is gone, not that a path was refused
_GONE = (asyncssh.SFTPNoConnection, asyncssh.SFTPConnectionLost)


class RemotePathError(ProbeError):
    """The server refused an operation on a path; ``reason`` is ``missing``,
    ``broken-link`` (a symlink that does not resolve), ``not-dir``, ``denied`` or ``other``.
    ``read`` counts the bytes a download had read before the error."""

    def __init__(self, message: str, reason: str, read: int = 0) -> None:
        super().__init__(message)
        self.reason = reason
        self.read = read


class FileTooLarge(ProbeError):
    """A remote file is larger than the download cap (it was not downloaded whole).

    ``read`` is how many bytes were read before stopping (0: refused by its listed size).
    """

    def __init__(self, message: str, read: int = 0) -> None:
        super().__init__(message)
        self.read = read


@dataclass(frozen=True)
class Download:
    """A downloaded file in the private workdir and the bytes read to get it."""

    path: Path
    read: int


def display_name(raw: bytes) -> str:
    """A remote name made safe to show: invalid UTF-8 and control characters escaped."""
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def local_name(index: int, raw: bytes) -> str:
    """A file name for the download dir that no remote name can steer (no '/', no '..')."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", raw.decode("utf-8", "replace")).lstrip(".")
    return f"{index:05d}-{safe[:80] or 'file'}"


@dataclass(frozen=True)
class RemoteEntry:
    """One directory entry as the server's lstat attributes describe it."""

    raw_name: bytes
    kind: str  # file, dir, symlink, other, invalid (a name with '/' or NUL)
    size: int
    mtime: float

    @property
    def name(self) -> str:
        return display_name(self.raw_name)


@dataclass(frozen=True)
class Listing:
    """A directory listing, maybe cut short at ``limit`` entries (``bounded``)."""

    path: str
    entries: tuple[RemoteEntry, ...]
    bounded: bool
    limit: int


def _kind(attrs: asyncssh.SFTPAttrs) -> str:
    mode = attrs.permissions
    if mode is None:
        return "other"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _entry(raw: bytes, attrs: asyncssh.SFTPAttrs) -> RemoteEntry:
    # a directory entry can never hold '/' or NUL: a server listing one is broken or hostile
    kind = "invalid" if (b"/" in raw or b"\0" in raw or not raw) else _kind(attrs)
    return RemoteEntry(raw, kind, int(attrs.size or 0), float(attrs.mtime or 0))


class SftpSession:
    """An open SFTP session: read-only operations, recorded in the transcript."""

    def __init__(
        self,
        sftp: asyncssh.SFTPClient,
        transcript: Transcript,
        workdir: Path,
        where: str,
        abort: Callable[[], None] = lambda: None,
    ) -> None:
        self._sftp = sftp
        self._abort = abort
        self._t = transcript
        self.workdir = workdir
        self._where = where
        self._count = 0

    def _lost(self, during: str) -> ConnectError:
        """The connection went away (a pulled cable, a server restart) during *during*."""
        self._t.received("connection lost")
        return ConnectError(f"SFTP {self._where}: connection lost during {during}")

    async def _remote(self, during: str, call: Awaitable[_T]) -> _T:
        """Await one SFTP request; a lost connection is a ConnectError (a path error stays
        an SFTPError for the caller). asyncssh hands a dropped socket's own error to every
        waiting request: BrokenPipeError, ConnectionResetError, ConnectionLost."""
        try:
            return await call
        except _GONE as exc:
            raise self._lost(during) from exc
        except asyncssh.SFTPError:
            raise
        except (asyncssh.Error, OSError) as exc:
            raise self._lost(during) from exc

    def _path_error(self, exc: asyncssh.SFTPError, what: str, path: str) -> RemotePathError:
        self._t.received(f"error: {exc.reason} (code {exc.code})")
        if isinstance(exc, asyncssh.SFTPNoSuchFile):
            return RemotePathError(f"{path} does not exist on {self._where}", "missing")
        if isinstance(exc, asyncssh.SFTPPermissionDenied):
            return RemotePathError(f"permission denied {what} {path} on {self._where}", "denied")
        reason = " ".join(str(exc.reason).split())[:200]
        return RemotePathError(f"{what} {path} on {self._where} failed: {reason}", "other")

    async def stat(self, path: str) -> RemoteEntry:
        """stat() the path (following a symlink at the path itself, as a user would)."""
        self._t.sent(f"STAT {path}")
        try:
            attrs = await self._remote(f"STAT {path}", self._sftp.stat(path.encode()))
        except asyncssh.SFTPError as exc:
            raise self._path_error(exc, "reading", path) from exc
        entry = _entry(path.encode(), attrs)
        self._t.received(f"{entry.kind}, {entry.size} bytes")
        return entry

    async def list_dir(self, path: str, limit: int) -> Listing:
        """The first *limit* entries of *path* (lstat attributes: symlinks not followed)."""
        self._t.sent(f"OPENDIR/READDIR {path} (at most {limit} entries)")
        entries: list[RemoteEntry] = []
        bounded = False
        scan = cast(AsyncGenerator[asyncssh.SFTPName, None], self._sftp.scandir(path.encode()))
        try:
            async for name in scan:
                raw = name.filename
                assert isinstance(raw, bytes)
                if raw in (b".", b".."):
                    continue
                if len(entries) >= limit:
                    bounded = True
                    break
                entries.append(_entry(raw, name.attrs))
        except asyncio.CancelledError:
            self._abort()  # a server that stopped answering must not hold up the cleanup
            raise
        except _GONE as exc:
            raise self._lost(f"the listing of {path}") from exc
        except asyncssh.SFTPError as exc:
            error = self._path_error(exc, "listing", path)
            if error.reason == "missing":
                raise await self._why_missing(path, error) from exc
            raise error from exc
        except (asyncssh.Error, OSError) as exc:
            raise self._lost(f"the listing of {path}") from exc
        finally:
            await _bounded(scan.aclose())
        more = f", stopped at the limit of {limit}" if bounded else ""
        self._t.received(f"{len(entries)} entries{more}")
        return Listing(path, tuple(entries), bounded, limit)

    async def _kind_at(self, path: str, *, follow: bool) -> str | None:
        """What *path* is (STAT follows a symlink, LSTAT does not); None: no answer."""
        request = f"{'STAT' if follow else 'LSTAT'} {path}"
        self._t.sent(request)
        try:
            if follow:
                attrs = await self._remote(request, self._sftp.stat(path.encode()))
            else:
                attrs = await self._remote(request, self._sftp.lstat(path.encode()))
        except asyncssh.SFTPError as exc:
            self._t.received(f"error: {exc.reason}")
            return None
        kind = _kind(attrs)
        self._t.received(kind)
        return kind

    async def _why_missing(self, path: str, error: RemotePathError) -> RemotePathError:
        """A listing said "no such file": OpenSSH says that for a file (ENOTDIR) and for a
        symlink that does not resolve too. LSTAT tells them apart; only a link needs STAT."""
        kind = await self._kind_at(path, follow=False)
        if kind == "symlink":
            kind = await self._kind_at(path, follow=True)
            if kind is None:
                return RemotePathError(
                    f"{path} on {self._where} is a symbolic link that does not resolve "
                    "(dangling, or a loop)",
                    "broken-link",
                )
        if kind is None or kind == "dir":
            return error
        shown = "a regular file" if kind == "file" else kind
        return RemotePathError(f"{path} on {self._where} is not a directory ({shown})", "not-dir")

    async def download(self, path: str, entry: RemoteEntry, max_bytes: int) -> Download:
        """Copy a regular file into the private workdir, reading at most *max_bytes* + 1 bytes;
        FileTooLarge past *max_bytes* (its ``read`` counts what was read before stopping)."""
        if entry.size > max_bytes:
            raise FileTooLarge(f"{entry.name} is {entry.size} bytes, over the cap of {max_bytes}")
        remote = path.encode().rstrip(b"/") + b"/" + entry.raw_name
        self._count += 1
        local = self.workdir / local_name(self._count, entry.raw_name)
        self._t.sent(f"OPEN {entry.name} (read only)")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        got = 0
        done = False
        try:
            # block_size=0: plain sequential reads. asyncssh's parallel reader spawns tasks
            # that outlive a cancelled read and then fail unobserved.
            during = f"the download of {entry.name}"
            rf = await self._remote(during, self._sftp.open(remote, "rb", block_size=0))
            size = max(CHUNK, min(self._sftp.limits.max_read_len or CHUNK, MAX_READ))
            try:
                fd = os.open(local, flags, 0o600)
                with os.fdopen(fd, "wb") as out:
                    # never ask for more than one byte past the cap: a file that grew, or whose
                    # size was not reported, costs at most max_bytes + 1 bytes
                    while chunk := cast(
                        bytes, await self._remote(during, rf.read(min(size, max_bytes + 1 - got)))
                    ):
                        got += len(chunk)
                        if got > max_bytes:
                            self._t.received(f"{got} bytes, over the cap of {max_bytes}: stopped")
                            raise FileTooLarge(
                                f"{entry.name} is more than {max_bytes} bytes (cap reached)", got
                            )
                        out.write(chunk)
            finally:
                await _bounded(rf.close())
            done = True
        except asyncio.CancelledError:
            self._abort()
            raise
        except asyncssh.SFTPError as exc:
            error = self._path_error(exc, "reading", display_name(remote))
            error.read = got
            raise error from exc
        finally:
            if not done:
                local.unlink(missing_ok=True)
        self._t.received(f"{got} bytes")
        return Download(local, got)


async def _bounded(closing: Awaitable[object], seconds: float = CLOSE_WAIT) -> None:
    """Await a close handshake, but never longer than *seconds* (a hung server)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(seconds):
            await closing


def _known_hosts_path(cfg: SftpConfig) -> Path:
    return (cfg.known_hosts or DEFAULT_KNOWN_HOSTS).expanduser()


def _has_entry(path: Path, host: str, port: int) -> bool:
    if not path.exists():
        return False
    try:
        found = asyncssh.read_known_hosts(str(path)).match(host, host, port)
    except (OSError, ValueError, asyncssh.Error):
        return False
    return bool(found[0] or found[1])


async def _accept_new(cfg: SftpConfig, path: Path, t: Transcript, timeout: float) -> None:
    """accept_new_host_key: fetch the server's key and add it, only if none is known."""
    if _has_entry(path, cfg.host, cfg.port):
        return
    async with asyncio.timeout(timeout):
        key = await asyncssh.get_server_host_key(cfg.host, cfg.port, config=None)
    if key is None:
        raise ConnectError(f"SFTP {host_port(cfg.host, cfg.port)}: the server offered no host key")
    host = cfg.host if cfg.port == 22 else f"[{cfg.host}]:{cfg.port}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"{host} {key.export_public_key().decode().strip()}\n")
    t.host_key_trusted(
        f"new host key {key.get_algorithm()} {key.get_fingerprint()} for "
        f"{host_port(cfg.host, cfg.port)} trusted "
        f"(accept_new_host_key) and added to {path}"
    )


def _connect_options(cfg: SftpConfig, known_hosts: Path, timeout: float) -> dict[str, Any]:
    if cfg.password is None and cfg.key_file is None:
        raise ConfigError("sftp: set password or key_file")
    options: dict[str, Any] = {
        "port": cfg.port,
        "username": cfg.username,
        "known_hosts": str(known_hosts),
        "config": None,
        "agent_path": None,
        "connect_timeout": timeout,
        "login_timeout": timeout,
        "client_keys": [str(cfg.key_file.expanduser())] if cfg.key_file else None,
    }
    if cfg.password is not None:
        options["password"] = cfg.password.reveal()
    else:
        options["password"] = None
        options["kbdint_auth"] = False
    return options


def _translate(exc: BaseException, cfg: SftpConfig, known_hosts: Path) -> ProbeError:
    where = f"SFTP {host_port(cfg.host, cfg.port)}"
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        if _has_entry(known_hosts, cfg.host, cfg.port):
            return ConnectError(
                f"{where}: host key does not match the one in {known_hosts} (server reinstalled, "
                "or someone in between?); refusing to connect"
            )
        return ConnectError(
            f"{where}: host key unknown ({known_hosts} has no entry; add it with ssh-keyscan, "
            "or set sftp.accept_new_host_key = true)"
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return AuthError(f"{where}: login refused for user {cfg.username!r}")
    if isinstance(exc, asyncssh.DisconnectError):
        return ConnectError(f"{where}: SSH disconnected: {' '.join(str(exc.reason).split())}")
    if isinstance(exc, TimeoutError):
        return ProbeTimeout(f"{where}: no SSH login within the connect timeout")
    if isinstance(exc, OSError):
        return ConnectError(f"{where}: {describe_os_error(exc)}")
    if isinstance(exc, (asyncssh.Error, asyncssh.KeyImportError)):
        return ConnectError(f"{where}: SSH error: {exc}")
    return ConnectError(f"{where}: {type(exc).__name__}: {exc}")


@contextlib.asynccontextmanager
async def open_session(
    cfg: SftpConfig, transcript: Transcript, timeout: float
) -> AsyncIterator[SftpSession]:
    """Log in, start SFTP, and yield a read-only session; everything is closed on exit."""
    known_hosts = _known_hosts_path(cfg)
    where = f"{host_port(cfg.host, cfg.port)}"
    transcript.note(f"connect {where} as {cfg.username} (known_hosts {known_hosts})")
    try:
        if known_hosts.exists():
            readable_known_hosts(known_hosts)  # asyncssh's ValueError would be an internal error
        if cfg.accept_new_host_key:
            await _accept_new(cfg, known_hosts, transcript, timeout)
        elif not known_hosts.exists():
            raise ConnectError(
                f"SFTP {where}: cannot verify the host key: {known_hosts} does not exist "
                "(set sftp.known_hosts, or accept_new_host_key = true)"
            )
        options = _connect_options(cfg, known_hosts, timeout)
        conn = await asyncssh.connect(cfg.host, **options)
    except (OSError, TimeoutError, asyncssh.Error, asyncssh.KeyImportError) as exc:
        raise _translate(exc, cfg, known_hosts) from exc
    clean = False
    try:
        key = conn.get_server_host_key()
        if key is not None:
            transcript.received(f"host key {key.get_fingerprint()} verified")
        try:
            sftp = await conn.start_sftp_client()
        except (OSError, asyncssh.Error) as exc:
            raise _translate(exc, cfg, known_hosts) from exc
        transcript.received(f"SFTP version {sftp.version}")
        with tempfile.TemporaryDirectory(prefix="ecc-doctor-sftp-") as tmp:
            workdir = Path(tmp)
            workdir.chmod(0o700)
            try:
                yield SftpSession(sftp, transcript, workdir, where, conn.abort)
            except asyncssh.DisconnectError as exc:
                raise _translate(exc, cfg, known_hosts) from exc
            finally:
                with contextlib.suppress(asyncssh.Error, OSError):  # the channel may be gone
                    sftp.exit()
        clean = True
    finally:
        if clean:
            conn.close()
            await _bounded(conn.wait_closed())
            transcript.note("session closed")
        else:
            conn.abort()  # failing or cancelled: no close handshake with a server that may hang
            transcript.note("session aborted")
