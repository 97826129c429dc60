"""The capture verdict: a gateway's observed failover against the expected MGC-list search.

``analyze_file(path, ...)`` streams the capture through an engine into
:class:`~ecc_doctor.captures.mgc.observe.Observer`, cuts each gateway's attempts into
*episodes* (one search: from the first attempt after a link loss to a registration or a
reset), and judges each episode with :mod:`ecc_doctor.captures.mgc.rules`. One Flow (kind
``mgc-failover``) per episode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.mgc.observe import Attempt, Conn, GatewayObs, Observation, Observer
from ecc_doctor.captures.mgc.params import Controller, MgcParams, load_params
from ecc_doctor.captures.mgc.rules import INFERRED, Episode, Loss, identity, judge, odd_ports
from ecc_doctor.captures.mgc.svg import render_svg
from ecc_doctor.captures.mgc.timeline import Timeline, build_timeline, fmt_offset
from ecc_doctor.captures.records import CaptureNote, Frame
from ecc_doctor.models import Finding, Status

KIND = "mgc-failover"
DEFAULT_PORTS = (2945, 1039, 2944)
REFERENCE = "SIP Adventures: media gateway survivability; PROTOCOLS.md §6"


@dataclass(frozen=True)
class EpisodeReport:
    """One judged search: its Flow, the expected timeline and what was seen (for the SVG)."""

    flow: Flow
    timeline: Timeline | None
    observed: tuple[tuple[float, str, bool], ...] = ()

    def svg(self) -> str:
        if self.timeline is None:
            return ""
        return render_svg(
            self.timeline,
            title=f"Gateway {self.flow.key}: expected vs seen ({self.flow.status.value})",
            observed=self.observed,
        )


def analyze_file(
    path: Path,
    *,
    engine: str = "scapy",
    config_path: Path | None = None,
    gateway_text: Path | None = None,
    params: MgcParams | None = None,
) -> list[Flow]:
    """Judge every gateway failover in the capture at *path* (see :func:`analyze_frames`)."""
    reports = analyze_report(
        path, engine=engine, config_path=config_path, gateway_text=gateway_text, params=params
    )
    return [r.flow for r in reports]


def analyze_report(
    path: Path,
    *,
    engine: str = "scapy",
    config_path: Path | None = None,
    gateway_text: Path | None = None,
    params: MgcParams | None = None,
) -> list[EpisodeReport]:
    """Like :func:`analyze_file`, with each episode's timeline and observed attempts."""
    from ecc_doctor.captures.engines import get_engine

    if params is None and (config_path is not None or gateway_text is not None):
        params = load_params(config_path, gateway_text)
    frames = get_engine(engine).frames(path)
    try:
        return analyze_frames_report(frames, params)
    finally:
        # stopped early (an error, Ctrl-C, SIGTERM): the engine's cleanup runs now, not when
        # the generator is collected (the tshark engine kills and waits for its tshark)
        close = getattr(frames, "close", None)
        if close is not None:
            close()


def analyze_frames(
    frames: Iterable[Frame | CaptureNote], params: MgcParams | None = None
) -> list[Flow]:
    """Judge the failovers in a stream of records. Without *params* the controllers are
    inferred from the capture and only spacing and registration are judged."""
    return [r.flow for r in analyze_frames_report(frames, params)]


def analyze_frames_report(
    frames: Iterable[Frame | CaptureNote], params: MgcParams | None = None
) -> list[EpisodeReport]:
    ports = params.ports if params else DEFAULT_PORTS
    controllers = tuple(c.address for c in params.wire_entries) if params else ()
    observer = Observer(ports, controllers, params.gateway if params else "")
    for record in frames:
        observer.feed(record)
    obs = observer.obs
    reports = _judge_gateways(obs, params, ports)
    if obs.skipped_gateways:
        reports.append(_skipped_gateways(obs, params))
    return reports


def _judge_gateways(
    obs: Observation, params: MgcParams | None, ports: tuple[int, ...]
) -> list[EpisodeReport]:
    with_attempts = [g for g in obs.gateways.values() if g.attempts or g.odd_ports]
    if not with_attempts:
        steady = [g for g in obs.gateways.values() if g.sessions]
        if steady:
            return [_no_failover(g, params or _inferred_params(g)) for g in steady]
        if obs.skipped_gateways:
            return []
        return [_no_traffic(obs, params, ports)]
    reports = []
    for gw in with_attempts:
        gw_params = params or _inferred_params(gw)
        if not gw.attempts:
            reports.append(_no_attempts(gw, gw_params, params is not None))
            continue
        for number, episode in enumerate(_episodes(gw, gw_params, obs.first_ts), start=1):
            reports.append(_report(gw, episode, number, gw_params, params is not None, obs))
    return reports


def _inferred_params(gw: GatewayObs) -> MgcParams:
    seen = list(dict.fromkeys(a.controller for a in gw.attempts))[:4] or ["0.0.0.0"]
    entries = tuple(Controller(i + 1, a) for i, a in enumerate(seen))
    return MgcParams(controllers=entries, transition_point=len(entries), origin=INFERRED)


def _episodes(gw: GatewayObs, p: MgcParams, capture_start: float | None = None) -> list[Episode]:
    attempts = sorted(gw.attempts, key=lambda a: (a.ts, a.frame))
    episodes: list[Episode] = []
    current: list[Attempt] = []
    prev_loss: Loss | None = _first_loss(gw, attempts[0]) if attempts else None
    for a in attempts:
        if current:
            reg = _registered(current, a.ts)
            reset = (
                a.ts - current[0].ts > p.total_search_s + p.tolerance_s
                and a.ts - current[-1].ts >= p.reset_gap_s
            )
            if reg is not None or reset:
                episodes.append(Episode(current, prev_loss, reg, capture_start))
                prev_loss = _loss_after(reg, a) if reg else _reset_loss(current[-1], p)
                current = []
        current.append(a)
    if current:
        episodes.append(
            Episode(current, prev_loss, _registered(current, float("inf")), capture_start)
        )
    return episodes


def _registered(attempts: list[Attempt], before: float) -> Attempt | None:
    for a in attempts:
        if a.registered and a.registered_at[1] <= before:
            return a
    return None


def _conn_loss(conn: Conn, before: float) -> Loss | None:
    if conn.close_frame and conn.close_ts <= before:
        return Loss(
            "tcp", conn.close_frame, conn.close_ts, conn.controller, f"TCP {conn.close_kind}"
        )
    if conn.last_rx_frame and conn.last_rx_ts <= before:
        return Loss(
            "silent", conn.last_rx_frame, conn.last_rx_ts, conn.controller, "last traffic from it"
        )
    return None


def _first_loss(gw: GatewayObs, first: Attempt) -> Loss | None:
    best: Loss | None = None
    for conn in gw.sessions:
        loss = _conn_loss(conn, first.ts)
        if loss is not None and (best is None or loss.ts > best.ts):
            best = loss
    return best


def _loss_after(reg: Attempt, nxt: Attempt) -> Loss | None:
    return _conn_loss(reg.conn, nxt.ts)


def _reset_loss(last: Attempt, p: MgcParams) -> Loss:
    return Loss(
        "reset", last.frame, last.ts, last.controller, "the gateway reset after total-search"
    )


def _report(
    gw: GatewayObs,
    episode: Episode,
    number: int,
    p: MgcParams,
    list_known: bool,
    obs: Observation,
) -> EpisodeReport:
    findings = judge(
        episode, p, list_known=list_known, capture_end=obs.last_ts, gateway=gw, first=number == 1
    )
    findings += [
        Finding(n.rule, Status.WARN, n.message, n.frames, "capture") for n in obs.notes[:5]
    ]
    status = Status.worst([f.severity for f in findings])
    key = gw.address if number == 1 else f"{gw.address} search {number}"
    frames = tuple(a.frame for a in episode.attempts[:1000])
    summary = _summary(episode, findings, status, p)
    flow = Flow(KIND, key, status, summary, tuple(findings), frames=frames)
    origin = episode.loss.ts if episode.loss and episode.loss.kind == "tcp" else episode.start
    bad = {n for f in findings if f.severity is Status.FAIL for n in f.frames}
    observed = tuple((a.ts - origin, a.controller, a.frame not in bad) for a in episode.attempts)
    return EpisodeReport(flow, build_timeline(p), observed)


def _summary(episode: Episode, findings: list[Finding], status: Status, p: MgcParams) -> str:
    bad = [f for f in findings if f.severity in (Status.FAIL, Status.ERROR)]
    if bad:
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        return bad[0].message + more
    n = len(episode.attempts)
    reg = episode.registered
    if reg is not None:
        c = p.by_address(reg.controller)
        who = c.label if c else reg.controller
        at = fmt_offset(reg.registered_at[1] - episode.start)
        text = f"registered to {who} {at} after recovery started ({n} attempts)"
        warn = [f for f in findings if f.severity is Status.WARN]
        return f"{text}; {warn[0].message}" if warn else f"{text}, as expected"
    warn = [f for f in findings if f.severity is Status.WARN]
    if warn:
        return warn[0].message
    reset = [f for f in findings if f.rule == "mgc.reset"]
    return reset[0].message if reset else f"{n} attempts follow the MGC list"


def _no_traffic(
    obs: Observation, params: MgcParams | None, ports: tuple[int, ...]
) -> EpisodeReport:
    who = f"gateway {params.gateway}" if params and params.gateway else "any gateway"
    to = ""
    if params and params.wire_entries:
        to = " to " + ", ".join(c.address for c in params.wire_entries)
    port_text = "/".join(str(p) for p in ports)
    msg = (
        f"no H.248 registration traffic from {who}{to} on ports {port_text} in the capture "
        f"({obs.frames} TCP/UDP frames read); check the capture point, [mgc] gateway and ports"
    )
    finding = Finding("mgc.no-traffic", Status.ERROR, msg, (), REFERENCE)
    key = params.gateway if params and params.gateway else "(no gateway)"
    flow = Flow(KIND, key, Status.ERROR, msg, (finding,))
    return EpisodeReport(flow, build_timeline(params) if params and params.controllers else None)


def _skipped_gateways(obs: Observation, params: MgcParams | None) -> EpisodeReport:
    from ecc_doctor.captures.mgc.observe import MAX_GATEWAYS

    n = obs.skipped_gateways
    # past MAX_GATEWAYS skipped addresses new ones are no longer told from seen ones
    at_least = "at least " if n >= MAX_GATEWAYS else ""
    msg = (
        f"{at_least}{n} gateway{'' if n == 1 else 's'} beyond the first {MAX_GATEWAYS} were "
        "not analyzed "
        f"({obs.skipped_frames} frames left out); set [mgc] gateway or filter the capture "
        "to judge them"
    )
    finding = Finding("mgc.too-many-gateways", Status.WARN, msg, (), REFERENCE)
    flow = Flow(KIND, "(gateways not analyzed)", Status.WARN, msg, (finding,))
    return EpisodeReport(flow, None)


def _no_attempts(gw: GatewayObs, p: MgcParams, list_known: bool) -> EpisodeReport:
    ports = "/".join(str(x) for x in p.ports)
    msg = (
        f"gateway {gw.address} made no registration attempt on the H.248 ports ({ports}) in "
        "the capture"
    )
    findings = identity(gw, p, list_known) + odd_ports(gw, p)
    findings.append(Finding("mgc.no-attempts", Status.ERROR, msg, (), REFERENCE))
    odd = [f for f in findings if f.rule == "mgc.unexpected-port"]
    summary = msg + (f"; {odd[0].message}" if odd else "")
    flow = Flow(KIND, gw.address, Status.ERROR, summary, tuple(findings))
    return EpisodeReport(flow, build_timeline(p))


def _no_failover(gw: GatewayObs, p: MgcParams) -> EpisodeReport:
    last = max(gw.sessions, key=lambda c: c.last_rx_ts)
    msg = (
        f"no failover in the capture: gateway {gw.address} keeps its H.248 link to "
        f"{last.controller} (last answer frame {last.last_rx_frame or last.first_frame}); "
        "nothing to judge"
    )
    finding = Finding("mgc.no-failover", Status.WARN, msg, (last.last_rx_frame,), REFERENCE)
    flow = Flow(KIND, gw.address, Status.WARN, msg, (finding,))
    return EpisodeReport(flow, build_timeline(p))
