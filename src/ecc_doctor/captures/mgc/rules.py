"""The rules one failover episode is judged by; each returns Findings with frames and times.

Times in messages are offsets from the start of recovery (the first attempt), written
``+m:ss``; expected values come from :func:`~ecc_doctor.captures.mgc.timeline.build_timeline`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from ecc_doctor.captures.mgc.observe import MAX_ODD_PORTS, Attempt, GatewayObs
from ecc_doctor.captures.mgc.params import MgcParams
from ecc_doctor.captures.mgc.timeline import build_timeline, fmt_offset
from ecc_doctor.models import Finding, Status

INFERRED = "inferred from the capture"
REF = "SIP Adventures: media gateway survivability; PROTOCOLS.md §6"
MAX_FRAMES = 50


@dataclass(frozen=True)
class Loss:
    """How the previous registration ended: ``tcp`` (RST/FIN), ``silent`` or ``reset``."""

    kind: str
    frame: int
    ts: float
    controller: str
    detail: str


@dataclass
class Episode:
    """One search: attempts from the first after a loss to a registration or a reset."""

    attempts: list[Attempt]
    loss: Loss | None
    registered: Attempt | None
    #: the time of the capture's first frame (None: not known)
    capture_start: float | None = None

    @property
    def start(self) -> float:
        return self.attempts[0].ts

    def offset(self, a: Attempt) -> float:
        return a.ts - self.start


def _f(
    rule: str, severity: Status, message: str, frames: list[int] | tuple[int, ...] = ()
) -> Finding:
    return Finding(rule, severity, message, tuple(frames[:MAX_FRAMES]), REF)


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _who(p: MgcParams, address: str) -> str:
    c = p.by_address(address)
    if c is None:
        return f"{address} (not in the MGC list)"
    if p.origin == INFERRED:
        return address
    side = "above" if c.entry <= p.transition_point else "below"
    return f"{c.label} (entry {c.entry}, {side} TP)"


def judge(
    episode: Episode,
    p: MgcParams,
    *,
    list_known: bool,
    capture_end: float,
    gateway: GatewayObs,
    first: bool = True,
) -> list[Finding]:
    """Every finding for *episode*: identity notes, loss, order, timers, spacing, outcome."""
    out = identity(gateway, p, list_known) + loss(episode, p)
    if list_known:
        out += unknown_targets(episode, p) + early_crossing(episode, p)
        out += order(episode, p) + below_repeat(episode, p) + total_search(episode, p)
    out += spacing(episode, p)
    if first:
        out += odd_ports(gateway, p)
    if gateway.dropped_attempts:
        out.append(
            _f(
                "mgc.too-many",
                Status.WARN,
                f"{gateway.dropped_attempts} attempts beyond the first "
                f"{len(gateway.attempts)} were not analyzed",
            )
        )
    return (
        out
        + outcome(episode, p, capture_end, list_known)
        + link_loss_delay(episode, p, capture_end)
    )


def identity(gw: GatewayObs, p: MgcParams, list_known: bool) -> list[Finding]:
    how = (
        "inferred from the capture: it opens the H.248 connections"
        if gw.inferred
        else "from config"
    )
    out = [_f("mgc.gateway", Status.PASS, f"gateway {gw.address} ({how})")]
    names = ", ".join(c.label for c in p.wire_entries)
    if list_known:
        out.append(_f("mgc.controllers", Status.PASS, f"MGC list from {p.origin}: {names}"))
    else:
        out.append(
            _f(
                "mgc.controllers",
                Status.WARN,
                f"no MGC list given; controllers inferred from the "
                f"capture in first-seen order ({names}); order, transition-point and timer rules "
                "need --gateway-text or [mgc]",
            )
        )
    return out


def loss(ep: Episode, p: MgcParams) -> list[Finding]:
    first = ep.attempts[0]
    if ep.loss is None:
        return [
            _f(
                "mgc.loss",
                Status.PASS,
                f"no earlier session in the capture: recovery taken to start at the first "
                f"attempt (frame {first.frame}); if the capture began during the search, times "
                "from it are lower bounds",
                [first.frame],
            )
        ]
    lo = ep.loss
    delay = first.ts - lo.ts
    frames = [lo.frame, first.frame]
    if lo.kind == "reset":
        return [
            _f(
                "mgc.loss",
                Status.PASS,
                f"new search after the gateway's reset; first attempt "
                f"{delay:.1f} s after the last one of the previous search (frame {first.frame})",
                frames,
            )
        ]
    text = f"link to {lo.controller} lost at frame {lo.frame} ({lo.detail}); first attempt {delay:.1f} s later (frame {first.frame})"
    limit = (
        p.retry_interval_s + p.tolerance_s
        if lo.kind == "tcp"
        else p.detection_max_s + p.tolerance_s
    )
    if delay > limit:
        expect = (
            "at once after a TCP failure"
            if lo.kind == "tcp"
            else (f"within {p.detection_min_s:g}-{p.detection_max_s:g} s of a silent link loss")
        )
        return [
            _f(
                "mgc.detection",
                Status.WARN,
                f"{text}; expected {expect} (±{p.tolerance_s:g} s)",
                frames,
            )
        ]
    return [_f("mgc.loss", Status.PASS, text, frames)]


def unknown_targets(ep: Episode, p: MgcParams) -> list[Finding]:
    bad = [a for a in ep.attempts if p.by_address(a.controller) is None]
    if not bad:
        return []
    a = bad[0]
    return [
        _f(
            "mgc.unknown-target",
            Status.FAIL,
            f"frame {a.frame} at {fmt_offset(ep.offset(a))}: "
            f"registration attempt to {a.controller}, which is not in the MGC list "
            f"({_n(len(bad), 'such attempt')})",
            [b.frame for b in bad],
        )
    ]


def _phase_split(ep: Episode, p: MgcParams) -> tuple[list[Attempt], list[Attempt]]:
    """(primary-search attempts, attempts after the crossing up to total-search + tolerance).

    Primary-search may expire anywhere in ``primary_search_s ± tolerance_s`` as measured from
    the first attempt, so above-TP attempts in that window that come before the first
    crossing still belong to the primary phase (a retry timer slightly under 10 s puts one
    there); one at or after ``primary_search_s + tolerance_s`` is a late crossing.
    """
    early = p.primary_search_s - p.tolerance_s
    late = p.primary_search_s + p.tolerance_s
    tst = p.total_search_s + p.tolerance_s
    above = {c.address for c in p.above}
    crossing = unmeasured_crossing(ep, p)
    if crossing is not None:
        # the capture began during the search: the phases split where the gateway crossed
        at = ep.attempts.index(crossing)
        return ep.attempts[:at], [a for a in ep.attempts[at:] if ep.offset(a) <= tst]
    primary = [a for a in ep.attempts if ep.offset(a) < early]
    later = [a for a in ep.attempts if early <= ep.offset(a) <= tst]
    while later and later[0].controller in above and ep.offset(later[0]) < late:
        primary.append(later.pop(0))
    return primary, later


def unmeasured_crossing(ep: Episode, p: MgcParams) -> Attempt | None:
    """The first attempt below the TP, when it comes before primary-search could have expired
    and the capture holds no link loss to measure from (it may have begun mid-search).

    A gateway that is searching tries again every retry interval: a first attempt later than
    that after the capture's first frame shows the search began inside the capture, and its
    times are then measured, not lower bounds."""
    if ep.loss is not None:
        return None
    if (
        ep.capture_start is not None
        and ep.start - ep.capture_start > p.retry_interval_s + p.tolerance_s
    ):
        return None
    below = {c.address for c in p.below if not c.internal}
    for a in ep.attempts:
        if ep.offset(a) >= p.primary_search_s - p.tolerance_s:
            return None
        if a.controller in below:
            return a
    return None


def early_crossing(ep: Episode, p: MgcParams) -> list[Finding]:
    crossing = unmeasured_crossing(ep, p)
    if crossing is not None:
        at = fmt_offset(ep.offset(crossing))
        return [
            _f(
                "mgc.timers-unmeasured",
                Status.WARN,
                f"frame {crossing.frame} tried {_who(p, crossing.controller)} {at} after the "
                "first attempt in the capture, which holds no link loss (it began during the "
                f"search): the crossing came at least {at} after the loss; primary-search "
                f"({fmt_offset(p.primary_search_s)}) cannot be checked",
                [crossing.frame],
            )
        ]
    above = {c.address for c in p.above}
    primary, _ = _phase_split(ep, p)
    bad = [a for a in primary if a.controller not in above and p.by_address(a.controller)]
    if not bad:
        return []
    a = bad[0]
    return [
        _f(
            "mgc.early-crossing",
            Status.FAIL,
            f"frame {a.frame} at {fmt_offset(ep.offset(a))} "
            f"tried {_who(p, a.controller)} before primary-search expired at "
            f"{fmt_offset(p.primary_search_s)} (±{p.tolerance_s:g} s): the transition point "
            f"{p.transition_point} was crossed too early ({_n(len(bad), 'such attempt')})",
            [b.frame for b in bad],
        )
    ]


def order(ep: Episode, p: MgcParams) -> list[Finding]:
    """Above the TP: the list order, cyclic. After primary-search: the expected sequence."""
    primary, later = _phase_split(ep, p)
    above = [c.address for c in p.above]
    out: list[Finding] = []
    nxt = 0
    if ep.loss is None and primary and primary[0].controller in above:
        # the capture may begin during the search: follow the cycle from where it is
        nxt = above.index(primary[0].controller)
    for a in primary:
        if a.controller not in above:
            continue
        if a.controller != above[nxt % len(above)]:
            out.append(
                _f(
                    "mgc.order",
                    Status.FAIL,
                    f"frame {a.frame} at {fmt_offset(ep.offset(a))} "
                    f"tried {_who(p, a.controller)}; expected {_who(p, above[nxt % len(above)])}, "
                    "the next entry above the transition point",
                    [a.frame],
                )
            )
            break
        nxt += 1
    return out + _order_later(ep, p, later)


def _order_later(ep: Episode, p: MgcParams, later: list[Attempt]) -> list[Finding]:
    expected = [
        x.controller.address
        for x in build_timeline(p).attempts
        if x.phase == "survivable" and not x.controller.internal
    ]
    below = {c.address for c in p.below}
    for i, a in enumerate(later):
        if i >= len(expected) or a.controller == expected[i]:
            continue
        crossed = any(b.controller in below for b in later[:i])
        rule = "mgc.order" if crossed or a.controller in below else "mgc.late-crossing"
        what = (
            "the gateway did not cross the transition point when primary-search expired"
            if rule == "mgc.late-crossing"
            else "entries below the transition point are tried in list order, then the list from the top"
        )
        return [
            _f(
                rule,
                Status.FAIL,
                f"frame {a.frame} at {fmt_offset(ep.offset(a))} tried "
                f"{_who(p, a.controller)}; expected {_who(p, expected[i])}: {what}",
                [a.frame],
            )
        ]
    return []


def below_repeat(ep: Episode, p: MgcParams) -> list[Finding]:
    _, later = _phase_split(ep, p)
    below = {c.address for c in p.below}
    top = p.entries[0].address
    seen: dict[str, int] = {}
    for a in later:
        if a.controller == top:
            seen = {}
        if a.controller not in below:
            continue
        if a.controller in seen:
            return [
                _f(
                    "mgc.below-repeat",
                    Status.FAIL,
                    f"frame {a.frame} at {fmt_offset(ep.offset(a))}: "
                    f"{_who(p, a.controller)} tried again in the same round (first at frame "
                    f"{seen[a.controller]}); entries below the transition point are tried once "
                    "per round",
                    [seen[a.controller], a.frame],
                )
            ]
        seen[a.controller] = a.frame
    return []


def total_search(ep: Episode, p: MgcParams) -> list[Finding]:
    limit = p.total_search_s + p.tolerance_s
    bad = [a for a in ep.attempts if ep.offset(a) > limit]
    if not bad:
        return []
    last = bad[-1]
    return [
        _f(
            "mgc.total-search",
            Status.FAIL,
            f"frame {bad[0].frame} at {fmt_offset(ep.offset(bad[0]))}: "
            f"still trying after total-search expired at {fmt_offset(p.total_search_s)} "
            f"({len(bad)} attempts, the last at {fmt_offset(ep.offset(last))}, frame {last.frame}); "
            "expected the gateway to reset",
            [a.frame for a in bad],
        )
    ]


def spacing(ep: Episode, p: MgcParams) -> list[Finding]:
    step, tol = p.retry_interval_s, p.tolerance_s
    slow_limit = step * (2 if p.sls else 1) + tol
    fast: list[tuple[Attempt, float]] = []
    slow: list[tuple[Attempt, float]] = []
    for prev, a in zip(ep.attempts, ep.attempts[1:], strict=False):
        gap = a.ts - prev.ts
        if gap < step - tol:
            fast.append((a, gap))
        elif gap > slow_limit and (ep.registered is None or a.ts <= ep.registered.ts):
            slow.append((a, gap))
    out = []
    for items, word in ((fast, "too soon"), (slow, "too late")):
        if not items:
            continue
        a, _ = items[0]
        median = statistics.median(g for _, g in items)
        out.append(
            _f(
                "mgc.spacing",
                Status.FAIL,
                f"{len(items)} attempts came {word}: median gap "
                f"{median:.1f} s, expected {step:g} s ± {tol:g} s (first at frame {a.frame}, "
                f"{fmt_offset(ep.offset(a))})",
                [x.frame for x, _ in items],
            )
        )
    return out


def odd_ports(gw: GatewayObs, p: MgcParams) -> list[Finding]:
    ports = "/".join(str(x) for x in p.ports)
    more = []
    if gw.odd_ports_more:
        more.append(
            _f(
                "mgc.unexpected-port",
                Status.WARN,
                f"gateway {gw.address} also sent {_n(gw.odd_ports_more, 'SYN')} to further "
                f"ports or controllers, not listed (only the first {MAX_ODD_PORTS} are)",
                [],
            )
        )
    return [
        _f(
            "mgc.unexpected-port",
            Status.WARN,
            f"gateway {gw.address} opened TCP to {address} on "
            f"port {port} ({_n(len(frames), 'SYN')}), not an H.248 port ({ports}); set [mgc] port if "
            "this site uses another",
            frames,
        )
        for (address, port), frames in sorted(gw.odd_ports.items())
    ] + more


def outcome(ep: Episode, p: MgcParams, capture_end: float, list_known: bool) -> list[Finding]:
    reg = ep.registered
    last = ep.attempts[-1]
    if reg is not None:
        frame, ts = reg.registered_at
        return [
            _f(
                "mgc.registered",
                Status.PASS,
                f"registered to {_who(p, reg.controller)} at "
                f"{fmt_offset(ts - ep.start)} (attempt frame {reg.frame}, answer frame {frame}) "
                f"after {len(ep.attempts)} attempts",
                [reg.frame, frame],
            )
        ]
    end = capture_end - ep.start
    limit = p.total_search_s + p.tolerance_s
    if list_known and end >= limit:
        if ep.offset(last) > limit:
            return []  # still searching after total-search: total_search() already FAILs it
        return [
            _f(
                "mgc.reset",
                Status.PASS,
                f"no controller answered; total-search expired at "
                f"{fmt_offset(p.total_search_s)} (last attempt {fmt_offset(ep.offset(last))}, frame "
                f"{last.frame}) and the gateway stopped: it resets, as expected",
                [last.frame],
            )
        ]
    return [
        _f(
            "mgc.incomplete",
            Status.WARN,
            f"no registration seen: the capture ends "
            f"{fmt_offset(end)} into the search (last attempt frame {last.frame})",
            [last.frame],
        )
    ]


def link_loss_delay(ep: Episode, p: MgcParams, capture_end: float) -> list[Finding]:
    """Information, never a verdict: did the gateway re-register before CM's Link Loss Delay
    Timer expired (PROTOCOLS.md §6 [DOC]: CM starts it when it detects the loss and keeps the
    gateway's calls until then)? Only when the capture holds the link loss (TCP or silent)."""
    lo = ep.loss
    if lo is None or lo.kind not in ("tcp", "silent"):
        return []
    timer = f"CM's Link Loss Delay Timer ({p.link_loss_delay_min} min)"
    # CM sees a TCP failure at once; a silent loss within the detection window
    soon, late = (
        (p.link_loss_delay_s, p.link_loss_delay_s)
        if lo.kind == "tcp"
        else (p.link_loss_delay_s + p.detection_min_s, p.link_loss_delay_s + p.detection_max_s)
    )
    started = (
        "when CM saw the TCP failure"
        if lo.kind == "tcp"
        else f"when CM detected the loss, {p.detection_min_s:g}-{p.detection_max_s:g} s after "
        "the last traffic"
    )
    reg = ep.registered
    if reg is None:
        if capture_end - lo.ts <= late:
            return []
        text = (
            f"no registration within {timer}, which expired by {fmt_offset(late)} from the "
            f"link loss (frame {lo.frame}; started {started}): CM has dropped the gateway's calls"
        )
        return [_f("mgc.link-loss-delay", Status.PASS, text, [lo.frame])]
    frame, ts = reg.registered_at
    since = ts - lo.ts
    head = f"registered at {fmt_offset(since)} from the link loss (frame {lo.frame}, answer frame {frame})"
    if since > late:
        text = f"{head}, after {timer}: CM had dropped the gateway's calls"
    elif since < soon:
        text = f"{head}, within {timer}: CM had not yet dropped the gateway's calls"
    else:
        text = (
            f"{head}, about when {timer} expired (started {started}): CM may have dropped the "
            "gateway's calls"
        )
    return [_f("mgc.link-loss-delay", Status.PASS, text, [lo.frame, frame])]
