"""``ecc-doctor analyze`` (SIP REGISTER/PRACK and H.248 verdicts from captures) and
``ecc-doctor ladder`` (a Call-ID's sequence diagram)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ecc_doctor.captures.flows import Flow
from ecc_doctor.cli import fail, run_guarded
from ecc_doctor.errors import CaptureError, CheckError, ConfigError
from ecc_doctor.exitcodes import ExitCode
from ecc_doctor.models import Finding, Result, Status

SIP_RULES = ("register", "prack")
ALL_RULES = (*SIP_RULES, "mgc")
ENGINES = ("scapy", "tshark")
BIG_FILE = 5 * 1024 * 1024


def _parse_rules(text: str) -> tuple[str, ...]:
    rules = tuple(r.strip().lower() for r in text.split(",") if r.strip())
    unknown = [r for r in rules if r not in ALL_RULES]
    if not rules or unknown:
        raise ConfigError(
            f"--rules: unknown rule(s) {', '.join(unknown) or '(none)'} (known: {', '.join(ALL_RULES)})"
        )
    return rules


def _parse_ports(text: str) -> tuple[int, ...]:
    ports = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 0 < int(part) < 65536:
            raise ConfigError(f"--ports: expected port numbers like 5060,5061, got {text!r}")
        ports.append(int(part))
    return tuple(ports)


@contextmanager
def _progress(path: Path) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr for big files when stderr is a terminal."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    if not sys.stderr.isatty() or size < BIG_FILE:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(path.name, total=size)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or size)

        yield update


def _mgc_flows(
    path: Path, engine: str, config_path: Path | None, gateway_text: Path | None
) -> list[Flow]:
    try:
        import ecc_doctor.captures.mgc as mgc_pkg

        fn: Any = getattr(mgc_pkg, "analyze_file", None)
        if fn is None:
            from ecc_doctor.captures.mgc import analyze as mgc_analyze

            fn = mgc_analyze.analyze_file
    except ImportError as exc:
        raise ConfigError(f"--rules mgc is not available in this build: {exc}") from exc
    flows: list[Flow] = fn(path, engine=engine, config_path=config_path, gateway_text=gateway_text)
    return flows


class _FileReport:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.flows: list[Flow] = []
        self.notes: list[Finding] = []
        self.info: dict[str, Any] = {}


def _analyze_all(
    files: Sequence[Path],
    rules: tuple[str, ...],
    engine: str,
    ports: tuple[int, ...],
    passwords: dict[str, str] | None,
    config_path: Path | None,
    gateway_text: Path | None,
) -> list[_FileReport]:
    from ecc_doctor.captures.sip.analyze import analyze_file

    reports = []
    sip_rules = tuple(r for r in rules if r in SIP_RULES)
    for path in files:
        rep = _FileReport(path)
        if sip_rules:
            with _progress(path) as progress:
                analysis = analyze_file(
                    path,
                    engine=engine,
                    rules=sip_rules,
                    ports=ports,
                    passwords=passwords,
                    progress=progress,
                )
            rep.flows.extend(analysis.flows)
            rep.notes.extend(analysis.notes)
            rep.info = {
                "messages": analysis.messages,
                "duplicates_ignored": analysis.duplicates,
                "unparsed": analysis.unparsed,
                "flows_total": analysis.flows_total,
                "flows_not_listed": analysis.flows_not_listed,
            }
        if "mgc" in rules:
            rep.flows.extend(_mgc_flows(path, engine, config_path, gateway_text))
        reports.append(rep)
    return reports


def _results(reports: Sequence[_FileReport]) -> list[Result]:
    from ecc_doctor.captures.sip.report import flow_result

    out = []
    for rep in reports:
        for flow in rep.flows:
            out.append(flow_result(flow, file=rep.path.name))
        if not rep.flows:
            out.append(
                Result(
                    f"capture:{rep.path.name}",
                    Status.SKIP,
                    f"{rep.path.name}: no flows for the selected rules",
                )
            )
    return out


def _json(reports: Sequence[_FileReport], status: Status) -> str:
    flows = []
    files = []
    for rep in reports:
        for flow in rep.flows:
            flows.append({"file": str(rep.path), **flow.to_dict()})
        files.append(
            {
                "file": str(rep.path),
                **rep.info,
                "flows": len(rep.flows),
                "notes": [n.to_dict() for n in rep.notes],
            }
        )
    doc = {
        "schema": "ecc-doctor/analyze",
        "schema_version": 1,
        "status": status.value,
        "files": files,
        "flows": flows,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _table(reports: Sequence[_FileReport], verbose: bool) -> list[str]:
    from ecc_doctor.captures.sip.report import finding_line, flow_lines

    lines: list[str] = []
    for rep in reports:
        info = rep.info
        head = f"{rep.path}"
        if info:
            head += f": {info.get('messages', 0)} SIP messages, {len(rep.flows)} flows"
        lines.append(head)
        for flow in rep.flows:
            lines.extend("  " + x for x in flow_lines(flow, verbose=verbose))
        if info.get("flows_not_listed"):
            lines.append(f"  ... {info['flows_not_listed']} more passing flows not listed")
        for note in rep.notes:
            if verbose or note.severity not in (Status.PASS, Status.SKIP):
                lines.append(f"  note: {finding_line(note)}")
        if not rep.flows:
            lines.append("  no REGISTER or INVITE flows found")
    all_flows = [f for r in reports for f in r.flows]
    counts = {s: sum(1 for f in all_flows if f.status == s) for s in Status}
    lines.append(
        f"{len(all_flows)} flows: " + ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        if all_flows
        else "0 flows"
    )
    return lines


def _check_files(files: Sequence[Path]) -> None:
    for f in files:
        if not f.exists():
            raise ConfigError(f"{f}: no such file")
        if not f.is_file():
            raise ConfigError(f"{f}: not a file")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--rules",
    default="register,prack",
    show_default=True,
    help="Comma list: register, prack, mgc.",
)
@click.option(
    "--password-file",
    type=click.Path(path_type=Path),
    help="user:password lines: verify digest responses (passwords are never printed).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "junit"]),
    default="table",
    show_default=True,
    help="What to print on stdout.",
)
@click.option(
    "--junit", "junit_path", type=click.Path(path_type=Path), help="Also write JUnit XML."
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write JSON.")
@click.option("--engine", type=click.Choice(ENGINES), default="scapy", show_default=True)
@click.option("--ports", default="5060,5061", show_default=True, help="SIP ports (comma list).")
@click.option(
    "--gateway-text",
    type=click.Path(path_type=Path),
    help="(mgc) saved 'show mgc' / 'show recovery' output of the gateway.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="(mgc) site file with the [mgc] section.",
)
@click.option("-v", "--verbose", is_flag=True, help="Also show passing findings and notes.")
@click.option("--debug", is_flag=True, help="Show a traceback on internal errors.")
def analyze(
    files: tuple[Path, ...],
    rules: str,
    password_file: Path | None,
    fmt: str,
    junit_path: Path | None,
    json_path: Path | None,
    engine: str,
    ports: str,
    gateway_text: Path | None,
    config_path: Path | None,
    verbose: bool,
    debug: bool,
) -> None:
    """Analyze SIP (REGISTER/401, 100rel/PRACK) and H.248 flows in capture FILEs.

    Prints a verdict per flow. Exit codes: 0 all PASS/WARN/SKIP, 1 some FAIL/ERROR,
    2 usage error (missing file, not a capture, bad option).
    """

    def body() -> int:
        rule_set = _parse_rules(rules)
        port_set = _parse_ports(ports)
        _check_files(files)
        passwords = None
        if password_file is not None:
            from ecc_doctor.captures.sip.digest import load_passwords

            passwords = load_passwords(password_file)
        try:
            reports = _analyze_all(
                files, rule_set, engine, port_set, passwords, config_path, gateway_text
            )
        except CaptureError as exc:
            fail(exc.message, ExitCode.USAGE)
        flows = [f for r in reports for f in r.flows]
        status = Status.worst([f.status for f in flows])
        if fmt == "json":
            click.echo(_json(reports, status), nl=False)
        elif fmt == "junit":
            from ecc_doctor.reporters import junit

            click.echo(junit.render(_results(reports), site="analyze"), nl=False)
        else:
            for line in _table(reports, verbose):
                click.echo(line)
        if json_path is not None:
            json_path.write_text(_json(reports, status), encoding="utf-8")
        if junit_path is not None:
            from ecc_doctor.reporters import junit

            junit_path.write_text(junit.render(_results(reports), site="analyze"), encoding="utf-8")
        if status in (Status.FAIL, Status.ERROR):
            return int(ExitCode.CHECKS_FAILED)
        return int(ExitCode.OK)

    run_guarded(body, debug=debug)


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--call-id", "call_id", required=True, help="The Call-ID to draw.")
@click.option("--svg", "svg_path", type=click.Path(path_type=Path), help="Also write an SVG.")
@click.option("--engine", type=click.Choice(ENGINES), default="scapy", show_default=True)
@click.option("--ports", default="5060,5061", show_default=True, help="SIP ports (comma list).")
@click.option("--width", type=int, default=0, help="Text width (default: the terminal's).")
@click.option("--debug", is_flag=True, help="Show a traceback on internal errors.")
def ladder(
    file: Path,
    call_id: str,
    svg_path: Path | None,
    engine: str,
    ports: str,
    width: int,
    debug: bool,
) -> None:
    """Draw the ladder diagram of one Call-ID in a capture FILE (findings marked)."""

    def body() -> int:
        from ecc_doctor.captures.sip.analyze import analyze_file
        from ecc_doctor.captures.sip.ladder import build_ladder, render_svg, render_text

        port_set = _parse_ports(ports)
        _check_files([file])
        try:
            analysis = analyze_file(file, engine=engine, ports=port_set)
            lad = build_ladder(analysis, call_id)
        except (CaptureError, CheckError) as exc:
            fail(exc.message, ExitCode.USAGE)
        cols = width or shutil.get_terminal_size((100, 24)).columns
        for line in render_text(lad, width=cols):
            click.echo(line)
        if svg_path is not None:
            svg_path.write_text(render_svg(lad), encoding="utf-8")
        return int(ExitCode.OK)

    run_guarded(body, debug=debug)
