"""Ladder (sequence) diagrams of one Call-ID: text for terminals, SVG for reports.

>>> from ecc_doctor.captures.sip.analyze import LadderMsg
>>> msgs = [LadderMsg(1, (1,), 0.0, "10.0.0.1:5060", "10.0.0.2:5060", "UDP", "INVITE", True),
...         LadderMsg(2, (2,), 0.01, "10.0.0.2:5060", "10.0.0.1:5060", "UDP", "100 Trying", False)]
>>> lad = Ladder("x", ["10.0.0.1:5060", "10.0.0.2:5060"], msgs, {})
>>> print("\\n".join(render_text(lad, width=60)))  # doctest: +NORMALIZE_WHITESPACE
frame time      10.0.0.1:5060            10.0.0.2:5060
   f1 0.000     |--------INVITE-------->|
   f2 0.010     |<-----100 Trying-------|
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

from ecc_doctor.captures.records import CaptureNote, SipMessage
from ecc_doctor.captures.sip.analyze import (
    LADDER_MESSAGES,
    OTHER_CALL_IDS_COUNTED,
    LadderMsg,
    SipAnalysis,
    analyze_records,
    ladder_msg,
)
from ecc_doctor.captures.sip.message import ParseFailure, parse
from ecc_doctor.errors import CheckError
from ecc_doctor.models import Finding, Status

MAX_COLUMNS = 8
SVG_MIN_COLUMN = 220  # px between two lifelines at least
SVG_CHAR_W = 7.3  # px a character of the 12 px monospace font takes, about


@dataclass
class Ladder:
    """Endpoints (columns, in order of appearance) and the arrows between them."""

    call_id: str
    endpoints: list[str]
    messages: list[LadderMsg]
    marks: dict[int, list[Finding]] = field(default_factory=dict)  # frame -> findings

    @property
    def worst(self) -> Status:
        return Status.worst([f.severity for fs in self.marks.values() for f in fs])


def call_ids_seen(analysis: SipAnalysis) -> str:
    """The Call-IDs a capture has instead of the one asked for, saying when the list is
    partial: " (5 of 37 Call-IDs seen: a, b, c, d, e)"."""
    named = analysis.other_call_ids
    if not named:  # an analysis made without ladder_call_id keeps ladders of every call
        known = list(analysis.ladders)[:5]
        return f" (Call-IDs seen: {', '.join(known)})" if known else " (no SIP messages)"
    total = analysis.other_call_ids_seen
    if total <= len(named):
        return f" (Call-IDs seen: {', '.join(named)})"
    of = f"{total:,} or more" if total >= OTHER_CALL_IDS_COUNTED else f"{total:,}"
    return f" ({len(named)} of {of} Call-IDs seen: {', '.join(named)})"


def build_ladder(source: SipAnalysis | Iterable[SipMessage | CaptureNote], call_id: str) -> Ladder:
    """The ladder of *call_id* from an analysis (its retained messages) or from records.

    CheckError when the Call-ID is not in the capture (the message names a few that are).
    """
    if isinstance(source, SipAnalysis):
        analysis = source
        messages = list(analysis.ladders.get(call_id, []))
    else:
        records = list(source)
        messages = []
        for rec in records:
            if isinstance(rec, CaptureNote):
                continue
            msg = parse(rec)
            if isinstance(msg, ParseFailure) or msg.call_id != call_id:
                continue
            if len(messages) < LADDER_MESSAGES * 10:
                messages.append(ladder_msg(msg))
        analysis = analyze_records(records)
    if not messages:
        raise CheckError(f"Call-ID {call_id!r} is not in the capture{call_ids_seen(analysis)}")
    endpoints: list[str] = []
    for m in messages:
        for ep in (m.src, m.dst):
            if ep not in endpoints:
                endpoints.append(ep)
    marks: dict[int, list[Finding]] = {}
    frames_here = {f for m in messages for f in m.frames}
    for flow in analysis.flows:
        if flow.call_id != call_id:
            continue
        for finding in flow.findings:
            if finding.severity in (Status.PASS, Status.SKIP):
                continue
            hit = [f for f in finding.frames if f in frames_here]
            if hit and finding.rule == "sip.parse":
                for f in hit:  # a malformation names every message that has it
                    marks.setdefault(f, []).append(finding)
            elif hit:
                # mark the message the finding is about: its last frame named
                marks.setdefault(max(hit), []).append(finding)
    by_frame: dict[int, list[Finding]] = {}
    for m in messages:
        found = [f for fr in m.frames for f in marks.get(fr, [])]
        if found:
            by_frame[m.frame] = found
    return Ladder(call_id, endpoints, messages, by_frame)


def _columns(ladder: Ladder) -> list[str]:
    cols = ladder.endpoints[:MAX_COLUMNS]
    if len(ladder.endpoints) > MAX_COLUMNS:
        cols.append("(others)")
    return cols


def _col(cols: list[str], ep: str) -> int:
    return cols.index(ep) if ep in cols else len(cols) - 1


def render_text(ladder: Ladder, width: int = 100) -> list[str]:
    """Endpoints as columns, one arrow per message with its label; ``<!`` marks findings."""
    cols = _columns(ladder)
    prefix = 16  # "  f123 12.345  "
    span = max(12, (max(width, 40) - prefix - 20) // max(1, len(cols) - 1))
    t0 = ladder.messages[0].ts if ladder.messages else 0.0
    header = "frame time".ljust(prefix)
    for c in cols:
        header += c[: span - 1].ljust(span)
    lines = [header.rstrip()]
    for m in ladder.messages:
        a, b = _col(cols, m.src), _col(cols, m.dst)
        row = [" "] * (span * len(cols) + 1)
        for i in range(len(cols)):
            row[i * span] = "|"
        lo, hi = sorted((a, b))
        start, end = lo * span, hi * span
        label = m.label[: max(1, end - start - 4)]
        if a == b:
            text = f"|<> {label}"
            for i, ch in enumerate(text):
                if start + i < len(row):
                    row[start + i] = ch
        else:
            for i in range(start + 1, end):
                row[i] = "-"
            if a < b:
                row[end - 1] = ">"
            else:
                row[start + 1] = "<"
            mid = start + 1 + max(1, (end - start - 1 - len(label)) // 2)
            for i, ch in enumerate(label):
                if mid + i < end - 1:
                    row[mid + i] = ch
        dt = m.ts - t0
        time_txt = f"{dt:.3f}" if 0 <= dt < 1e6 else "?"
        line = f"{'f' + str(m.frame):>5} {time_txt:<9} " + "".join(row).rstrip()
        found = ladder.marks.get(m.frame)
        if found:
            worst = Status.worst([f.severity for f in found])
            line += f"  <! {worst.value} {found[0].rule}"
        lines.append(line)
    notes: list[str] = []
    seen: list[Finding] = []
    for _, fs in sorted(ladder.marks.items()):
        for f in fs:
            if f not in seen:
                seen.append(f)
                where = ",".join(str(n) for n in f.frames[:8])
                notes.append(f"  f{where}: {f.severity.value} {f.rule}: {f.message}")
    if notes:
        lines.append("")
        lines.append("findings:")
        lines.extend(notes)
    return lines


def _svg_label(m: LadderMsg) -> str:
    """An arrow's text in the SVG: the label, and for a response the CSeq it answers."""
    return m.label + (f"  ({m.cseq})" if m.cseq and not m.is_request else "")


def render_svg(ladder: Ladder) -> str:
    """A self-contained SVG ladder (no scripts, no external references)."""
    cols = _columns(ladder)
    labels = [_svg_label(m) for m in ladder.messages]
    # a column is wide enough for the longest arrow label and endpoint name (monospace,
    # about SVG_CHAR_W px a character at font-size 12), so no label runs past a lifeline
    longest = max([len(x) for x in labels] + [len(c) for c in cols] + [0])
    col_w = max(SVG_MIN_COLUMN, int(longest * SVG_CHAR_W) + 40)
    row_h, top, left = 28, 60, 110
    # and room right of the last lifeline for a finding's mark ("! sip.prack.final-rseq")
    marks = [len(found[0].rule) + 2 for found in ladder.marks.values() if found]
    right = int(max(marks + [0]) * SVG_CHAR_W) + 20
    width = left + col_w * max(1, len(cols)) + max(40, right - col_w // 2)
    height = top + row_h * (len(ladder.messages) + 1) + 20
    t0 = ladder.messages[0].ts if ladder.messages else 0.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="12">',
        f"<title>SIP ladder {escape(ladder.call_id)}</title>",
        '<defs><marker id="arrow" markerWidth="10" markerHeight="10" refX="9" refY="3" '
        'orient="auto"><path d="M0,0 L9,3 L0,6 z" fill="#333"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]

    def x_of(i: int) -> int:
        return left + col_w // 2 + i * col_w

    for i, c in enumerate(cols):
        x = x_of(i)
        out.append(
            f'<text x="{x}" y="30" text-anchor="middle" font-weight="bold">{escape(c)}</text>'
        )
        out.append(
            f'<line x1="{x}" y1="40" x2="{x}" y2="{height - 10}" stroke="#999" '
            'stroke-dasharray="4 3"/>'
        )
    for n, m in enumerate(ladder.messages):
        y = top + n * row_h + row_h // 2
        a, b = x_of(_col(cols, m.src)), x_of(_col(cols, m.dst))
        found = ladder.marks.get(m.frame)
        colour = "#333"
        if found:
            worst = Status.worst([f.severity for f in found])
            colour = "#c00" if worst in (Status.FAIL, Status.ERROR) else "#c80"
        dt = m.ts - t0
        time_txt = f"{dt:.3f}" if 0 <= dt < 1e6 else "?"
        out.append(f'<text x="8" y="{y + 4}" fill="#666">f{m.frame} {time_txt}</text>')
        if a == b:
            out.append(
                f'<path d="M{a},{y - 6} h30 v12 h-30" fill="none" stroke="{colour}" '
                'marker-end="url(#arrow)"/>'
            )
        else:
            out.append(
                f'<line x1="{a}" y1="{y}" x2="{b}" y2="{y}" stroke="{colour}" '
                'stroke-width="1.5" marker-end="url(#arrow)"/>'
            )
        label = escape(labels[n])
        out.append(
            f'<text x="{(a + b) // 2}" y="{y - 5}" text-anchor="middle" fill="{colour}">'
            f"{label}</text>"
        )
        if found:
            tip = escape("; ".join(f"{f.severity.value} {f.rule}: {f.message}" for f in found))
            out.append(
                f'<text x="{max(a, b) + 8}" y="{y + 4}" fill="{colour}">! '
                f"<title>{tip}</title>{escape(found[0].rule)}</text>"
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"
