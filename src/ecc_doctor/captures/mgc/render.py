"""Terminal and JSON views of a timeline and of analyzed failover flows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.mgc.params import UNCERTAIN
from ecc_doctor.captures.mgc.timeline import Timeline, fmt_offset
from ecc_doctor.models import Status

_STATUS_STYLE = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "bold magenta",
    Status.SKIP: "dim",
}


def _at(offset: float, shift: float, clock: datetime | None, dated: bool = True) -> str:
    if clock is not None:
        return _time_of_day(clock, offset, dated, "%H:%M:%S")
    return f"{shift + offset:.1f} s"  # seconds into the capture


def _time_of_day(clock: datetime, offset: float, dated: bool, fmt: str | None = None) -> str:
    """*clock* + *offset*: ISO date-time when *clock* has a real date, else the time of day
    (with ``(+N day)`` once it passes midnight): no date is made up for ``--loss-at HH:MM``."""
    when = clock + timedelta(seconds=offset)
    if dated:
        return when.strftime(fmt) if fmt else when.isoformat()
    text = when.strftime(fmt) if fmt else when.time().isoformat()
    days = (when.date() - clock.date()).days
    return f"{text} (+{days} day{'s' if days > 1 else ''})" if days else text


def timeline_json(
    timeline: Timeline,
    shift: float,
    clock: datetime | None,
    loss_at: str | None,
    *,
    dated: bool = True,
) -> dict[str, Any]:
    """The timeline as JSON-ready data; with ``--loss-at`` each item also has ``at``:
    seconds, a time of day (``HH:MM:SS``) or an ISO date-time, as ``--loss-at`` was given."""
    data = timeline.to_dict(loss_at)
    if loss_at is not None:
        for item in (*data["attempts"], *data["events"]):
            item["at"] = (
                _time_of_day(clock, item["offset_s"], dated)
                if clock is not None
                else round(shift + item["offset_s"], 3)
            )
    return data


def print_timeline(
    timeline: Timeline,
    shift: float = 0.0,
    clock: datetime | None = None,
    console: Console | None = None,
    *,
    dated: bool = True,
) -> None:
    """A rich table: attempts and timer expiries in time order."""
    console = console or Console()
    p = timeline.params
    with_at = clock is not None or shift != 0.0
    table = Table(
        title=escape(f"Expected MGC search ({p.origin})"),
        caption=(
            f"transition point {p.transition_point} · primary-search {p.primary_search_min} min · "
            f"total-search {p.total_search_min} min · every {p.retry_interval_s:g} s · "
            f"CM link loss delay {p.link_loss_delay_min} min"
        ),
    )
    table.add_column("#", justify="right")
    table.add_column("offset", justify="right")
    if with_at:
        table.add_column("at", justify="right")
    table.add_column("target")
    table.add_column("entry", justify="right")
    table.add_column("side")
    rows: list[tuple[float, int, list[str], str]] = []
    for a in timeline.attempts:
        c = a.controller
        side = "above TP" if a.above_tp else "below TP"
        target = c.label if not c.internal else "SLS (in gateway, not on the wire)"
        rows.append((a.offset_s, 1, [str(a.index + 1), target, str(c.entry), side], ""))
    for e in timeline.events:
        rows.append(
            (e.offset_s, 0 if e.name != "reset" else 2, ["", e.label, "", ""], "bold yellow")
        )
    for offset, _, cells, style in sorted(rows, key=lambda r: (r[0], r[1])):
        at = [_at(offset, shift, clock, dated)] if with_at else []
        table.add_row(
            cells[0], fmt_offset(offset), *at, *map(escape, cells[1:]), style=style or None
        )
    console.print(table)
    for note in timeline.notes:
        console.print(f"note: {escape(note)}")
    for key in p.assumed:
        console.print(f"[dim]assumed: {key} = {getattr(p, key)} ({escape(UNCERTAIN[key])})[/dim]")


def print_flows(flows: Sequence[Flow], console: Console | None = None) -> None:
    """One block per gateway: verdict line, then its findings with frames."""
    console = console or Console()
    for flow in flows:
        style = _STATUS_STYLE.get(flow.status, "")
        console.print(
            f"[{style}]{flow.status.value}[/{style}] gateway {flow.key}: {escape(flow.summary)}"
        )
        table = Table(show_header=True, box=None, pad_edge=False)
        table.add_column("severity")
        table.add_column("rule")
        table.add_column("frames")
        table.add_column("finding")
        for f in flow.findings:
            frames = ", ".join(str(n) for n in f.frames[:8]) + (" ..." if len(f.frames) > 8 else "")
            fs = _STATUS_STYLE.get(f.severity, "")
            table.add_row(f"[{fs}]{f.severity.value}[/{fs}]", f.rule, frames, escape(f.message))
        console.print(table)
