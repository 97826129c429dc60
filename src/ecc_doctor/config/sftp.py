"""[sftp]: the SFTP server that receives Presence Services IM archives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.config.schema import setting
from ecc_doctor.secrets import Secret


@dataclass(frozen=True)
class SftpConfig:
    """[sftp]: where Presence Services uploads IM archives."""

    host: str = setting(doc="SFTP server address", example="10.0.0.30")
    username: str = setting(doc="SFTP login", example="archive")
    path: str = setting(doc="directory the archives are uploaded to", example="/archive/im")
    port: int = setting(22, doc="SFTP port", min=1, max=65535)
    password: Secret | None = setting(None, doc="password reference (or use key_file)")
    key_file: Path | None = setting(None, doc="private key file for public-key auth")
    known_hosts: Path | None = setting(
        None, doc="known_hosts file used to verify the host key (default ~/.ssh/known_hosts)"
    )
    accept_new_host_key: bool = setting(
        False, doc="trust an unknown host key on first use and add it to known_hosts"
    )
