"""[aes]: Application Enablement Services (DMCC and the OAM web console)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.config.schema import host_problem, setting, url_problem
from ecc_doctor.secrets import Secret

#: Requested by default, newest first: AES 7.0 (privA) down to 6.2 (priv6). PROTOCOLS.md 2.3
#: [CODE]; that AES picks one of several offered versions follows ECMA-354 [INFERRED].
DEFAULT_PROTOCOL_VERSIONS = ["7.0.0", "6.3.3", "6.3.1", "6.3", "6.2"]


@dataclass(frozen=True)
class AesConfig:
    """[aes]: how to reach AES DMCC and its management console."""

    host: str = setting(doc="AES server address", example="10.0.0.11")
    username: str = setting(doc="CTI user for DMCC sessions", example="ecc")
    password: Secret = setting(doc="CTI user's password reference", example="env:AES_PASSWORD")
    dmcc_port: int = setting(4721, doc="DMCC port: 4721 plain, 4722 TLS", min=1, max=65535)
    dmcc_tls: bool = setting(False, doc="use TLS for DMCC (normally with port 4722)")
    tsapi_port: int = setting(
        450,
        doc="TSAPI Service port (app note 6.7), checked by net.reachability (0: not checked)",
        min=0,
        max=65535,
    )
    ca_file: Path | None = setting(
        None, doc="CA bundle that signed the AES certificate (default: system CAs)"
    )
    oam_url: str = setting(
        "",
        doc="AES management console base URL (empty: aes.dmcc-summary is skipped)",
        example="https://10.0.0.11",
    )
    application_id: str = setting(
        "ecc-doctor", doc="applicationID sent in StartApplicationSession (shown on the OAM)"
    )
    protocol_versions: list[str] = setting(
        factory=lambda: list(DEFAULT_PROTOCOL_VERSIONS),
        doc="DMCC protocol versions offered, preferred first: AES releases (7.0.0, 6.3.3, ...) "
        "or full ecma-323 URIs; AES picks one [INFERRED]",
    )
    session_duration_s: int = setting(
        180, doc="requestedSessionDuration of the DMCC session (s)", min=10, max=86400
    )
    cleanup_delay_s: int = setting(
        60, doc="sessionCleanupDelay: how long AES keeps a dropped session (s)", min=0, max=86400
    )
    oam_username: str = setting("", doc="OAM console login (default: username, the CTI user)")
    oam_password: Secret | None = setting(
        None, doc="OAM console password reference (default: password)"
    )
    oam_login_path: str = setting(
        "/aesvcs/", doc="OAM page that shows the login form (redirects are followed) [NOT FOUND]"
    )
    oam_summary_path: str = setting(
        "/aesvcs/view/status/dmccServiceSummary.xhtml",
        doc="OAM DMCC Service Summary page (Status > Status and Control) [NOT FOUND: verify]",
    )
    oam_logout_path: str = setting("", doc="OAM logout page, fetched at the end (empty: none)")
    oam_username_field: str = setting(
        "", doc="name of the login form's user field (empty: the text input next to the password)"
    )
    oam_password_field: str = setting(
        "", doc="name of the login form's password field (empty: the password input)"
    )
    ecc_user: str = setting(
        "", doc="CTI user the ECC service logs in with, on the Session Summary (default: username)"
    )
    expected_far_end: str = setting(
        "",
        doc="Far-end Identifier (address, optionally :port) of the ECC service's DMCC session "
        "on the Session Summary (empty: any session of ecc_user)",
        example="10.0.0.40",
    )

    def validate(self) -> str | None:
        if problem := host_problem("host", self.host):
            return problem
        if not self.protocol_versions:
            return "protocol_versions: expected at least one version, got []"
        if self.oam_url and (
            problem := url_problem("oam_url", self.oam_url, "an https:// URL", https_only=True)
        ):
            return problem
        for key in ("oam_login_path", "oam_summary_path"):
            if not getattr(self, key).startswith("/"):
                return f"{key}: expected a path starting with '/', got {getattr(self, key)!r}"
        return None
