"""``ecc-doctor analyze`` (SIP REGISTER/PRACK and H.248 verdicts from captures) and
``ecc-doctor ladder`` (a Call-ID's sequence diagram)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ecc_doctor import cancel
from ecc_doctor.captures.flows import Flow
from ecc_doctor.cli import (
    check_outputs,
    check_writable,
    fail,
    run_guarded,
    write_report,
)
from ecc_doctor.errors import CaptureError, CheckError, ConfigError
from ecc_doctor.exitcodes import ExitCode
from ecc_doctor.models import Finding, Result, Status
from ecc_doctor.textsafe import json_document as json_document_text
from ecc_doctor.textsafe import terminal_text

if TYPE_CHECKING:
    pass

SIP_RULES = ("register", "prack")
ALL_RULES = (*SIP_RULES, "mgc")
ENGINES = ("scapy", "tshark")
BIG_FILE = 5 * 1024 * 1024
#: Default wall-clock limit per capture file (seconds); --time-limit 0 turns it off.
TIME_LIMIT = 1800.0


def _parse_rules(text: str) -> tuple[str, ...]:
    rules = tuple(r.strip().lower() for r in text.split(",") if r.strip())
    unknown = [r for r in rules if r not in ALL_RULES]
    if not rules or unknown:
        raise ConfigError(
            f"--rules: unknown rule(s) {', '.join(unknown) or '(none)'} (known: {', '.join(ALL_RULES)})"
        )
    return rules


def _parse_jobs(text: str) -> int | str:
    value = text.strip().lower()
    if value == "auto":
        return value
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise ConfigError(
            f"--jobs: expected a number of processes (1, 2, ...) or auto, got {text!r}"
        )
    return int(value)


def _parse_ports(text: str) -> tuple[int, ...]:
    ports = []
    for part in text.split(","):
        part = part.strip()
        if not (part.isascii() and part.isdigit()) or not 0 < int(part) < 65536:
            raise ConfigError(f"--ports: expected port numbers like 5060,5061, got {text!r}")
        ports.append(int(part))
    return tuple(ports)


def _rules_for(
    rules: str | None, gateway_text: Path | None, config_path: Path | None
) -> tuple[str, ...]:
    """--rules, or the default: register,prack plus mgc when an H.248 input is given
    (--gateway-text, or --config with an [mgc] section). The H.248 options with rules that
    leave mgc out are a usage error, not silently ignored."""
    mgc_inputs = [
        name
        for name, value in (("--gateway-text", gateway_text), ("--config", config_path))
        if value is not None
    ]
    if rules is not None:
        rule_set = _parse_rules(rules)
        if mgc_inputs and "mgc" not in rule_set:
            raise ConfigError(
                f"{' and '.join(mgc_inputs)} apply to --rules mgc only "
                f"(add it: --rules {','.join(rule_set)},mgc)"
            )
        return rule_set
    if gateway_text is None and config_path is not None and not _has_mgc_section(config_path):
        raise ConfigError(
            f"--config {config_path}: no [mgc] section (--config applies to --rules mgc only)"
        )
    return (*SIP_RULES, "mgc") if mgc_inputs else SIP_RULES


def _has_mgc_section(config_path: Path) -> bool:
    """True also when the file cannot be read: the mgc analysis then names the problem."""
    try:
        return "mgc" in tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True


def _stdout_gone() -> None:
    """stdout was closed by the reader (``| head``): print nothing more, quietly.

    Later writes and the flush at exit go to /dev/null instead of raising again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a real file descriptor (tests)
        pass


def _echo_lines(lines: Iterator[str] | Sequence[str], text: str = "") -> None:
    """Print *text* (a JSON or XML document, made safe by its writer) or *lines* (shown
    through terminal_text: a capture's bytes cannot drive the terminal); quietly stop when
    the reader has gone away."""
    try:
        if text:
            click.echo(text, nl=False)
        for line in lines:
            click.echo(terminal_text(line))
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """A cancel scope stopped after *seconds* (0: never): the capture reader and tshark end
    their work with WorkStopped, as they do when a check times out."""
    with cancel.scope() as stop:
        timer = threading.Timer(seconds, stop.set) if seconds > 0 else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()


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
        #: the SIP flows beyond the listing caps, by status value
        self.not_listed: dict[str, int] = {}
        #: why the file could not be analyzed (then the file is an ERROR)
        self.error: str | None = None
        #: the file is not a capture at all (rather than: analysis stopped)
        self.unreadable = False
        #: wall seconds the file took (its JUnit testcase's time)
        self.seconds = 0.0

    def counts(self) -> dict[str, int]:
        """Every flow by ``<kind>.<status>``: the SIP analysis's own counts (listed or not)
        plus the mgc flows, which it does not see."""
        counts = dict(self.info.get("counts", {}))
        for flow in self.flows:
            if flow.kind not in SIP_FLOW_KINDS:
                key = f"{flow.kind}.{flow.status.value}"
                counts[key] = counts.get(key, 0) + 1
        return counts

    def flows_total(self) -> int:
        """Every flow, listed or not, SIP and mgc."""
        return sum(self.counts().values())

    def status_counts(self) -> dict[Status, int]:
        """Every flow by status, the listed and the unlisted ones."""
        counts = dict.fromkeys(Status, 0)
        for flow in self.flows:
            counts[flow.status] += 1
        for value, n in self.not_listed.items():
            counts[Status(value)] += n
        return counts

    @property
    def status(self) -> Status:
        """ERROR when the file was not analyzed; else the worst flow verdict or WARN-or-worse
        note (a damaged capture, messages that could not be parsed: a WARN note makes the file
        WARN, as a WARN flow does). SKIP and PASS notes (information) do not count. SKIP
        when there is nothing to judge: no flow and no such note (as its JUnit testcase)."""
        if self.error is not None:
            return Status.ERROR
        found = [s for s, n in self.status_counts().items() if n] + [
            n.severity for n in self.worse_notes
        ]
        return Status.worst(found) if found else Status.SKIP

    @property
    def worse_notes(self) -> list[Finding]:
        """The notes that count for the file's status (WARN or worse)."""
        return [n for n in self.notes if n.severity.severity >= Status.WARN.severity]


def _analyze_all(
    files: Sequence[Path],
    rules: tuple[str, ...],
    engine: str,
    ports: tuple[int, ...],
    passwords: dict[str, str] | None,
    config_path: Path | None,
    gateway_text: Path | None,
    time_limit: float = 0.0,
    jobs: int | str = 1,
    mgc_implicit: bool = False,
) -> list[_FileReport]:
    """Each file on its own: one that cannot be read (or runs past *time_limit*) is an ERROR
    of its own, and the others are still analyzed. *mgc_implicit*: the mgc rules were added
    by --config/--gateway-text, not named in --rules (see :func:`_mgc_skipped`)."""
    reports = []
    for path in files:
        rep = _FileReport(path)
        started = time.monotonic()
        try:
            with _time_limit(time_limit):
                _analyze_one(
                    rep,
                    rules,
                    engine,
                    ports,
                    passwords,
                    config_path,
                    gateway_text,
                    jobs,
                    mgc_implicit,
                )
        except CaptureError as exc:
            rep.error, rep.unreadable = exc.message, True
        except cancel.WorkStopped:
            rep.error = f"{path}: analysis stopped after {time_limit:g} s (--time-limit)"
        rep.seconds = time.monotonic() - started
        reports.append(rep)
    return reports


def _analyze_one(
    rep: _FileReport,
    rules: tuple[str, ...],
    engine: str,
    ports: tuple[int, ...],
    passwords: dict[str, str] | None,
    config_path: Path | None,
    gateway_text: Path | None,
    jobs: int | str = 1,
    mgc_implicit: bool = False,
) -> None:
    from ecc_doctor.captures.sip.analyze import analyze_file

    path = rep.path
    sip_rules = tuple(r for r in rules if r in SIP_RULES)
    if sip_rules:
        with _progress(path) as progress:
            analysis = analyze_file(
                path,
                engine=engine,
                rules=sip_rules,
                ports=ports,
                passwords=passwords,
                progress=progress,
                jobs=jobs,
                ladders=False,  # the report shows no ladders (`ecc-doctor ladder` draws them)
            )
        rep.flows.extend(analysis.flows)
        rep.notes.extend(analysis.notes)
        rep.not_listed = dict(analysis.not_listed)
        rep.info = {
            "messages": analysis.messages,
            "duplicates_ignored": analysis.duplicates,
            "unparsed": analysis.unparsed,
            "flows_total": analysis.flows_total,
            "flows_not_listed": analysis.flows_not_listed,
            "not_listed": dict(analysis.not_listed),
            "counts": dict(analysis.counts),
        }
        if not analysis.messages:
            _raise_if_no_frame(path, analysis.notes)
    if "mgc" in rules:
        flows = _mgc_flows(path, engine, config_path, gateway_text)
        skipped = _mgc_skipped(flows) if mgc_implicit else None
        if skipped is None:
            rep.flows.extend(flows)
        else:
            rep.notes.append(skipped)


#: the kinds of flow the SIP analysis makes (its flows_total counts them)
SIP_FLOW_KINDS = frozenset({"register", "invite"})

#: the notes that end the reading of a capture before its end
_STOPPED_READING = ("capture.corrupt", "capture.truncated")


def _raise_if_no_frame(path: Path, notes: Sequence[Finding]) -> None:
    """CaptureError (the file is an ERROR, as one that is not a capture) when the reading
    stopped on a damaged or cut record before a single frame could be read: a capture whose
    first record is corrupt is no capture to judge, not a clean one.

    A file with its frames read and no SIP in them, or with a frame or more before the
    damage, is analyzed as usual (its capture.* note makes it WARN). Whether any frame can
    be read is asked of the built-in reader (whatever the engine), up to its first record.
    """
    stop = next((n for n in notes if n.rule in _STOPPED_READING), None)
    if stop is None:
        return
    from ecc_doctor.captures.pcapfile import open_capture

    try:
        with contextlib.closing(open_capture(path)) as records:  # closed when left early
            for rec in records:
                if type(rec) is tuple:
                    return  # a frame was read: the file is analyzed, WARN for the note
    except CaptureError:
        return  # a format only the other engine reads: leave it to the note
    why = stop.message.partition("; ")[0]  # not "frames before it were read"
    raise CaptureError(
        f"{path}: no frame could be read ({why}): the file is damaged from its start; "
        "check how it was written or copied"
    )


def _mgc_skipped(flows: Sequence[Flow]) -> Finding | None:
    """With the mgc rules added by --config/--gateway-text (not named in --rules), a file
    without any H.248 traffic (say a SIP capture analyzed together with a gateway's) is not
    an ERROR for mgc: a SKIP note says so. None when there was H.248 traffic to judge."""
    if not flows or not all(
        any(f.rule == "mgc.no-traffic" for f in flow.findings) for flow in flows
    ):
        return None
    return Finding(
        "mgc.no-traffic",
        Status.SKIP,
        f"mgc rules skipped: {flows[0].summary.partition('; ')[0]} "
        "(name --rules mgc to make this an ERROR)",
    )


def _results(reports: Sequence[_FileReport]) -> list[Result]:
    """A Result (a JUnit testcase) per listed flow, named ``<check>:<flow key> [<FILE>]``,
    and one per FILE, ``capture.file:<FILE>``, when it is an ERROR, when its notes make it
    WARN, or when it has no flows (SKIP). FILE is the path as given: the names are unique
    per file, and the JUnit classname (the id up to its first dot) is the area, "sip",
    "mgc" or "capture", never a part of the file name."""
    from ecc_doctor.captures.sip.report import finding_line, flow_result

    out = []
    for rep in reports:
        where = str(rep.path)
        file_id = f"capture.file:{where}"
        took = round(rep.seconds, 3)
        if rep.error is not None:
            out.append(Result(file_id, Status.ERROR, rep.error, duration_s=took))
            continue
        for flow in rep.flows:
            result = flow_result(flow, file=rep.path.name)
            out.append(result.replace(check_id=f"{result.check_id} [{where}]"))
        # the flows beyond the listing caps: a case per status, so a FAIL among them is a
        # <failure> (its message says how many flows the case stands for)
        for value, n in sorted(rep.not_listed.items(), key=lambda i: -Status(i[0]).severity):
            out.append(
                Result(
                    f"capture.not-listed:{value} [{where}]",
                    Status(value),
                    f"{where}: {n:,} more {value} {_plural(n, 'flow')}, counted but not listed "
                    "(the listing caps)",
                )
            )
        notes = rep.worse_notes
        total = rep.flows_total()
        if notes:
            worst = Status.worst([n.severity for n in notes])
            summary = (
                f"{where}: {_count(len(notes), 'note')} about the capture, first: "
                f"{notes[0].message}"
            )
            out.append(
                Result(
                    file_id,
                    worst,
                    summary,
                    details=tuple(finding_line(n) for n in notes),
                    duration_s=took,
                )
            )
        elif not total:
            out.append(
                Result(
                    file_id,
                    Status.SKIP,
                    f"{where}: no flows for the selected rules",
                    duration_s=took,
                )
            )
        else:  # the file was read and judged: its case carries the time it took
            messages = rep.info.get("messages")
            read = f"{_count(messages, 'SIP message')}, " if messages is not None else ""
            out.append(
                Result(
                    file_id,
                    Status.PASS,
                    f"{where}: read and analyzed: {read}{_count(total, 'flow')}",
                    duration_s=took,
                )
            )
    return out


def overall(reports: Sequence[_FileReport]) -> Status:
    """The worst file status; a file with nothing to judge (SKIP) does not hide another's
    PASS, and all SKIP is SKIP."""
    judged = [r.status for r in reports if r.status is not Status.SKIP]
    return Status.worst(judged) if judged else Status.SKIP


#: what a file entry of the JSON holds when the SIP analysis did not run (mgc rules only, or
#: the file could not be read): every key is always there
_NO_SIP_INFO: dict[str, Any] = {
    "messages": 0,
    "duplicates_ignored": 0,
    "unparsed": 0,
    "flows_not_listed": 0,
    "not_listed": {},
}


def exit_code_of(status: Status) -> int:
    return int(ExitCode.CHECKS_FAILED if status in (Status.FAIL, Status.ERROR) else ExitCode.OK)


def json_document(reports: Sequence[_FileReport], status: Status) -> dict[str, Any]:
    """The ``ecc-doctor/analyze`` document (docs/REPORTS.md). No timestamp on purpose: the
    same captures give the same document, so two runs (or --jobs 1 and 2) can be diffed."""
    from ecc_doctor import __version__

    flows = []
    files = []
    by_file = dict.fromkeys((s.value for s in Status), 0)
    by_flow = dict.fromkeys((s.value for s in Status), 0)
    for rep in reports:
        for flow in rep.flows:
            flows.append({"file": str(rep.path), **flow.to_dict()})
        entry: dict[str, Any] = {"file": str(rep.path), "status": rep.status.value}
        if rep.error is not None:
            entry["error"] = rep.error
        entry.update(_NO_SIP_INFO)
        entry.update({k: v for k, v in rep.info.items() if k not in ("counts", "flows_total")})
        counts = rep.counts()
        entry["flows_total"] = sum(counts.values())
        entry["counts"] = counts
        entry["flows"] = len(rep.flows)  # listed in "flows" below
        entry["notes"] = [n.to_dict() for n in rep.notes]
        files.append(entry)
        by_file[rep.status.value] += 1
        for key, n in counts.items():
            by_flow[key.rpartition(".")[2]] += n
    return {
        "schema": "ecc-doctor/analyze",
        "schema_version": 1,
        "tool": {"name": "ecc-doctor", "version": __version__},
        "status": status.value,
        "summary": {
            "files": {"total": len(reports), **by_file},
            "flows": {"total": sum(by_flow.values()), **by_flow},
            "exit_code": exit_code_of(status),
        },
        "files": files,
        "flows": flows,
    }


def analyze_json(captures: Sequence[tuple[Path, Sequence[Flow]]]) -> str:
    """The ``ecc-doctor/analyze`` document for flows judged elsewhere (``mgc analyze``):
    one file entry per capture, its status the worst of its flows."""
    reports = []
    for path, flows in captures:
        rep = _FileReport(path)
        rep.flows.extend(flows)
        reports.append(rep)
    return _json(reports, overall(reports))


def _json(reports: Sequence[_FileReport], status: Status) -> str:
    # a flow per line: a big capture lists up to 25,000 flows (textsafe.json_document)
    return json_document_text(json_document(reports, status), one_per_line=("flows",))


def _table(reports: Sequence[_FileReport], verbose: bool) -> list[str]:
    from ecc_doctor.captures.sip.report import finding_line, flow_lines

    lines: list[str] = []
    totals = dict.fromkeys(Status, 0)
    errors = 0
    by_notes: Counter[str] = Counter()  # files with WARN (or worse) notes, by worst severity
    for rep in reports:
        if rep.error is not None:
            errors += 1
            # the reader's messages start with the path already: name it once
            reason = rep.error.removeprefix(f"{rep.path}: ")
            lines.append(f"{rep.path}: {Status.ERROR.symbol} {Status.ERROR.value}: {reason}")
            continue
        info = rep.info
        head = f"{rep.path}"
        if info:
            messages = info.get("messages", 0)
            # the SIP analysis counts its own flows (listed or not); the mgc flows add theirs
            head += f": {_count(messages, 'SIP message')}, {_count(rep.flows_total(), 'flow')}"
        lines.append(head)
        for flow in rep.flows:
            lines.extend("  " + x for x in flow_lines(flow, verbose=verbose))
        unlisted = sum(rep.not_listed.values())
        if unlisted:
            by_status = ", ".join(
                f"{rep.not_listed[s.value]} {s.value}" for s in Status if s.value in rep.not_listed
            )
            lines.append(
                f"  ... {unlisted} more {_plural(unlisted, 'flow')} not listed: {by_status}"
            )
        for note in rep.notes:
            if verbose or note.severity is not Status.PASS:
                lines.append(f"  note: {finding_line(note)}")
        if not rep.flows and not unlisted:
            lines.append("  no REGISTER or INVITE flows found")
        for status, n in rep.status_counts().items():
            totals[status] += n
        if rep.worse_notes:
            by_notes[Status.worst([n.severity for n in rep.worse_notes]).value] += 1
    total = sum(totals.values())
    summary = (
        f"{_count(total, 'flow')}: " + ", ".join(f"{n} {s.value}" for s, n in totals.items() if n)
        if total
        else "0 flows"
    )
    for value, n in sorted(by_notes.items(), key=lambda item: Status(item[0]).severity):
        their = "its" if n == 1 else "their"
        summary += f"; {_count(n, 'file')} {value} for {their} notes"
    if errors:
        summary += f"; {errors} file{'s' if errors > 1 else ''} not analyzed (ERROR)"
    lines.append(summary)
    return lines


def _plural(count: int, word: str) -> str:
    """*word*, or its plural when *count* is not 1 ("1 flow", "2 flows")."""
    return word if count == 1 else word + "s"


def _count(count: int, word: str) -> str:
    return f"{count} {_plural(count, word)}"


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
    default=None,
    show_default="register,prack; plus mgc with --gateway-text or an [mgc] --config",
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
    help="(mgc) The gateway's 'show mgc list' output or 'set mgc list'/'set reset-times' "
    "commands (adds mgc to the default rules).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="(mgc) Site file with the [mgc] section (adds mgc to the default rules).",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0),
    default=TIME_LIMIT,
    show_default=True,
    help="Seconds per capture file before its analysis is stopped (an ERROR); 0: no limit.",
)
@click.option(
    "--jobs",
    default="auto",
    show_default=True,
    help="Analysis processes per capture file (SIP rules, scapy engine; tshark ignores it), "
    "fed by this one, which reads the file: auto uses up to 4 CPUs on files of 64 MiB or "
    "more, 1 (this process alone) on smaller ones. Same verdicts and counts either way; which "
    "passing flows are listed as examples beyond the caps may differ.",
)
@click.option("-v", "--verbose", is_flag=True, help="Also show passing findings and notes.")
@click.option("--debug", is_flag=True, help="Show a traceback on internal errors.")
def analyze(
    files: tuple[Path, ...],
    rules: str | None,
    password_file: Path | None,
    fmt: str,
    junit_path: Path | None,
    json_path: Path | None,
    engine: str,
    ports: str,
    gateway_text: Path | None,
    config_path: Path | None,
    time_limit: float,
    jobs: str,
    verbose: bool,
    debug: bool,
) -> None:
    """Analyze SIP (REGISTER/401, 100rel/PRACK) and H.248 flows in capture FILEs.

    Prints a verdict per flow; flows beyond the listing caps are counted by status and still
    decide the exit code. A FILE that is not a capture (or runs past --time-limit) is an
    ERROR of its own and the other FILEs are still analyzed.

    A FILE's status is its worst flow verdict or note: a capture whose reading stopped on a
    corrupt or cut record (a capture.corrupt or capture.truncated note) is at least WARN,
    and an ERROR, as a file that is not a capture, when not a single frame could be read.
    With mgc added by --config/--gateway-text, a FILE without H.248 traffic gets a note
    (mgc skipped) instead of an ERROR; --rules mgc makes it an ERROR.

    Exit codes: 0 all PASS/WARN/SKIP, 1 some FAIL/ERROR (also: a FILE that is not a
    capture or could not be read), 2 usage error (missing file, bad option, an output file
    that cannot be written), 130 interrupted (Ctrl-C or SIGTERM).
    """

    def body() -> int:
        rule_set = _rules_for(rules, gateway_text, config_path)
        port_set = _parse_ports(ports)
        job_count = _parse_jobs(jobs)
        _check_files(files)
        check_outputs(
            ("--json", json_path),
            ("--junit", junit_path),
            inputs=(*files, config_path, password_file, gateway_text),
        )
        passwords = None
        if password_file is not None:
            from ecc_doctor.captures.sip.digest import load_passwords

            passwords = load_passwords(password_file)
        reports = _analyze_all(
            files,
            rule_set,
            engine,
            port_set,
            passwords,
            config_path,
            gateway_text,
            time_limit,
            job_count,
            mgc_implicit=rules is None and "mgc" in rule_set,
        )
        # a file that is not a capture (an empty nightly capture, a cut copy) is an ERROR
        # of its own, reported like any verdict (exit 1, JSON and JUnit written), also when
        # it is the only FILE: a pipeline reads "the capture is bad", not "bad invocation"
        status = overall(reports)
        # each document is made once, whether printed, written to a file or both
        json_text = _json(reports, status) if fmt == "json" or json_path is not None else ""
        junit_text = ""
        if fmt == "junit" or junit_path is not None:
            from ecc_doctor.reporters import junit

            junit_text = junit.render(_results(reports), site="analyze")
        if fmt == "json":
            _echo_lines((), json_text)
        elif fmt == "junit":
            _echo_lines((), junit_text)
        else:
            _echo_lines(_table(reports, verbose))
        if json_path is not None:
            write_report(json_path, json_text, "--json")
        if junit_path is not None:
            write_report(junit_path, junit_text, "--junit")
        if status is Status.SKIP:
            # exit 0 as for `check`, but a pipeline must not read it as verified
            click.echo(
                f"ecc-doctor: nothing was verified: no flow for the selected rules in "
                f"{'the file' if len(reports) == 1 else f'any of the {len(reports)} files'}",
                err=True,
            )
        return exit_code_of(status)

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
        from ecc_doctor.captures.sip.ladder import (
            build_ladder,
            call_ids_seen,
            render_svg,
            render_text,
        )

        port_set = _parse_ports(ports)
        _check_files([file])
        check_writable(svg_path, "--svg")
        try:
            # only this Call-ID's messages are kept, so it is found however many calls exist
            analysis = analyze_file(file, engine=engine, ports=port_set, ladder_call_id=call_id)
            if not analysis.messages:
                _raise_if_no_frame(file, analysis.notes)
            if not analysis.ladders.get(call_id):
                fail(f"Call-ID {call_id!r} is not in the capture{call_ids_seen(analysis)}")
            lad = build_ladder(analysis, call_id)
        except (CaptureError, CheckError) as exc:
            fail(exc.message, ExitCode.USAGE)
        cols = width or shutil.get_terminal_size((100, 24)).columns
        _echo_lines(render_text(lad, width=cols))
        if svg_path is not None:
            write_report(svg_path, render_svg(lad), "--svg")
        return int(ExitCode.OK)

    run_guarded(body, debug=debug)
