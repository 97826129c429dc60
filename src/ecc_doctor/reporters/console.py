"""Console table: one row per result, a summary line; colours only on a colour terminal.

rich honours ``NO_COLOR`` and writes no escape codes when the output is not a terminal.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.reporters.json_report import counts
from ecc_doctor.secrets import redact
from ecc_doctor.textsafe import terminal_text

STYLES = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "bold magenta",
    Status.SKIP: "dim",
}


def status_text(status: Status) -> Text:
    """``✓ PASS`` etc., coloured; the symbol keeps it readable without colour."""
    return Text(f"{status.symbol} {status.value}", style=STYLES[status])


def summary_line(results: Sequence[Result], wall_s: float | None = None) -> str:
    """``7 checks: 5 PASS, 1 WARN, 1 SKIP in 2.3 s`` (``1 check: 1 PASS`` for one)."""
    c = counts(results)
    parts = [f"{c[s.value]} {s.value}" for s in Status if c[s.value]]
    noun = "check" if len(results) == 1 else "checks"
    line = f"{len(results)} {noun}: " + (", ".join(parts) if parts else "none")
    if wall_s is not None:
        line += f" in {wall_s:.1f} s"
    return line


def table(results: Sequence[Result]) -> Table:
    t = Table(show_edge=False, pad_edge=False, expand=False, header_style="bold")
    t.add_column("status", no_wrap=True)
    t.add_column("check", no_wrap=True)
    t.add_column("time", justify="right", no_wrap=True)
    t.add_column("summary", overflow="fold")
    for r in results:
        # Text, not str: summaries like "no [sftp] section" must not be read as markup
        # terminal_text: a plugin's or a remote system's text cannot drive the terminal
        t.add_row(
            status_text(r.status),
            Text(terminal_text(r.check_id)),
            f"{r.duration_s:.2f}s",
            Text(terminal_text(redact(r.summary))),
        )
    return t


def _evidence(ev: Evidence) -> list[str]:
    if ev.kind == "table":
        rows = [ev.columns, *ev.rows]
        return ["  " + " | ".join(r) for r in rows]
    return ["  " + line for line in ev.lines]


def write(
    console: Console,
    results: Sequence[Result],
    *,
    wall_s: float | None = None,
    verbose: bool = False,
) -> None:
    """Print the table and the summary line; with *verbose*, details and evidence too."""
    console.print(table(results))
    if verbose:
        for r in results:
            extra = [*r.details]
            for ev in r.evidence:
                extra += [f"[{ev.kind}] {ev.title}", *_evidence(ev)]
            if extra:
                console.rule(Text(f"{terminal_text(r.check_id)} ({r.status.value})"))
                for line in extra:
                    console.print(terminal_text(redact(line)), markup=False, highlight=False)
    console.print(summary_line(results, wall_s), markup=False, highlight=False)


def render(results: Sequence[Result], *, width: int = 100, verbose: bool = False) -> str:
    """The table as plain text (no colour), e.g. for files and golden tests."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False)
    write(console, results, verbose=verbose)
    return buf.getvalue()
