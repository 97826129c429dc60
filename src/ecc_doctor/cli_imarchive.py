"""``ecc-doctor im-archive parse``: read a Presence IM archive file saved from the SFTP server.

The archive format is not public, so this is how an engineer tries the ``[sftp]`` record paths
on a real sample before trusting ``presence.im-archive``: it shows the root element, the record
count and the first records as the check would extract them. Exit codes: 0 every file read,
1 some file is broken or hostile (as the check would FAIL/WARN it), 2 usage or site-file error.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from ecc_doctor.cli import DEBUG_HELP, OutputConsole, output_may_close, run_guarded
from ecc_doctor.errors import ConfigError
from ecc_doctor.imarchive import ArchiveError, FileSummary, ImRecord, Layout, parse_file

DEFAULT_MAX_XML = 64 * 1024 * 1024
PARSE_SECONDS = 60.0


def _layout(config: Path | None, record_element: str | None) -> tuple[Layout, int]:
    layout, cap = Layout(), DEFAULT_MAX_XML
    if config is not None:
        from ecc_doctor.config import load

        cfg = load(config, require_files=False)
        if cfg.sftp is not None:
            from ecc_doctor.checks.presence_archive import layout_of

            layout, cap = layout_of(cfg.sftp), cfg.sftp.max_xml_bytes
    if record_element:
        layout = Layout(
            record_element, layout.sender_paths, layout.recipient_paths,
            layout.body_paths, layout.timestamp_paths,
        )  # fmt: skip
    return layout, cap


def _record_json(rec: ImRecord) -> dict[str, Any]:
    return {
        "sender": rec.sender,
        "recipients": list(rec.recipients),
        "body": rec.body,
        "timestamp": rec.timestamp.isoformat() if rec.timestamp else rec.raw_timestamp or None,
    }


def _read(path: Path, layout: Layout, cap: int, show: int) -> dict[str, Any]:
    shown: list[ImRecord] = []

    def keep(rec: ImRecord) -> None:
        if len(shown) < show:
            shown.append(rec)

    try:
        summary: FileSummary = parse_file(
            path, path.name, layout, max_xml_bytes=cap,
            deadline=time.monotonic() + PARSE_SECONDS, on_record=keep,
        )  # fmt: skip
    except ArchiveError as exc:
        return {"file": str(path), "ok": False, "kind": exc.kind, "error": exc.message}
    return {
        "file": str(path),
        "ok": True,
        "root": summary.root,
        "records": summary.records,
        "oversize_records": summary.oversize,
        "members": summary.members,
        "record_element": layout.record_element,
        "first_records": [_record_json(r) for r in shown],
    }


def _print(report: dict[str, Any], console: Console) -> None:
    if not report["ok"]:
        kind, error = report["kind"], report["error"]
        # "empty (no XML content)" says its kind already: not "empty: empty (...)"
        label = "" if error.startswith(kind) else f"{kind}: "
        console.print(f"{report['file']}: {label}{error}", markup=False)
        return
    oversize = report["oversize_records"]
    console.print(
        f"{report['file']}: root <{report['root']}>, {report['records']} "
        f"<{report['record_element']}> record{'' if report['records'] == 1 else 's'}"
        + (f" ({oversize} over the per-record cap: counted, not read)" if oversize else ""),
        markup=False,
    )
    if report["first_records"]:
        table = RichTable(title_justify="left")
        for column in ("time", "from", "to", "body"):
            table.add_column(column, overflow="fold")
        for rec in report["first_records"]:
            to = ", ".join(rec["recipients"])
            cells = (rec["timestamp"] or "", rec["sender"], to, rec["body"])
            table.add_row(*(Text(c) for c in cells))  # archive text is data, never markup
        console.print(table)


@click.group("im-archive")
def im_archive() -> None:
    """Presence Services IM archive files (app note 6.2, 8.1, 8.2)."""


@im_archive.command("parse")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    help="Site file: use its [sftp] record paths.",
)
@click.option("--record-element", help="Element that holds one IM (overrides the site file).")
@click.option(
    "--show",
    default=5,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="Records shown per file.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
def parse(
    files: tuple[Path, ...],
    config: Path | None,
    record_element: str | None,
    show: int,
    fmt: str,
    debug: bool,
) -> None:
    """Read FILES (plain XML, zip or gzip) as the check would, and show what it finds."""
    run_guarded(lambda: _parse(files, config, record_element, show, fmt), debug=debug)


def _parse(
    files: tuple[Path, ...], config: Path | None, record_element: str | None, show: int, fmt: str
) -> int:
    try:
        layout, cap = _layout(config, record_element)
    except ConfigError as exc:
        click.echo(f"ecc-doctor: {exc.message}", err=True)
        sys.exit(2)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        click.echo(f"ecc-doctor: no such file: {missing[0]}", err=True)
        sys.exit(2)
    reports = [_read(f, layout, cap, show) for f in files]
    with output_may_close():  # a reader that stops early does not change the exit code
        if fmt == "json":
            click.echo(json.dumps(reports, indent=2))
        else:
            console = OutputConsole(width=None if sys.stdout.isatty() else 160)
            for report in reports:
                _print(report, console)
    return 0 if all(r["ok"] for r in reports) else 1
