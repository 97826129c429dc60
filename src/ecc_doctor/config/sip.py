"""[sip]: SIP capture analysis run as checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.config.schema import setting


@dataclass(frozen=True)
class SipConfig:
    """[sip]: captures that sip.register and sip.prack analyze."""

    captures: list[Path] = setting(factory=list, doc="pcap/pcapng files to analyze")
    ports: list[int] = setting(
        factory=lambda: [5060, 5061],
        doc="SIP ports (any payload starting with a SIP line is read too)",
    )
    password_file: Path | None = setting(
        None, doc="user:password lines to verify digest responses (never printed)"
    )
