"""The emulator contract and the environment the lab hands to each emulator."""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ecc_doctor.lab.pki import LabCA


def _up() -> bool:
    return True


class SiteLinks:
    """How far the call-control chain ECC -> AES -> CTI link -> CM works now, as the
    emulators see each other (the seeds: ECC reaches CM only through AES and its CTI link).

    Each emulator that models a link sets its callable at start; one not in the lab counts
    as up. Read at request time, so a fault that ends by itself (an ``aes-restart`` after
    ``restart_s``) ends everywhere at once.
    """

    def __init__(self) -> None:
        self.aes_up: Callable[[], bool] = _up  # AES (DMCC/TSAPI services) is running
        self.cti_link_up: Callable[[], bool] = _up  # CM's AESVCS CTI link to AES is established

    def cm_reachable(self) -> bool:
        """ECC can reach CM: AES runs and the CTI link is up."""
        return self.aes_up() and self.cti_link_up()


class LabEnv:
    """Shared lab resources: a private temp dir, a CA, a known_hosts file, secret files, and
    the state of the links between the emulated systems (:class:`SiteLinks`)."""

    host = "127.0.0.1"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = LabCA(directory)
        self.known_hosts = directory / "known_hosts"
        self.known_hosts.touch(mode=0o600)
        self.links = SiteLinks()

    def secret(self, name: str, value: str | None = None) -> tuple[str, str]:
        """Store a secret in a 0600 file; return (value, 'file:PATH' reference)."""
        value = value if value is not None else _secrets.token_urlsafe(12)
        path = self.directory / f"{name}.secret"
        path.write_text(value + "\n", encoding="utf-8")
        path.chmod(0o600)
        return value, f"file:{path}"

    def add_known_host(self, port: int, public_key_line: str) -> None:
        """Trust an SSH host key (``ssh-ed25519 AAAA...``) for 127.0.0.1:*port*."""
        with self.known_hosts.open("a", encoding="utf-8") as fh:
            fh.write(f"[{self.host}]:{port} {public_key_line.strip()}\n")


class Emulator(Protocol):
    """One emulated system of the lab site.

    ``start`` binds ephemeral loopback ports and returns TOML-ready config sections
    (``{"cm": {...}}``) that point at it; secrets go through ``env.secret`` so the config
    only holds ``file:`` references. ``set_fault`` turns one of ``faults`` on or off;
    ``set_network(False)`` makes every port refuse (and drops connections) until
    ``set_network(True)`` binds the same ports again. ``status`` reports counters tests rely
    on (e.g. ``{"open_sessions": 0}``).
    """

    name: str
    faults: tuple[str, ...]

    async def start(self, env: LabEnv) -> dict[str, Any]: ...

    async def stop(self) -> None: ...

    async def set_fault(self, fault: str, active: bool) -> None: ...

    async def set_network(self, up: bool) -> None: ...

    def status(self) -> dict[str, Any]: ...
