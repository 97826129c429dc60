"""[cm]: Communication Manager SAT over SSH."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.config.schema import setting
from ecc_doctor.secrets import Secret


@dataclass(frozen=True)
class CmConfig:
    """[cm]: how to reach CM's System Access Terminal and what to expect of it."""

    host: str = setting(doc="CM server address (SAT over SSH)", example="10.0.0.10")
    username: str = setting(doc="SAT login", example="ecc-doctor")
    password: Secret = setting(doc="SAT password reference", example="env:CM_PASSWORD")
    port: int = setting(5022, doc="SAT SSH port (5022 lands directly in SAT)", min=1, max=65535)
    termtype: str = setting(
        "ossi", doc="terminal type answered at the Terminal Type prompt (ossi, ossi3, ossi4)"
    )
    known_hosts: Path | None = setting(
        None, doc="known_hosts file used to verify the host key (default ~/.ssh/known_hosts)"
    )
    accept_new_host_key: bool = setting(
        False, doc="trust an unknown host key on first use and add it to known_hosts"
    )
    cti_links: list[int] = setting(
        factory=list, doc="CTI links that must be established (empty: every link listed)"
    )
