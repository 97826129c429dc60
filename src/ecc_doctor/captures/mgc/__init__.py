"""H.248 media gateway failover: the expected MGC-list search and a capture's verdict.

``build_timeline(params)`` gives the attempts a gateway should make after losing its
controller; ``analyze_file(path, ...)`` compares a capture of the gateway's traffic with it.
"""

from __future__ import annotations

from ecc_doctor.captures.mgc.analyze import (
    EpisodeReport,
    analyze_file,
    analyze_frames,
    analyze_report,
)
from ecc_doctor.captures.mgc.params import Controller, MgcParams, load_params
from ecc_doctor.captures.mgc.timeline import ExpectedAttempt, Timeline, TimerEvent, build_timeline

__all__ = [
    "Controller",
    "EpisodeReport",
    "ExpectedAttempt",
    "MgcParams",
    "Timeline",
    "TimerEvent",
    "analyze_file",
    "analyze_frames",
    "analyze_report",
    "build_timeline",
    "load_params",
]
