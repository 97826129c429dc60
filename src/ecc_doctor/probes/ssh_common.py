"""Helpers the SSH probes (SAT, SFTP) share: known_hosts checks, a memory of refused logins."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets as _secrets
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncssh

from ecc_doctor.errors import AuthError, ConnectError, ProbeTimeout


def readable_known_hosts(path: Path) -> None:
    """ConnectError naming *path* when asyncssh cannot parse it (a user's file, not our bug).

    asyncssh raises a plain ValueError ("Invalid known hosts entry") for a malformed line,
    both here and while connecting; call this before ``asyncssh.connect``.
    """
    try:
        asyncssh.read_known_hosts(str(path))
    except ValueError as exc:
        raise ConnectError(f"known_hosts file {path} is unreadable: {exc}") from exc


#: How long a refused login is remembered (seconds). Within this time the same user,
#: password and host are not tried again by this process (the other cm.* checks of the run,
#: the dashboard's re-runs): CM may lock an account after a few refused logins. A changed
#: password is tried at once. With 300 s a dashboard re-running every 30 s tries a wrong
#: password once every 5 minutes, where it used to try it twice per cm.* check and run.
REFUSAL_MEMORY_S = 300.0

#: How long a server that accepted the SSH login but never showed its prompt (CM's SAT
#: Terminal Type prompt) is remembered (seconds): the other checks of the run, queued behind
#: it, give ERROR "not tried: ..." at once instead of each waiting out the prompt timeout. Short,
#: so that the dashboard's next cycle tries again.
HANG_MEMORY_S = 15.0

_SALT = _secrets.token_bytes(16)  # the memo keeps a keyed hash of the password, never the value


@dataclass(frozen=True)
class LoginKey:
    """Who logs in where; the password only as a per-process keyed hash."""

    host: str
    port: int
    username: str
    password_hash: bytes = field(repr=False)

    @classmethod
    def of(cls, host: str, port: int, username: str, password: str) -> LoginKey:
        digest = hmac.new(_SALT, password.encode("utf-8", "surrogatepass"), "sha256").digest()
        return cls(host, port, username, digest)


@dataclass
class _Refusal:
    at: float
    by: str


@dataclass
class _Hang:
    at: float
    by: str
    prompt: str  # "SAT prompt"
    waited: str  # "10 s": the prompt timeout that ran out


_Entry = TypeVar("_Entry", _Refusal, _Hang)


def _recent(table: dict[Any, _Entry], key: object, memory: float) -> _Entry | None:
    """``table[key]`` while younger than *memory* seconds; an older one is dropped."""
    entry = table.get(key)
    if entry is not None and time.monotonic() - entry.at >= memory:
        del table[key]
        return None
    return entry


def _when(at: float, by: str) -> str:
    """``moments ago (in cm.license)`` or ``42 s ago``: when a memory was made, and by whom."""
    age = time.monotonic() - at
    when = "moments ago" if age < 10 else f"{age:.0f} s ago"
    return when + (f" (in {by})" if by else "")


class LoginGuard:
    """Refused logins remembered for :data:`REFUSAL_MEMORY_S`, and one first login at a time.

    ``async with guard.first_login(key)`` waits while another task of this event loop is
    trying the same credentials for the first time, and raises :class:`AuthError` when they
    were refused recently; the caller reports ``accepted``/``refused`` from inside it. Once a
    login was accepted, later ones go ahead concurrently.
    """

    def __init__(self, system: str) -> None:
        self.system = system
        self._refused: dict[LoginKey, _Refusal] = {}
        self._hung: dict[tuple[str, int], _Hang] = {}
        self._accepted: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[LoginKey]] = (
            weakref.WeakKeyDictionary()
        )
        self._locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[LoginKey, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def refused(self, key: LoginKey, by: str) -> None:
        """*key* was refused (by the check *by*): do not try it again for a while."""
        self._refused[key] = _Refusal(time.monotonic(), by)
        self._accepted.get(asyncio.get_running_loop(), set()).discard(key)

    def accepted(self, key: LoginKey) -> None:
        self._refused.pop(key, None)
        self._hung.pop((key.host, key.port), None)
        self._accepted.setdefault(asyncio.get_running_loop(), set()).add(key)

    def hung(self, key: LoginKey, by: str, prompt: str, waited: str) -> None:
        """The server behind *key* showed no prompt within *waited* (in the check *by*): do
        not try it again for :data:`HANG_MEMORY_S`; until a login gets through again, the
        logins there go one at a time."""
        self._hung[(key.host, key.port)] = _Hang(time.monotonic(), by, prompt, waited)
        self._accepted.get(asyncio.get_running_loop(), set()).discard(key)

    def forget(self) -> None:
        """Forget every refusal and hang (the lab does when its faults change)."""
        self._refused.clear()
        self._hung.clear()

    def not_hung(self, key: LoginKey) -> None:
        """ProbeTimeout when the server showed no prompt less than HANG_MEMORY_S ago."""
        hang = _recent(self._hung, (key.host, key.port), HANG_MEMORY_S)
        if hang is not None:
            raise ProbeTimeout(
                f"not tried: {self.system} {key.host}:{key.port} showed no {hang.prompt} "
                f"within {hang.waited} {_when(hang.at, hang.by)}"
            )

    def not_refused(self, key: LoginKey) -> None:
        """AuthError when *key* was refused less than :data:`REFUSAL_MEMORY_S` ago."""
        refusal = _recent(self._refused, key, REFUSAL_MEMORY_S)
        if refusal is not None:
            raise AuthError(
                f"not tried: {self.system} refused the login for user '{key.username}' at "
                f"{key.host}:{key.port} {_when(refusal.at, refusal.by)}; trying again could "
                "lock the account (a corrected password is tried at once)"
            )

    @contextlib.asynccontextmanager
    async def first_login(self, key: LoginKey) -> AsyncIterator[None]:
        """Serialize logins with *key* until one was accepted; refuse early if refused (or
        if the server hung moments ago)."""
        self.not_refused(key)
        self.not_hung(key)
        loop = asyncio.get_running_loop()
        if key in self._accepted.get(loop, set()):
            yield
            return
        lock = self._locks.setdefault(loop, {}).setdefault(key, asyncio.Lock())
        await lock.acquire()
        try:
            self.not_refused(key)  # the login we waited for may have been refused
            self.not_hung(key)  # ... or its server may have shown no prompt
        except (AuthError, ProbeTimeout):
            lock.release()
            raise
        held = key not in self._accepted.get(loop, set())
        if not held:  # the one we waited for got in: go ahead alongside the others
            lock.release()
        try:
            yield
        finally:
            if held:
                lock.release()
