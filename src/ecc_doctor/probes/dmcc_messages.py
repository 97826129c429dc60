"""DMCC application-session messages (PROTOCOLS.md 2.3-2.4) and their transcript form.

>>> release_of(resolve_version("6.3.3"))
'6.3.3'
>>> compact('<?xml version="1.0"?><A xmlns="urn:x"><b>1</b></A>')
'<A><b>1</b></A>'
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from ecc_doctor.config.aes import AesConfig
from ecc_doctor.secrets import MASK

NS_APPL = "http://www.ecma-international.org/standards/ecma-354/appl_session"
NS_ACX = "http://www.avaya.com/csta"
_CSTA = "http://www.ecma-international.org/standards/ecma-323/csta"

#: AES release -> protocolVersion string (PROTOCOLS.md 2.3; 8.0.1 is [CODE-1]).
PROTOCOL_VERSIONS: dict[str, str] = {
    "3.0": "3.0",
    "3.1": f"{_CSTA}/ed2/priv1",
    "4.0": f"{_CSTA}/ed3/priv1",
    "4.1": f"{_CSTA}/ed3/priv2",
    "4.2": f"{_CSTA}/ed3/priv3",
    "5.2": f"{_CSTA}/ed3/priv4",
    "6.1": f"{_CSTA}/ed3/priv5",
    "6.2": f"{_CSTA}/ed3/priv6",
    "6.3": f"{_CSTA}/ed3/priv7",
    "6.3.1": f"{_CSTA}/ed3/priv8",
    "6.3.3": f"{_CSTA}/ed3/priv9",
    "7.0.0": f"{_CSTA}/ed3/privA",
    "8.0.1": f"{_CSTA}/ed3/privC",
}


def resolve_version(name: str) -> str:
    """An AES release (``7.0.0``) or a full protocolVersion URI -> the URI."""
    return PROTOCOL_VERSIONS.get(name.strip(), name.strip())


def release_of(version: str) -> str:
    """The AES release that uses *version*, or the version itself."""
    for release, uri in PROTOCOL_VERSIONS.items():
        if uri == version:
            return release
    return version


def start_request(cfg: AesConfig, password: str) -> str:
    """The StartApplicationSession body (PROTOCOLS.md 2.4)."""
    versions = "".join(
        f"<protocolVersion>{escape(resolve_version(v))}</protocolVersion>"
        for v in cfg.protocol_versions
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<StartApplicationSession xmlns="{NS_APPL}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:acx="{NS_ACX}"><applicationInfo>'
        f"<applicationID>{escape(cfg.application_id)}</applicationID>"
        '<applicationSpecificInfo><acx:SessionLoginInfo xsi:type="acx:SessionLoginInfo">'
        f"<acx:userName>{escape(cfg.username)}</acx:userName>"
        f"<acx:password>{escape(password)}</acx:password>"
        f"<acx:sessionCleanupDelay>{cfg.cleanup_delay_s}</acx:sessionCleanupDelay>"
        "</acx:SessionLoginInfo></applicationSpecificInfo></applicationInfo>"
        f"<requestedProtocolVersions>{versions}</requestedProtocolVersions>"
        f"<requestedSessionDuration>{cfg.session_duration_s}</requestedSessionDuration>"
        "</StartApplicationSession>"
    )


def _appl(root: str, inner: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{NS_APPL}">{inner}</{root}>'


def start_shown(cfg: AesConfig) -> str:
    """The StartApplicationSession body as the transcript shows it (password masked)."""
    return compact(start_request(cfg, MASK))


def reset_request(session_id: str, duration_s: int) -> str:
    """ResetApplicationSessionTimer: the keepalive."""
    return _appl(
        "ResetApplicationSessionTimer",
        f"<sessionID>{escape(session_id)}</sessionID>"
        f"<requestedSessionDuration>{duration_s}</requestedSessionDuration>",
    )


def stop_request(session_id: str) -> str:
    """StopApplicationSession with the defined end reason ``normal``."""
    return _appl(
        "StopApplicationSession",
        f"<sessionID>{escape(session_id)}</sessionID>"
        "<sessionEndReason><definedEndReason>normal</definedEndReason></sessionEndReason>",
    )


_PROLOG = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
_XMLNS = re.compile(r'\s+xmlns(?::[\w.-]+)?="[^"]*"')
_CSTA_URI = re.compile(r"http://www\.ecma-international\.org/standards/ecma-323/csta/")


def compact(xml: str) -> str:
    """XML for a transcript: no prolog, no namespace declarations, CSTA URIs shortened."""
    return _CSTA_URI.sub("…/csta/", _XMLNS.sub("", _PROLOG.sub("", xml)))
