"""What the MGC panel shows: the expected failover timeline from [mgc], and measured flows.

Pure functions over the MGC timeline module (imported lazily: it is only needed when the
site file has an [mgc] section).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ecc_doctor.config import SiteConfig
from ecc_doctor.errors import EccDoctorError
from ecc_doctor.tui.mgc_panel import NO_MGC
from ecc_doctor.tui.sip_panel import finding_text
from ecc_doctor.tui.style import status_text


def offset(seconds: float) -> str:
    """``+1:05`` (minutes:seconds after the link loss)."""
    mins, secs = divmod(int(round(seconds)), 60)
    return f"+{mins}:{secs:02d}"


def expected(config: SiteConfig | None) -> RenderableType:
    """The expected timeline of the site's [mgc] section (a note when there is none)."""
    if config is None or config.mgc is None:
        return Text(NO_MGC, style="dim")
    try:
        from ecc_doctor.captures.mgc import build_timeline
        from ecc_doctor.captures.mgc.params import from_config
    except ImportError as exc:
        return Text(f"the MGC timeline is not available in this build: {exc}", style="red")
    try:
        timeline = build_timeline(from_config(config.mgc, f"{config.source} [mgc]"))
    except EccDoctorError as exc:
        return Text(f"[mgc]: {exc.message}", style="bold red")
    return timeline_view(timeline)


def timeline_view(timeline: Any) -> RenderableType:
    """Controllers, timer events and the attempts grouped by phase (pure)."""
    p = timeline.params
    parts: list[RenderableType] = [
        Text("Expected failover timeline (offsets from the link loss)", style="bold")
    ]
    parts.append(
        Text(
            f"  transition point {p.transition_point} · primary-search {p.primary_search_min} min"
            f" · total-search {p.total_search_min} min · retry every {p.retry_interval_s:g} s"
            f" · detection {timeline.detection}"
        )
    )
    ctl = Table("entry", "controller", "side", box=None, padding=(0, 1), show_edge=False)
    for c in p.entries:
        side = "above TP" if c.entry <= p.transition_point else "below TP"
        ctl.add_row(Text(str(c.entry)), Text(c.label), Text(side))
    parts.append(ctl)
    ev = Table("at", "event", box=None, padding=(0, 1), show_edge=False)
    for e in timeline.events:
        ev.add_row(Text(offset(e.offset_s)), Text(e.label))
    parts.append(ev)
    parts.append(Text("Attempts", style="bold"))
    groups: list[tuple[str, int, list[Any]]] = []
    for a in timeline.attempts:
        key = (a.phase, min(a.round, 2))  # later survivable rounds repeat the whole list
        if groups and (groups[-1][0], groups[-1][1]) == key:
            groups[-1][2].append(a)
        else:
            groups.append((a.phase, a.round, [a]))
    for phase, rnd, attempts in groups:
        names: list[str] = []
        for a in attempts:
            if a.controller.short not in names:
                names.append(a.controller.short)
        label = (
            phase
            if not rnd
            else ("survivable, first pass" if rnd == 1 else "survivable, whole list in turn")
        )
        parts.append(
            Text(
                f"  {offset(attempts[0].offset_s)}–{offset(attempts[-1].offset_s)} {label}: "
                f"{len(attempts)} attempts to {', '.join(names)}"
            )
        )
    for note in timeline.notes:
        parts.append(Text(f"  note: {note}", style="yellow"))
    return Group(*parts)


def measured(flows: Sequence[Any], source: str) -> RenderableType:
    """The MGC analyzer's flows of a capture with their findings (pure)."""
    name = source.rsplit("/", 1)[-1]
    parts: list[RenderableType] = [Text(f"Measured in {name}", style="bold")]
    if not flows:
        parts.append(Text("  no gateway failover found in the capture", style="dim"))
    for flow in flows:
        line = Text("  ")
        line.append_text(status_text(flow.status))
        line.append(f" {flow.key}: {flow.summary}")
        parts.append(line)
        for f in flow.findings:
            parts.append(Text("    ").append_text(finding_text(f)))
    return Group(*parts)
