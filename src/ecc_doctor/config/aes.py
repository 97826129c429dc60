"""[aes]: Application Enablement Services (DMCC and the OAM web console)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.config.schema import setting
from ecc_doctor.secrets import Secret


@dataclass(frozen=True)
class AesConfig:
    """[aes]: how to reach AES DMCC and its management console."""

    host: str = setting(doc="AES server address", example="10.0.0.11")
    username: str = setting(doc="CTI user for DMCC sessions", example="ecc")
    password: Secret = setting(doc="CTI user's password reference", example="env:AES_PASSWORD")
    dmcc_port: int = setting(4721, doc="DMCC port: 4721 plain, 4722 TLS", min=1, max=65535)
    dmcc_tls: bool = setting(False, doc="use TLS for DMCC (normally with port 4722)")
    ca_file: Path | None = setting(
        None, doc="CA bundle that signed the AES certificate (default: system CAs)"
    )
    oam_url: str = setting("", doc="AES management console base URL, e.g. https://aes.example:443")
