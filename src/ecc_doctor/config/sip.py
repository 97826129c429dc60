"""[sip]: SIP capture analysis run as checks (sip.register, sip.prack)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.config.schema import setting


@dataclass(frozen=True)
class SipConfig:
    """[sip]: captures that sip.register and sip.prack analyze."""

    captures: list[Path] = setting(
        factory=list,
        doc="pcap/pcapng files to analyze",
        example=["captures/sm1-register.pcapng"],
    )
    ports: list[int] = setting(
        factory=lambda: [5060, 5061],
        doc="SIP ports (any payload starting with a SIP line is read too)",
    )
    password_file: Path | None = setting(
        None, doc="user:password lines to verify digest responses (never printed)"
    )
    engine: str = setting(
        "scapy",
        doc="capture engine: scapy (built-in reader) or tshark (needs the tshark program)",
        choices=("scapy", "tshark"),
    )
    max_contacts: int = setting(
        10,
        doc="simultaneous contacts per AOR before a WARN (Aura SM 'Max. Simultaneous "
        "Devices': default 1, at most 10)",
        min=1,
        max=1000,
    )

    def validate(self) -> str | None:
        for i, port in enumerate(self.ports):
            if not 0 < port < 65536:
                return f"ports[{i}]: expected a port number 1-65535, got {port!r}"
        return None
