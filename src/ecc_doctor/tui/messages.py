"""The dashboard's messages: what workers tell the app (dataclass Messages, as toolong does).

Workers (check runs, capture reading, live capture) only ever *post* these; the app's
handlers update the widgets on the UI side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from ecc_doctor.models import Result


@dataclass
class CheckStarted(Message):
    """A check (by its registry id) started running."""

    spec_id: str


@dataclass
class CheckFinished(Message):
    """A check produced one of its results."""

    spec_id: str
    result: Result


@dataclass
class CheckDone(Message):
    """A check (by its registry id) has returned all its results (it may run again now)."""

    spec_id: str


@dataclass
class RunFinished(Message):
    """A run (every check asked for) has finished; ``run`` counts runs in this session."""

    run: int
    spec_ids: tuple[str, ...]


@dataclass
class LabReady(Message):
    """The in-process lab started (its config replaces the app's)."""


@dataclass
class LabFailed(Message):
    """The in-process lab could not start (``starting``) or a fault could not be toggled."""

    error: str
    starting: bool = True


@dataclass
class LabFaultChanged(Message):
    """A lab fault was injected (``active``) or healed."""

    fault: str
    active: bool


@dataclass
class CaptureAnalyzed(Message):
    """A SIP analysis of a capture file (or of the live capture so far) is ready.

    ``analysis`` is an ``ecc_doctor.captures.sip.analyze.SipAnalysis``; it is typed loosely so
    this module does not import the capture code (which imports scapy).
    """

    source: str
    analysis: Any
    live: bool = False
    packets: int = 0


@dataclass
class CaptureProgress(Message):
    """Reading a capture file: ``done`` of ``total`` bytes."""

    source: str
    done: int
    total: int


@dataclass
class CaptureStarted(Message):
    """Live capture is listening on ``source`` (an interface) with ``bpf``."""

    source: str
    bpf: str


@dataclass
class CaptureFailed(Message):
    """The capture could not be read / live capture could not start (one line)."""

    source: str
    error: str


@dataclass
class MgcAnalyzed(Message):
    """The MGC analysis of a capture is ready: ``measured`` is what the MGC panel shows."""

    measured: Any


@dataclass
class Exported(Message):
    """Results or a screenshot were written to ``path`` (``error`` when that failed)."""

    what: str
    path: str
    error: str = ""
