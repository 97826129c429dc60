"""``ecc-doctor sat``: read CM SAT output (screens or OSSI) that an engineer saved or pasted."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.table import Table as RichTable
from rich.text import Text

from ecc_doctor.cli import DEBUG_HELP, OutputConsole, output_may_close, run_guarded
from ecc_doctor.errors import EccDoctorError, ProtocolError
from ecc_doctor.probes import sat_ossi
from ecc_doctor.probes.sat_records import Screen, Table, UnknownFieldIds, raw_tables
from ecc_doctor.probes.sat_screens import parse_text, recognise
from ecc_doctor.textsafe import terminal_text

MAX_INPUT = 5 * 1024 * 1024


def _fail(message: str) -> NoReturn:
    click.echo(f"ecc-doctor: {' '.join(message.split())}", err=True)
    sys.exit(2)


def _read(source: str) -> str:
    if source == "-":
        data = sys.stdin.buffer.read(MAX_INPUT + 1)
    else:
        with Path(source).open("rb") as fh:
            data = fh.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise ProtocolError(
            f"input is larger than {MAX_INPUT // 1024 // 1024} MiB: not a SAT screen"
        )
    return data.decode("utf-8", errors="replace")


def _fields(config_path: Path | None) -> dict[str, dict[str, str]] | None:
    if config_path is None:
        return None
    from ecc_doctor.config import load

    cfg = load(config_path, require_files=False)
    return sat_ossi.field_map(cfg.cm.ossi_fields if cfg.cm else None)


def _as_json(screen: Screen) -> dict[str, Any]:
    return {
        "command": screen.command,
        "tables": [{"title": t.title, "records": t.records()} for t in screen.tables()],
    }


def _print_tables(screen: Screen) -> None:
    _print(screen.command, screen.tables())


def _print(command: str, tables: list[Table]) -> None:
    # piped output (reports, tests) is not cut at 80 columns; a terminal keeps its width
    console = OutputConsole(width=None if sys.stdout.isatty() else 160)
    for t in tables:
        heading = command if t.title in ("", command) else f"{command}: {t.title}"
        heading = terminal_text(heading)
        # as wide as the heading: rich wraps a title to the table's width (QA 3a F5)
        table = RichTable(title=Text(heading), title_justify="left", min_width=len(heading))
        for column in t.columns:
            # Text, not str: pasted text is shown, never read as markup or terminal codes
            table.add_column(Text(terminal_text(column)), overflow="fold")  # wrap, never cut
        for row in t.rows:
            table.add_row(*(Text(terminal_text(cell)) for cell in row))
        console.print(table)


@click.group("sat")
def sat() -> None:
    """Communication Manager SAT: read saved screens and OSSI output."""


@sat.command("parse")
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table per screen section, or JSON records",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Site file whose [cm.ossi_fields] map this CM's OSSI field IDs",
)
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
def parse(source: str, fmt: str, config_path: Path | None, debug: bool) -> None:
    """Recognise and parse SAT output: status aesvcs cti-link, display cti-link N,
    display system-parameters customer-options / features, display ip-services.

    Reads screen text (VT220 escapes, page marks and prompts are fine) or OSSI
    c/f/d/n/e/t output from FILE or standard input. Passwords are never shown.
    """
    run_guarded(lambda: _parse(source, fmt, config_path), debug=debug)


def _raw(text: str, fields: dict[str, dict[str, str]] | None, problem: str, fmt: str) -> int:
    """OSSI output whose field IDs ecc-doctor does not know: the records as they came, and
    how to teach ecc-doctor this CM's IDs (PROTOCOLS.md 4.2: compare with the vt220 screen)."""
    command = recognise(text)
    tables = raw_tables(command, sat_ossi.parse_ossi(text.splitlines()), fields)
    hint = (
        f"hint: {problem.split(';')[0]}. Below are the records as CM sent them: compare them "
        f"with the vt220 screen of '{command}' and set [cm.ossi_fields.\"{command}\"] "
        '"<label>" = "<field ID>" in the site file (then use --config)'
    )
    click.echo(" ".join(hint.split()), err=True)
    with output_may_close():
        if fmt == "json":
            data = {
                "command": command,
                "raw": True,
                "tables": [{"title": t.title, "records": t.records()} for t in tables],
            }
            click.echo(json.dumps(data, indent=2))
        else:
            _print(f"{command} (raw OSSI)", tables)
    return 0


def _parse(source: str, fmt: str, config_path: Path | None) -> int:
    try:
        text = _read(source)
        fields = _fields(config_path)
        try:
            screen = parse_text(text, fields)
        except UnknownFieldIds as exc:
            return _raw(text, fields, exc.message, fmt)
    except EccDoctorError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"{source}: {exc.strerror or exc}")
    with output_may_close():
        if fmt == "json":
            click.echo(json.dumps(_as_json(screen), indent=2))
        else:
            _print_tables(screen)
    return 0
