"""The expected registration attempts of an H.248 gateway that lost its controller.

The model (SIP Adventures "Survivability and Avaya Media Gateways"; PROTOCOLS.md §6 [DOC]):
when recovery starts, both timers start. The gateway tries the entries above the transition
point in order, one attempt every ``retry_interval_s``, until primary-search expires. Then it
crosses the transition point: each entry below it once, then from the top of the list again,
one attempt per entry per round, until total-search expires, when the gateway resets.

Offsets are seconds from the link loss. A TCP failure starts recovery at once; a silent loss of
the H.248 link is detected within ``detection_min_s``-``detection_max_s`` (40-60 s).

CM's side (PROTOCOLS.md §6 [DOC]): when CM detects the loss it starts its Link Loss Delay
Timer (1-30 min, default 5) and keeps the gateway's calls until it expires; a gateway that has
not re-registered by then has lost them. The timeline shows that moment as an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecc_doctor.captures.mgc.params import UNCERTAIN, Controller, MgcParams
from ecc_doctor.errors import ConfigError

#: Upper bound on generated attempts (60 min every second).
MAX_ATTEMPTS = 3600


@dataclass(frozen=True)
class ExpectedAttempt:
    """One registration attempt of the expected timeline."""

    index: int
    offset_s: float
    controller: Controller
    above_tp: bool
    phase: str  # "primary" (before primary-search expires) or "survivable"
    round: int = 0  # survivable rounds: 1 for the first crossing, 2 for the next pass...

    def to_dict(self) -> dict[str, Any]:
        c = self.controller
        return {
            "index": self.index,
            "offset_s": round(self.offset_s, 3),
            "target": c.address if not c.internal else "SLS",
            "name": c.name,
            "entry": c.entry,
            "above_transition_point": self.above_tp,
            "phase": self.phase,
            "round": self.round,
            "on_wire": not c.internal,
        }


@dataclass(frozen=True)
class TimerEvent:
    """A moment on the timeline: link loss, detection, a timer expiry, the reset."""

    name: str
    offset_s: float
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "offset_s": round(self.offset_s, 3), "label": self.label}


@dataclass(frozen=True)
class Timeline:
    """The expected attempts and events, offsets in seconds from the link loss."""

    params: MgcParams
    start_s: float
    attempts: tuple[ExpectedAttempt, ...]
    events: tuple[TimerEvent, ...]
    detection: str = "tcp"
    notes: tuple[str, ...] = field(default=())

    def event(self, name: str) -> TimerEvent:
        return next(e for e in self.events if e.name == name)

    @property
    def primary_expiry_s(self) -> float:
        return self.event("primary-search").offset_s

    @property
    def total_expiry_s(self) -> float:
        return self.event("total-search").offset_s

    def to_dict(self, loss_at: str | None = None) -> dict[str, Any]:
        p = self.params
        return {
            "gateway": p.gateway or None,
            "origin": p.origin,
            "loss_at": loss_at,
            "detection": self.detection,
            "recovery_start_s": self.start_s,
            "controllers": [
                {
                    "entry": c.entry,
                    "target": c.address if not c.internal else "SLS",
                    "name": c.name,
                    "above_transition_point": c.entry <= p.transition_point,
                }
                for c in p.entries
            ],
            "transition_point": p.transition_point,
            "primary_search_min": p.primary_search_min,
            "total_search_min": p.total_search_min,
            "link_loss_delay_min": p.link_loss_delay_min,
            "retry_interval_s": p.retry_interval_s,
            "ports": {"h248": p.port, "h248_tls": p.tls_port, "megaco_text": p.udp_port},
            "attempts": [a.to_dict() for a in self.attempts],
            "timers": {e.name: round(e.offset_s, 3) for e in self.events},
            "events": [e.to_dict() for e in self.events],
            "assumed": {k: UNCERTAIN[k] for k in p.assumed if k in UNCERTAIN},
            "notes": list(self.notes),
        }


def _order(params: MgcParams) -> tuple[list[Controller], list[Controller]]:
    return list(params.above), list(params.below)


def build_timeline(params: MgcParams, *, detection: str = "tcp") -> Timeline:
    """The expected attempts if no controller answers, until total-search resets the gateway.

    *detection* is ``tcp`` (a socket failure: recovery starts at the loss) or ``silent``
    (loss of the H.248 link: recovery starts when it is detected, at ``detection_max_s``).
    """
    if not params.entries:
        raise ConfigError(f"{params.origin}: the MGC list is empty: nothing to search")
    start = params.detection_max_s if detection == "silent" else 0.0
    step = params.retry_interval_s
    pst, tst = start + params.primary_search_s, start + params.total_search_s
    above, below = _order(params)
    attempts: list[ExpectedAttempt] = []
    t = start
    i = 0
    while t < pst - 1e-9 and len(attempts) < MAX_ATTEMPTS:
        attempts.append(ExpectedAttempt(len(attempts), t, above[i % len(above)], True, "primary"))
        i, t = i + 1, t + step
    t = max(t, pst) if attempts else start
    # first each entry below the transition point once, then whole rounds from the top
    j = 0
    entries = above + below
    while t < tst - 1e-9 and len(attempts) < MAX_ATTEMPTS:
        if j < len(below):
            c, rnd = below[j], 1
        else:
            k = j - len(below)
            c, rnd = entries[k % len(entries)], 2 + k // len(entries)
        attempts.append(
            ExpectedAttempt(
                len(attempts), t, c, c.entry <= params.transition_point, "survivable", rnd
            )
        )
        j, t = j + 1, t + step
    events = _events(params, detection, start, pst, tst)
    notes = _notes(params)
    return Timeline(params, start, tuple(attempts), events, detection, notes)


def _events(
    params: MgcParams, detection: str, start: float, pst: float, tst: float
) -> tuple[TimerEvent, ...]:
    out = [TimerEvent("link-loss", 0.0, "H.248 link lost")]
    if detection == "silent":
        out.append(
            TimerEvent(
                "detected",
                start,
                f"loss detected ({params.detection_min_s:g}-{params.detection_max_s:g} s)",
            )
        )
    out.append(
        TimerEvent(
            "primary-search", pst, f"primary-search expires ({params.primary_search_min} min)"
        )
    )
    out.append(
        TimerEvent("total-search", tst, f"total-search expires ({params.total_search_min} min)")
    )
    out.append(TimerEvent("reset", tst, "gateway resets"))
    out.append(
        TimerEvent(
            "link-loss-delay",
            start + params.link_loss_delay_s,
            "CM drops the gateway's calls if it has not re-registered (Link Loss Delay Timer "
            f"{params.link_loss_delay_min} min, started when CM detects the loss)",
        )
    )
    return tuple(sorted(out, key=lambda e: e.offset_s))  # stable: reset stays after total-search


def _notes(params: MgcParams) -> tuple[str, ...]:
    notes = []
    if params.primary_search_min >= params.total_search_min:
        notes.append(
            "primary-search is not shorter than total-search: the gateway never crosses the "
            "transition point"
        )
    if not params.below:
        notes.append("nothing below the transition point: the whole list is searched throughout")
    if params.sls:
        notes.append("SLS is inside the gateway: its attempts do not appear on the network")
    return tuple(notes)


def fmt_offset(seconds: float) -> str:
    """``+10:00`` style (minutes:seconds), tenths shown when not whole."""
    sign = "-" if seconds < 0 else "+"
    m, s = divmod(round(abs(seconds), 1), 60)
    sec = f"{s:04.1f}" if abs(s - round(s)) > 0.05 else f"{round(s):02d}"
    return f"{sign}{int(m)}:{sec}"
