"""ecc-doctor: verification and diagnostics for Avaya Aura (CM, AES, Breeze ECC, Presence, H.248)."""

from ecc_doctor.errors import (
    AuthError,
    CaptureError,
    CheckError,
    ConfigError,
    ConnectError,
    EccDoctorError,
    ProbeError,
    ProbeTimeout,
    ProtocolError,
)
from ecc_doctor.models import Evidence, Finding, Result, Status

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "CaptureError",
    "CheckError",
    "ConfigError",
    "ConnectError",
    "EccDoctorError",
    "Evidence",
    "Finding",
    "ProbeError",
    "ProbeTimeout",
    "ProtocolError",
    "Result",
    "Status",
    "__version__",
]
