"""Console table: one row per result, a summary line; colours only on a colour terminal.

rich honours ``NO_COLOR`` and writes no escape codes when the output is not a terminal.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime

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


def heading(site: str, source: str, when: datetime | None = None) -> str:
    """The line above the table that makes it a record: tool and version, site, when (UTC)
    and which site file, e.g. ``ecc-doctor 0.1.0 · ACME HQ · 2026-11-21 17:29 UTC · site.toml``."""
    from ecc_doctor import __version__

    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"ecc-doctor {__version__}", site or "(no site name)", stamp, source]
    return terminal_text(" · ".join(p for p in parts if p))


def not_verified(results: Sequence[Result]) -> str:
    """``not verified (SKIP): a, b`` when some, not all, checks SKIPped; "" otherwise."""
    skipped = [r.check_id for r in results if r.status is Status.SKIP]
    if not skipped or len(skipped) == len(results):
        return ""
    return "not verified (SKIP): " + ", ".join(terminal_text(i) for i in skipped)


def write(
    console: Console,
    results: Sequence[Result],
    *,
    wall_s: float | None = None,
    verbose: bool = False,
    head: str = "",
) -> None:
    """Print *head* (see :func:`heading`), the table and the summary line (and which checks
    were not verified); with *verbose*, details and evidence too."""
    if head:
        console.print(head, markup=False, highlight=False, soft_wrap=True)
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
    skipped = not_verified(results)
    if skipped:
        console.print(skipped, markup=False, highlight=False, soft_wrap=True)


def render(results: Sequence[Result], *, width: int = 100, verbose: bool = False) -> str:
    """The table as plain text (no colour), e.g. for files and golden tests."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False)
    write(console, results, verbose=verbose)
    return buf.getvalue()
