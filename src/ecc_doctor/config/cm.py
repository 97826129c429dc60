"""[cm]: Communication Manager SAT over SSH."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.config.schema import host_problem, setting
from ecc_doctor.probes.sat_ossi import check_overrides
from ecc_doctor.secrets import Secret


@dataclass(frozen=True)
class CmConfig:
    """[cm]: how to reach CM's System Access Terminal and what to expect of it."""

    host: str = setting(doc="CM server address (SAT over SSH)", example="10.0.0.10")
    username: str = setting(doc="SAT login", example="ecc-doctor")
    password: Secret = setting(doc="SAT password reference", example="env:CM_PASSWORD")
    port: int = setting(5022, doc="SAT SSH port (5022 lands directly in SAT)", min=1, max=65535)
    termtype: str = setting(
        "vt220",
        doc="terminal type answered at the Terminal Type prompt: vt220 (the 80x24 screens "
        "the app notes show, documented layouts) or ossi, ossi3, ossi4, ossit (OSSI "
        "records, whose field IDs are ecc-doctor's assumptions: set ossi_fields to this "
        "CM's IDs first, docs/CM-SAT.md)",
        example="vt220",
    )
    known_hosts: Path | None = setting(
        None, doc="known_hosts file used to verify the host key (default ~/.ssh/known_hosts)"
    )
    accept_new_host_key: bool = setting(
        False, doc="trust an unknown host key on first use and add it to known_hosts"
    )
    cti_links: list[int] = setting(
        factory=list,
        doc="CTI links that must be established and administered (empty: every link that "
        "'status aesvcs cti-link' lists)",
    )
    cti_link_sample_s: float = setting(
        0.0,
        doc="seconds between two 'status aesvcs cti-link' samples; counters that do not move "
        "give WARN (0: one sample only)",
        min=0,
        max=300,
    )
    expected_extension: str = setting(
        "", doc="extension the CTI links must have (empty: any extension)", example="3332"
    )
    aesvcs_local_node: str = setting(
        "procr",
        doc="Local Node of the AESVCS row of 'display ip-services' and of the AESVCS "
        "interface in 'status aesvcs interface'",
    )
    aesvcs_port: int = setting(
        8765, doc="Local Port of the AESVCS row of 'display ip-services'", min=1, max=65535
    )
    aes_server_name: str = setting(
        "",
        doc="AE Services Server name (AES host name) expected in ip-services, "
        "'status aesvcs cti-link' and 'status aesvcs link' (empty: any)",
        example="aes70",
    )
    prompt_timeout: float = setting(
        10.0,
        doc="seconds to wait for each SAT prompt (Terminal Type, OSSI ready 't', VT220 Command:)",
        min=0.1,
        max=300,
    )
    command_timeout: float = setting(
        20.0, doc="seconds to wait for the whole output of one SAT command", min=0.1, max=600
    )
    max_sessions: int = setting(
        2,
        doc="SAT logins ecc-doctor holds at once on this CM (the cm.* checks queue for a slot; "
        "CM limits concurrent SAT sessions, the exact limit is not public)",
        min=1,
        max=8,
    )
    ossi_fields: dict[str, dict[str, str]] = setting(
        factory=dict,
        doc='this CM\'s OSSI field IDs, as [cm.ossi_fields."<command>"] "<label>" = "<8 hex>"; '
        "overrides ecc-doctor's assumed table (docs/CM-SAT.md)",
    )

    def validate(self) -> str | None:
        if problem := host_problem("host", self.host):
            return problem
        term = self.termtype.lower()
        if not term.startswith("ossi") and term != "vt220":
            return (
                "termtype: expected an OSSI terminal type (ossi, ossi3, ossi4, ossit) or "
                f"vt220, got {self.termtype!r}"
            )
        if any(n < 1 for n in self.cti_links):
            return f"cti_links: expected link numbers from 1, got {self.cti_links!r}"
        return check_overrides(self.ossi_fields)
