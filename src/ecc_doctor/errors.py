"""One exception tree for ecc-doctor.

```
EccDoctorError                 anything ecc-doctor raises on purpose
 ├ ConfigError                 bad site file or option (exit code 2)
 ├ ProbeError                  we could not find out (becomes an ERROR result)
 │  ├ ConnectError             refused, unreachable, DNS failure, TLS handshake/certificate
 │  ├ ProbeTimeout             the peer did not answer in time
 │  ├ AuthError                the peer refused our credentials
 │  └ ProtocolError            the peer answered something we cannot read (framing, XML, prompt)
 ├ CheckError                  a check cannot run as configured (e.g. a scenario is impossible)
 └ CaptureError                a capture file cannot be read at all
```

A *failure* of the system under test is never an exception: checks return a FAIL result.
Probes translate library errors (asyncssh, httpx, OSError, TimeoutError, XML errors) into
`ProbeError` subclasses at their boundary with ``raise ... from exc``. Every message is one
line that a telephony engineer understands.
"""

from __future__ import annotations


class EccDoctorError(Exception):
    """Base class of every error ecc-doctor raises on purpose."""

    def __init__(self, message: str) -> None:
        # Messages are shown as one line: collapse whitespace so a remote banner cannot
        # spread over the report.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(EccDoctorError):
    """The site file or a command-line option is wrong (exit code 2)."""


class ProbeError(EccDoctorError):
    """A probe could not find out: the result is ERROR, not FAIL."""


class ConnectError(ProbeError):
    """The peer could not be reached (refused, timed out connecting, no route, DNS, TLS)."""


class ProbeTimeout(ProbeError):
    """The peer did not answer within the allotted time."""


class AuthError(ProbeError):
    """The peer refused the credentials."""


class ProtocolError(ProbeError):
    """The peer answered something that does not follow the protocol."""


class CheckError(EccDoctorError):
    """A check cannot run as configured."""


class CaptureError(EccDoctorError):
    """A capture file cannot be read at all (not a capture, wrong magic, unreadable)."""
