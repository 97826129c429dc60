"""[ecc]: Engagement Call Control on Avaya Breeze."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.config.schema import setting
from ecc_doctor.secrets import Secret


@dataclass(frozen=True)
class EccConfig:
    """[ecc]: the Breeze cluster's HTTPS front end and the event callback we listen on."""

    base_url: str = setting(doc="Breeze cluster HTTPS URL", example="https://breeze.example:443")
    ca_file: Path | None = setting(None, doc="CA bundle for the Breeze certificate")
    client_cert: Path | None = setting(None, doc="client certificate (PEM) for mTLS")
    client_key: Path | None = setting(None, doc="client certificate key (PEM)")
    token: Secret | None = setting(None, doc="OAuth2 Bearer token reference, if ECC requires one")
