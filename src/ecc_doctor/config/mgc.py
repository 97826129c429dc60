"""[mgc]: an H.248 gateway's MGC list and recovery timers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.config.schema import setting


@dataclass(frozen=True)
class MgcConfig:
    """[mgc]: the gateway's controller list and reset-times, and a capture to judge."""

    controllers: list[str] = setting(
        doc="MGC list in order (first is the primary), at most 4", example=["10.0.0.10"]
    )
    transition_point: int = setting(
        1, doc="entries above this point are searched first", min=1, max=4
    )
    primary_search_min: int = setting(1, doc="primary-search timer (minutes)", min=1, max=60)
    total_search_min: int = setting(30, doc="total-search timer (minutes)", min=1, max=60)
    capture: Path | None = setting(None, doc="capture file with the gateway's traffic")
