"""The timeline as a hand-written SVG: one lane per controller, attempts as marks, timers as lines.

Observed attempts from a capture (``observed``: offset, address, ok) can be drawn over the
expected ones, so an engineer sees where a gateway went off the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape, quoteattr

from ecc_doctor.captures.mgc.timeline import Timeline

WIDTH = 1040
LEFT = 190
RIGHT = 40
TOP = 134  # room for four rows of timer labels above the lanes
LANE = 46
LEGEND_ROW = 18
FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"

_EVENT_STYLE = {
    "link-loss": ("#6b7280", "4 3"),
    "detected": ("#6b7280", "2 3"),
    "primary-search": ("#d97706", "6 4"),
    "total-search": ("#dc2626", ""),
    "link-loss-delay": ("#0891b2", "3 3"),
}

Scale = Callable[[float], float]
Observed = tuple[float, str, bool]  # offset from the loss, target address, within the model


def _tick_step(span: float) -> float:
    for step in (10, 30, 60, 120, 300, 600, 900, 1800):
        if span / step <= 16:
            return float(step)
    return 3600.0


def _fmt(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def render_svg(timeline: Timeline, *, title: str = "", observed: Sequence[Observed] = ()) -> str:
    """The SVG document (UTF-8 text, valid XML)."""
    p = timeline.params
    entries = p.entries
    span = (
        max(
            timeline.total_expiry_s,
            *(e.offset_s for e in timeline.events),
            *(o[0] for o in observed),
            1.0,
        )
        * 1.04
    )
    plot_w = WIDTH - LEFT - RIGHT
    legend = _legend_layout(bool(observed))
    height = TOP + LANE * len(entries) + 110 + LEGEND_ROW * (len(legend) - 1)

    def x(t: float) -> float:
        return round(LEFT + plot_w * t / span, 2)

    lane_y = {c.entry: TOP + LANE * i + LANE / 2 for i, c in enumerate(entries)}
    by_address = {c.address: c.entry for c in entries}
    out: list[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family={quoteattr(FONT)} font-size="12">',
        "<title>"
        + escape(title or "H.248 MGC failover: expected registration attempts")
        + "</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    out += _header(timeline, title)
    out += _lanes(timeline, lane_y, x)
    out += _axis(span, x, TOP + LANE * len(entries))
    out += _events(timeline, x, TOP + LANE * len(entries))
    out += _attempts(timeline, lane_y, x)
    out += _observed(observed, lane_y, by_address, x)
    out += _legend(height, legend)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _header(timeline: Timeline, title: str) -> list[str]:
    p = timeline.params
    heading = title or "H.248 MGC failover: expected registration attempts"
    sub = (
        f"transition point {p.transition_point} · primary-search {p.primary_search_min} min · "
        f"total-search {p.total_search_min} min · one attempt every {p.retry_interval_s:g} s · "
        f"{len(timeline.attempts)} attempts"
    )
    return [
        f'<text x="24" y="34" font-size="19" font-weight="600" fill="#111827">{escape(heading)}</text>',
        f'<text x="24" y="56" font-size="12.5" fill="#4b5563">{escape(sub)}</text>',
    ]


def _lanes(timeline: Timeline, lane_y: dict[int, float], x: Scale) -> list[str]:
    p = timeline.params
    out = []
    for c in p.entries:
        y = lane_y[c.entry]
        above = c.entry <= p.transition_point
        fill = "#eff6ff" if above else "#fff7ed"
        out.append(
            f'<rect x="{LEFT}" y="{y - LANE / 2 + 3}" width="{WIDTH - LEFT - RIGHT}" '
            f'height="{LANE - 6}" rx="6" fill="{fill}"/>'
        )
        role = "primary" if c.entry == 1 else ("above TP" if above else "below TP")
        name = c.name or (c.address if not c.internal else "SLS")
        out.append(
            f'<text x="{LEFT - 12}" y="{y - 2}" text-anchor="end" font-weight="600" '
            f'fill="#111827">{escape(f"{c.entry}. {name}")}</text>'
        )
        detail = f"{c.address} · {role}" if c.name and not c.internal else role
        if c.internal:
            detail = "inside the gateway · below TP"
        out.append(
            f'<text x="{LEFT - 12}" y="{y + 13}" text-anchor="end" font-size="10.5" '
            f'fill="#6b7280">{escape(detail)}</text>'
        )
    if p.below:
        y = TOP + LANE * p.transition_point
        out.append(
            f'<line x1="16" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="#7c3aed" '
            'stroke-width="1.5" stroke-dasharray="8 4" class="transition-point"/>'
        )
        out.append(
            # right-aligned just above the line, inside the plot: clear of the lane labels
            f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4}" text-anchor="end" font-size="10.5" '
            f'font-weight="600" fill="#7c3aed">transition point {p.transition_point}</text>'
        )
    return out


def _axis(span: float, x: Scale, bottom: float) -> list[str]:
    step = _tick_step(span)
    out = [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{bottom + 8}" y2="{bottom + 8}" '
        'stroke="#9ca3af"/>'
    ]
    t = 0.0
    while t <= span:
        xt = x(t)
        out.append(
            f'<line x1="{xt}" x2="{xt}" y1="{bottom + 8}" y2="{bottom + 13}" stroke="#9ca3af"/>'
        )
        out.append(
            f'<text x="{xt}" y="{bottom + 27}" text-anchor="middle" font-size="10.5" '
            f'fill="#4b5563">{_fmt(t)}</text>'
        )
        t += step
    out.append(
        f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2}" y="{bottom + 45}" text-anchor="middle" '
        'font-size="11" fill="#4b5563">time since the H.248 link was lost (min:s)</text>'
    )
    return out


def _events(timeline: Timeline, x: Scale, bottom: float) -> list[str]:
    out = []
    p = timeline.params
    if timeline.detection == "silent":
        x0, x1 = x(p.detection_min_s), x(p.detection_max_s)
        out.append(
            f'<rect x="{x0}" y="{TOP - 8}" width="{round(x1 - x0, 2)}" height="{bottom - TOP + 16}" '
            'fill="#e5e7eb" opacity="0.7" class="detection-window"/>'
        )
    rows: list[float] = []  # right end of the last label in each row
    for e in timeline.events:
        if e.name not in _EVENT_STYLE:
            continue
        color, dash = _EVENT_STYLE[e.name]
        xe = x(e.offset_s)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{xe}" x2="{xe}" y1="{TOP - 14}" y2="{bottom + 8}" stroke="{color}" '
            f'stroke-width="2"{dash_attr} class="expiry" data-event="{e.name}" '
            f'data-offset="{e.offset_s:g}"/>'
        )
        label = {
            "total-search": f"{e.label} → reset",
            "link-loss-delay": f"CM drops calls (Link Loss Delay {p.link_loss_delay_min} min)",
        }.get(e.name, e.label)
        text = f"{label} · {_fmt(e.offset_s)}"
        width = 6.3 * len(text)
        anchor = "end" if xe + width > WIDTH - 8 else "start"
        x0 = xe - width - 5 if anchor == "end" else xe + 5
        row = next((i for i, end in enumerate(rows) if end < x0 - 8), len(rows))
        rows[row : row + 1] = [x0 + width + 10]
        out.append(
            f'<text x="{xe - 5 if anchor == "end" else xe + 5}" y="{TOP - 18 - 14 * row}" '
            f'text-anchor="{anchor}" font-size="11" font-weight="600" fill="{color}">'
            f"{escape(text)}</text>"
        )
    return out


def _attempts(timeline: Timeline, lane_y: dict[int, float], x: Scale) -> list[str]:
    out = ['<g class="attempts">']
    for a in timeline.attempts:
        fill = "#2563eb" if a.above_tp else "#ea580c"
        target = a.controller.address if not a.controller.internal else "SLS"
        out.append(
            f'<circle cx="{x(a.offset_s)}" cy="{lane_y[a.controller.entry]}" r="4" fill="{fill}" '
            f'class="attempt {"above" if a.above_tp else "below"}" data-offset="{a.offset_s:g}" '
            f"data-target={quoteattr(target)}><title>{escape(f'+{_fmt(a.offset_s)} {target}')}"
            "</title></circle>"
        )
    out.append("</g>")
    return out


def _observed(
    observed: Sequence[Observed], lane_y: dict[int, float], by_address: dict[str, int], x: Scale
) -> list[str]:
    if not observed:
        return []
    out = ['<g class="observed">']
    for offset, address, ok in observed:
        entry = by_address.get(address)
        if entry is None:
            continue
        y = lane_y[entry]
        color = "#16a34a" if ok else "#dc2626"
        out.append(
            f'<path d="M {x(offset)} {y - 13} l -4 -7 h 8 z" fill="{color}" class="observed-attempt" '
            f'data-offset="{offset:g}" data-target={quoteattr(address)}/>'
        )
    out.append("</g>")
    return out


LegendItem = tuple[str, str, str, float]  # kind, color, text, x


def _legend_layout(observed: bool) -> list[list[LegendItem]]:
    """Legend entries in rows: a new row when the next label would run past the canvas."""
    items = [
        ("circle", "#2563eb", "attempt above the transition point"),
        ("circle", "#ea580c", "attempt below the transition point"),
        ("line", "#d97706", "primary-search expires"),
        ("line", "#dc2626", "total-search expires → reset"),
        ("line", "#0891b2", "CM's Link Loss Delay Timer expires: calls dropped"),
    ]
    if observed:
        items.append(("tri", "#16a34a", "seen in capture"))
        items.append(("tri", "#dc2626", "seen, breaks a rule"))
    rows: list[list[LegendItem]] = [[]]
    xi = 24.0
    for kind, color, text in items:
        width = 18 + 6.2 * len(text)  # mark + 11 px text at about 6.2 px a character
        if rows[-1] and xi + width > WIDTH - RIGHT:
            rows.append([])
            xi = 24.0
        rows[-1].append((kind, color, text, xi))
        xi += width + 12
    return rows


def _legend(height: float, rows: list[list[LegendItem]]) -> list[str]:
    out = ['<g class="legend">']
    for r, row in enumerate(rows):
        out += _legend_row(height - 24 - LEGEND_ROW * (len(rows) - 1 - r), row)
    out.append("</g>")
    return out


def _legend_row(y: float, row: list[LegendItem]) -> list[str]:
    out = []
    for kind, color, text, xi in row:
        if kind == "circle":
            out.append(f'<circle cx="{xi + 5}" cy="{y - 4}" r="4" fill="{color}"/>')
        elif kind == "line":
            out.append(
                f'<line x1="{xi}" x2="{xi + 12}" y1="{y - 4}" y2="{y - 4}" stroke="{color}" stroke-width="2"/>'
            )
        else:
            out.append(f'<path d="M {xi + 5} {y} l -4 -7 h 8 z" fill="{color}"/>')
        out.append(
            f'<text x="{xi + 18}" y="{y}" font-size="11" fill="#374151">{escape(text)}</text>'
        )
    return out
