"""The ``ecc-doctor`` command: check, list, init, lab (+ lazily loaded subcommands)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from ecc_doctor import __version__
from ecc_doctor.config import SiteConfig, template
from ecc_doctor.errors import ConfigError, EccDoctorError
from ecc_doctor.exitcodes import REPORT_URL, ExitCode
from ecc_doctor.models import Result, Status
from ecc_doctor.secrets import redact
from ecc_doctor.textsafe import terminal_text

T = TypeVar("T")

#: Subcommands living in their own modules, imported only when used (keeps start-up fast:
#: scapy and textual are slow to import). name -> "module:attribute" (a click command).
LAZY_COMMANDS: dict[str, str] = {
    "analyze": "ecc_doctor.cli_analyze:analyze",
    "dashboard": "ecc_doctor.cli_dashboard:dashboard",
    "im-archive": "ecc_doctor.cli_imarchive:im_archive",
    "ladder": "ecc_doctor.cli_analyze:ladder",
    "mgc": "ecc_doctor.cli_mgc:mgc",
    "sat": "ecc_doctor.cli_sat:sat",
}


class LazyGroup(click.Group):
    """A click group whose LAZY_COMMANDS are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module_name, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            try:
                command: Any = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                return _unavailable(cmd_name, exc)
            if isinstance(command, click.Command):
                return command
        return super().get_command(ctx, cmd_name)


def _unavailable(name: str, exc: Exception) -> click.Command:
    """A stand-in for a subcommand whose module cannot be imported (missing extra)."""

    def body() -> None:
        fail(f"'{name}' is not available in this installation: {exc}")

    return click.Command(name, callback=body, help=f"(unavailable: {exc})")


def err_console() -> Console:
    return Console(stderr=True, highlight=False)


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    """Print one line to stderr and exit (with *code* even if stderr is gone: a closed
    terminal after SIGHUP)."""
    with contextlib.suppress(OSError):
        # a file name or a remote system's text in it is shown, never obeyed by the terminal
        click.echo(f"ecc-doctor: {terminal_text(redact(message))}", err=True)
    sys.exit(int(code))


# --- standard output that its reader closes (`| head`) ----------------------------------------


def stdout_gone() -> None:
    """stdout's reader went away: later output (and the flush at exit) goes to /dev/null,
    quietly, and the command carries on to its own exit code (README: exit codes)."""
    with contextlib.suppress(OSError, ValueError):  # ValueError: no real descriptor (tests)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@contextlib.contextmanager
def output_may_close() -> Iterator[None]:
    """Around printing to stdout: a reader that stopped early ends the printing, not the
    command (``check --all | head -1`` still exits with the checks' verdict)."""
    try:
        yield
    except BrokenPipeError:
        stdout_gone()


def echo(text: str = "", *, nl: bool = True) -> None:
    """``click.echo`` to stdout, quiet once the reader has gone (see output_may_close)."""
    with output_may_close():
        click.echo(text, nl=nl)


class OutputConsole(Console):
    """A rich Console for stdout whose closed pipe ends the printing quietly. (rich's own
    answer is ``SystemExit(1)``, which reads as "a check failed".)"""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        stdout_gone()


# --- signals, internal errors ----------------------------------------------------------------

#: Signals that stop a command like Ctrl-C (sessions closed, the lab's files removed, exit
#: 130), and what the message says. SIGHUP: the terminal was closed (unless it is ignored,
#: as under nohup).
STOP_SIGNALS: dict[signal.Signals, str] = {
    signal.SIGTERM: "terminated",
    signal.SIGHUP: "hung up (the terminal was closed)",
}


def stop_signals() -> list[signal.Signals]:
    """The STOP_SIGNALS to handle now: SIGHUP only when nobody chose to ignore it (nohup)."""
    return [
        sig
        for sig in STOP_SIGNALS
        if not (sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN)
    ]


class Terminated(Exception):
    """SIGTERM or SIGHUP arrived: the main task was cancelled (so every session closed) like
    Ctrl-C. The message says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StopSignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived outside an event loop: raised in the main thread by the
    handler that :func:`run_guarded` installs for every command, with the reason it prints.

    A KeyboardInterrupt, as Ctrl-C's is, so that it unwinds the command the same way: no
    ``except Exception`` keeps it, every ``finally`` runs (worker processes, a tshark child,
    open files), and asyncio passes it on instead of logging it from a callback."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _StopSignals:
    """The handlers of STOP_SIGNALS for the span of one command (see run_guarded).

    Installed only in the main thread (where signals are delivered; in any other thread, or
    off Unix, the signals keep their action), the previous handlers restored by
    :meth:`restore`. The first signal raises StopSignal; a later one is ignored, so that the
    cleanup the first one started is not cut short, and so is one that comes once the
    command is ending anyway (:meth:`ending`). An event loop of the command's
    (:func:`run_async`, the dashboard) takes the signals over while it runs."""

    def __init__(self) -> None:
        self.handled: list[signal.Signals] = []
        self.previous: dict[signal.Signals, Any] = {}
        self.stopping = False
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in stop_signals():  # SIGTERM, and SIGHUP unless ignored (nohup)
            with contextlib.suppress(ValueError, OSError):
                self.previous[sig] = signal.signal(sig, self._on_signal)
                self.handled.append(sig)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.stopping:
            return
        self.stopping = True
        raise StopSignal(STOP_SIGNALS[signal.Signals(signum)])

    def ending(self) -> None:
        self.stopping = True

    def restore(self) -> None:
        for sig in self.handled:
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, self.previous[sig])
        self.handled = []


class _DaemonExecutor(concurrent.futures.ThreadPoolExecutor):
    """The event loop's default executor (``asyncio.to_thread``) with daemon threads that
    nobody waits for at exit: a thread stuck in a blocking call (an analysis that ignores
    :mod:`ecc_doctor.cancel`) must not keep a finished command from exiting. ``asyncio.run``
    and the interpreter both wait for a ThreadPoolExecutor's threads; these are not its."""

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the awaiting coroutine
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=work, name="ecc-doctor-worker", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None  # daemon threads: never wait for them


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` for commands: SIGTERM and SIGHUP cancel like Ctrl-C (raising
    Terminated once the cleanup ran), and exit does not wait for worker threads that are
    still busy."""

    async def wrapper() -> T:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(_DaemonExecutor())
        task = asyncio.current_task()
        reason = ""

        def on_signal(sig: signal.Signals) -> None:
            nonlocal reason
            reason = reason or STOP_SIGNALS[sig]
            if task is not None:
                task.cancel()

        handled = stop_signals()
        # the handlers before (run_guarded's): asyncio's remove_signal_handler leaves SIG_DFL
        previous = {sig: signal.getsignal(sig) for sig in handled}
        # not in the main thread (tests) or not on Unix: the signals keep their default action
        for sig in handled:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal, sig)
        try:
            return await main
        except asyncio.CancelledError:
            if reason:
                raise Terminated(reason) from None
            raise
        finally:
            for sig in handled:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    if loop.remove_signal_handler(sig) and previous[sig] is not None:
                        signal.signal(sig, previous[sig])

    return asyncio.run(wrapper())


def run_guarded(fn: Callable[[], int], *, debug: bool) -> NoReturn:
    """Run a command body: config errors exit 2, bugs 3 (traceback with --debug), and
    Ctrl-C, SIGTERM and SIGHUP 130 with one line saying which, for every command (the
    handlers are installed here: a body blocked reading a FIFO or stdin ends too)."""
    stops = _StopSignals()
    try:
        _guarded(fn, stops, debug=debug)
    finally:
        stops.restore()


def _guarded(fn: Callable[[], int], stops: _StopSignals, *, debug: bool) -> NoReturn:
    try:
        try:
            code = fn()
        finally:
            stops.ending()  # a signal from now on cannot stop more than the exit that follows
    except ConfigError as exc:
        fail(exc.message, ExitCode.USAGE)
    except StopSignal as exc:
        fail(f"{exc.reason}; every session was closed", ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        fail("interrupted; every session was closed", ExitCode.INTERRUPTED)
    except Terminated as exc:
        fail(f"{exc.reason}; every session was closed", ExitCode.INTERRUPTED)
    except EccDoctorError as exc:
        fail(exc.message, ExitCode.CHECKS_FAILED)
    except Exception as exc:  # a bug of ours: say how to report it
        if debug:
            with contextlib.suppress(OSError):
                err_console().print(redact("".join(traceback.format_exception(exc))), markup=False)
        # every command has --debug (DEBUG_HELP), so the advice holds wherever this appears
        evidence = "the traceback above" if debug else "the output of the same command with --debug"
        fail(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in ecc-doctor "
            f"{__version__}; please report it at {REPORT_URL} with {evidence}",
            ExitCode.INTERNAL,
        )
    sys.exit(code)


#: The help of the --debug option that every command has.
DEBUG_HELP = "Show a traceback on internal errors."


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ecc-doctor")
def cli() -> None:
    """Verify and diagnose an Avaya Aura site: CM, AES, Breeze ECC, Presence, SIP, H.248.

    Exit codes: 0 all PASS/WARN/SKIP, 1 some FAIL or ERROR, 2 usage or config error,
    3 internal error (a bug), 130 interrupted (Ctrl-C, SIGTERM, SIGHUP).
    """


# --- check ---------------------------------------------------------------------------------

FORMATS = ("table", "json", "junit")


def _formats(values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item not in FORMATS:
                raise click.BadParameter(f"{item!r} is not one of {', '.join(FORMATS)}")
            if item not in out:
                out.append(item)
    return out or ["table"]


def load_site(config_path: Path | None, *, known_ids: Sequence[str] | None = None) -> SiteConfig:
    """The site file from --config, $ECC_DOCTOR_CONFIG or ./ecc-doctor.toml, validated for a
    run: every secret reference resolves and, given *known_ids* (the registry with plugins),
    every ``[timeouts.checks]`` key names a check. Problems are ConfigError (exit 2)."""
    from ecc_doctor.config import (
        check_secret_references,
        check_timeout_ids,
        env_override_path,
        load,
    )

    cfg = load(config_path or env_override_path())
    check_secret_references(cfg)
    if known_ids is not None:
        check_timeout_ids(cfg, known_ids)
    for warning in cfg.warnings:
        click.echo(f"ecc-doctor: warning: {redact(warning)}", err=True)
    return cfg


@cli.command()
@click.argument("ids", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Run every registered check.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Site file (default ./ecc-doctor.toml).",
)
@click.option("--lab", is_flag=True, help="Start the embedded lab site and check it.")
@click.option(
    "--lab-fault",
    "lab_faults",
    multiple=True,
    metavar="NAME",
    help="Start the lab with this fault injected (repeatable).",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="table|json|junit",
    help="Output on stdout (repeatable or comma-separated; default table).",
)
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write JUnit XML here (a file from an earlier run is removed at the start).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the JSON report here (a file from an earlier run is removed at the start).",
)
@click.option(
    "--junit-warn-as",
    type=click.Choice(["pass", "failure", "skipped"]),
    default=None,
    help="How WARN appears in JUnit (default: pass; failure with --strict).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 3600),
    help="Time limit per check (overrides [timeouts]).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="WARN counts as a failure for the exit code, and in JUnit unless --junit-warn-as says.",
)
@click.option(
    "--no-skip",
    is_flag=True,
    help="A check that SKIPs (not configured) is an ERROR: for a sign-off where every "
    "selected check must run.",
)
@click.option("--debug", is_flag=True, help="Show transcripts, evidence and tracebacks.")
def check(
    ids: tuple[str, ...],
    run_all: bool,
    config_path: Path | None,
    lab: bool,
    lab_faults: tuple[str, ...],
    formats: tuple[str, ...],
    junit_path: Path | None,
    json_path: Path | None,
    junit_warn_as: str | None,
    timeout: float | None,
    strict: bool,
    no_skip: bool,
    debug: bool,
) -> None:
    """Run checks (IDS: check ids or areas like 'cm'; or --all) and report.

    Exit codes: 0 all PASS/WARN/SKIP (stderr says so when nothing was verified), 1 some
    FAIL or ERROR (or WARN with --strict, SKIP with --no-skip), 2 usage or config error (bad option, site file
    or secret, an output file that cannot be written), 3 internal error (a bug), 130
    interrupted (Ctrl-C, SIGTERM, SIGHUP).
    """
    chosen_formats = _formats(formats)
    if not run_all and not ids:
        raise click.UsageError("name the checks to run, or use --all (see: ecc-doctor list)")
    if lab_faults and not lab:
        raise click.UsageError("--lab-fault needs --lab")
    if lab and config_path:
        raise click.UsageError("--lab and --config exclude each other")
    options = _CheckOptions(
        ids=list(ids),
        run_all=run_all,
        config_path=config_path,
        lab=lab,
        lab_faults=list(lab_faults),
        formats=chosen_formats,
        junit_path=junit_path,
        json_path=json_path,
        # a WARN that fails the build is a failing test (a red build with green tests would
        # name no culprit), unless the user chose otherwise
        junit_warn_as=junit_warn_as or ("failure" if strict else "pass"),
        timeout=timeout,
        strict=strict,
        debug=debug,
        no_skip=no_skip,
    )
    run_guarded(lambda: _check(options), debug=debug)


@dataclass(frozen=True)
class _CheckOptions:
    """The options of one ``check`` run."""

    ids: list[str]
    run_all: bool
    config_path: Path | None
    lab: bool
    lab_faults: list[str]
    formats: list[str]
    junit_path: Path | None
    json_path: Path | None
    junit_warn_as: str
    timeout: float | None
    strict: bool
    debug: bool
    no_skip: bool = False


def _check(opts: _CheckOptions) -> int:
    from ecc_doctor.checks import all_checks, select
    from ecc_doctor.config import env_override_path

    site_file = None if opts.lab else (opts.config_path or env_override_path())
    check_outputs(("--json", opts.json_path), ("--junit", opts.junit_path), inputs=(site_file,))
    registry = all_checks()
    specs = registry if opts.run_all else select(opts.ids, registry)
    for spec in registry:  # a broken plugin that runs is an ERROR result; else say it here
        if spec.broken and spec not in specs:
            click.echo(f"ecc-doctor: warning: {terminal_text(redact(spec.broken))}", err=True)
    known_ids = [s.id for s in registry]
    config = None if opts.lab else load_site(opts.config_path, known_ids=known_ids)
    t0 = time.monotonic()
    results, site = run_async(_run(opts, specs, config))
    wall = time.monotonic() - t0
    if opts.no_skip:  # every selected check must run: one that could not is not verified
        results = [_not_skipped(r) for r in results]
    _report(opts, results, site, wall)
    from ecc_doctor.reporters.json_report import exit_code

    if results and all(r.status is Status.SKIP for r in results):
        # exit 0 as DESIGN.md's table says (SKIP is "not configured"), but a sign-off or a
        # pipeline must not mistake "nothing was verified" for success: say it on stderr
        err_console().print(
            f"ecc-doctor: nothing was verified: {_skipped(len(results))} (not configured: "
            "see `ecc-doctor init` for the site file's sections)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return exit_code(results, strict=opts.strict)


def _not_skipped(result: Result) -> Result:
    """*result*, or for a SKIP the ERROR ``--no-skip`` makes of it (its reason kept), so the
    table, JSON, JUnit and exit code all say it was not verified."""
    if result.status is not Status.SKIP:
        return result
    return result.replace(
        status=Status.ERROR, summary=f"not verified (--no-skip): {result.summary}"
    )


def _skipped(count: int) -> str:
    return "the check was skipped" if count == 1 else f"all {count} checks were skipped"


async def _run(
    opts: _CheckOptions, specs: list[Any], config: SiteConfig | None
) -> tuple[list[Result], str]:
    from ecc_doctor.progress import LiveProgress
    from ecc_doctor.runner import run_checks

    async with contextlib.AsyncExitStack() as stack:
        if config is None:
            from ecc_doctor.lab import Lab

            lab = Lab()
            for fault in opts.lab_faults:
                lab.validate_fault(fault)
            await stack.enter_async_context(lab)
            for fault in opts.lab_faults:
                await lab.fault(fault)
            config = lab.config
        progress = stack.enter_context(LiveProgress(len(specs), err_console()))
        results = await run_checks(
            specs, config, listener=progress, debug=opts.debug, timeout_override=opts.timeout
        )
        return results, config.site.name


def _source(opts: _CheckOptions) -> str:
    """Where the site came from, for the table's heading."""
    if opts.lab:
        return "the embedded lab" + (
            f" with {', '.join(opts.lab_faults)}" if opts.lab_faults else ""
        )
    from ecc_doctor.config import env_override_path

    return str(opts.config_path or env_override_path())


def _report(opts: _CheckOptions, results: list[Result], site: str, wall: float) -> None:
    from ecc_doctor.reporters import console, json_report, junit

    out = OutputConsole(highlight=False)
    for fmt in opts.formats:  # a reader that stops early (| head) ends this, not the files
        if fmt == "table":
            with output_may_close():
                head = console.heading(site, _source(opts))
                console.write(out, results, wall_s=wall, verbose=opts.debug, head=head)
        elif fmt == "json":
            echo(json_report.render(results, site=site, strict=opts.strict), nl=False)
        else:
            echo(junit.render(results, warn_as=opts.junit_warn_as, site=site), nl=False)
    files: list[tuple[Path | None, str, Callable[[], str]]] = [
        (
            opts.json_path,
            "--json",
            lambda: json_report.render(results, site=site, strict=opts.strict),
        ),
        (
            opts.junit_path,
            "--junit",
            lambda: junit.render(results, warn_as=opts.junit_warn_as, site=site),
        ),
    ]
    problems: list[str] = []
    for path, label, render in files:  # one report that cannot be written does not stop the other
        if path is None:
            continue
        try:
            write_report(path, render(), label)
        except ConfigError as exc:
            problems.append(exc.message)
    if problems:
        raise ConfigError("; ".join(problems))


def check_outputs(*outputs: tuple[str, Path | None], inputs: tuple[Path | None, ...] = ()) -> None:
    """check_writable for each (option, path) of a command, after making sure that no two
    options name the same file (one report would silently replace the other) and that none
    names one of the command's *inputs* (the site file: the old report is removed first)."""
    for label, path in outputs:
        for given in inputs:
            if path is not None and given is not None and path.resolve() == given.resolve():
                raise ConfigError(
                    f"{label} {path}: that is an input of this command (the site file or a "
                    "capture); give the report its own file"
                )
    seen: dict[Path, str] = {}
    for label, path in outputs:
        if path is None or str(path) == "-":
            continue
        key = path.resolve()
        if key in seen:
            raise ConfigError(
                f"{seen[key]} and {label} name the same file {path}: give each its own file"
            )
        seen[key] = label
    for label, path in outputs:
        check_writable(path, label)


#: the --format that writes what the file option writes, for "-" (standard output)
_STDOUT_FORMAT = {"--json": "json", "--junit": "junit"}


def check_writable(path: Path | None, label: str) -> None:
    """ConfigError before the (long) work starts if the output file *label* (the option,
    e.g. "--json") cannot be written. Shared by ``check``, ``analyze``, ``ladder``, ``lab``.

    The file is opened for writing for real (``os.access`` says yes to root everywhere, also
    on /proc or a read-only mount), without truncating a file that exists; a file this probe
    created is removed again. Devices and FIFOs are not opened (a FIFO's reader would see
    the end of its input): their problems show when the report is written.

    A regular file that is there from an earlier run is then removed (emptied, if it is a
    symbolic link's target): a run that stops early (SIGTERM, a config error, a crash) must
    not leave the last run's report to be read as this one's.

    ``-`` is no file name here: standard output is what ``--format`` writes (two reports,
    or a table and a report, would otherwise be mixed on it).
    """
    if path is None:
        return
    if str(path) == "-":
        fmt = _STDOUT_FORMAT.get(label)
        hint = f"for the report on standard output use --format {fmt}" if fmt else "not stdout"
        raise ConfigError(f"{label} -: give a file name ({hint})")
    if path.is_dir():  # click rejects it for check (dir_okay=False); analyze/ladder reach it
        raise ConfigError(f"{label} {path}: is a folder, not a file")
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOCTTY | os.O_NONBLOCK
    try:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if not path.is_file():  # a device, FIFO or a dangling symbolic link
                return
            os.close(os.open(path, flags))
            _remove_old_report(path)
        else:
            os.close(fd)
            path.unlink()
    except OSError as exc:
        raise ConfigError(f"{label} {path}: {_why_unwritable(path, exc)}") from None


def _remove_old_report(path: Path) -> None:
    """Remove the regular file *path* (written by an earlier run), or empty it when its
    folder does not let us remove it (sticky). A symbolic link is left alone: what it points
    at may be anything (``/dev/stderr`` is a link to the terminal or a CI log), and only the
    report itself, at the end, is written through it."""
    if path.is_symlink():
        return
    try:
        path.unlink()
    except OSError:
        os.truncate(path, 0)


def _why_unwritable(path: Path, exc: OSError) -> str:
    """What stops writing *path*, in words (never an errno name)."""
    folder = path.parent
    if exc.errno == errno.ENOTDIR:
        # the first ancestor that exists but is not a folder (lab.toml/x.json)
        ancestor = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
        if ancestor is not None:
            return f"{ancestor} is a file, not a folder"
    if exc.errno == errno.ENOENT:
        if not folder.is_dir():
            return f"no such folder {folder}"
        return f"cannot write: files cannot be created in {folder}"  # /proc
    words = _ERRNO_WORDS.get(exc.errno or 0)
    if words is None:
        text = exc.strerror or str(exc)
        words = text[:1].lower() + text[1:]
    return f"cannot write: {words}"


_ERRNO_WORDS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "is a folder, not a file",
    errno.ENAMETOOLONG: "the name is too long",
}


def write_report(path: Path, text: str, label: str) -> None:
    """Write an output file; a failure is a one-line ConfigError naming *label* and *path*."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{label} {path}: cannot write: {exc.strerror or exc}") from exc


# --- list, init ------------------------------------------------------------------------------


@cli.command("list")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
def list_checks(fmt: str, debug: bool) -> None:
    """List the registered checks: id, title, source, config sections needed."""

    def body() -> int:
        from rich.table import Table
        from rich.text import Text

        from ecc_doctor.checks import all_checks

        specs = all_checks()
        if fmt == "json":
            rows = [
                {"id": s.id, "title": s.title, "source": s.source, "needs": list(s.needs)}
                | ({"broken": s.broken} if s.broken else {})
                for s in specs
            ]
            echo(json.dumps(rows, indent=2))
            return 0
        t = Table(show_edge=False, header_style="bold")
        for col in ("id", "title", "source", "needs"):
            t.add_column(col, overflow="fold")
        for s in specs:  # plain text, not rich markup (a plugin's text is data)
            t.add_row(
                *(
                    Text(terminal_text(c))
                    for c in (s.id, s.title, s.source, ", ".join(s.needs) or "-")
                )
            )
        OutputConsole().print(t)
        for s in specs:  # on stderr too: a table row is easily overlooked
            if s.broken:
                click.echo(f"ecc-doctor: warning: {terminal_text(redact(s.broken))}", err=True)
        return 0

    run_guarded(body, debug=debug)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default="ecc-doctor.toml")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
def init(path: Path, force: bool, debug: bool) -> None:
    """Write a commented site-file template to PATH (default ./ecc-doctor.toml)."""

    def body() -> int:
        if path.exists() and not force:
            fail(f"{path} exists; use --force to overwrite it")
        try:
            path.write_text(template(), encoding="utf-8")
            path.chmod(0o600)
        except OSError as exc:
            fail(f"cannot write {path}: {exc.strerror}")
        echo(f"wrote {path}: fill in the sections for your site, then run: ecc-doctor check --all")
        return 0

    run_guarded(body, debug=debug)


# --- lab -------------------------------------------------------------------------------------


@cli.command("lab")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME",
    help="Inject this fault at start (repeatable).",
)
@click.option(
    "--write-config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the site config here.",
)
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
def lab_command(faults: tuple[str, ...], write_config: Path | None, debug: bool) -> None:
    """Run the embedded lab site in the foreground and print the site config for it.

    While it runs, type 'fault NAME', 'heal NAME', 'status' or 'quit' (or press Ctrl-C).
    In the background of a terminal (`ecc-doctor lab &`) it does not read the terminal.
    """

    def body() -> int:
        check_writable(write_config, "--write-config")  # before the lab starts
        return run_async(_lab(list(faults), write_config))

    run_guarded(body, debug=debug)


async def _lab(faults: list[str], write_config: Path | None) -> int:
    import tomli_w

    from ecc_doctor.lab import Lab

    lab = Lab()
    for fault in faults:
        lab.validate_fault(fault)
    async with lab:
        for fault in faults:
            await lab.fault(fault)
        text = tomli_w.dumps(lab.data)
        if write_config:
            _write_private(write_config, text, "--write-config")
        echo("# ecc-doctor lab site config (valid while this process runs)")
        echo(text)
        echo(f"# faults: {', '.join(lab.faults)}")
        await _lab_console(lab)
    return 0


def _write_private(path: Path, text: str, label: str) -> None:
    """write_report for a file only its owner may read (the lab's config names its keys)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)  # an existing file keeps its mode otherwise
            fh.write(text)
    except OSError as exc:
        raise ConfigError(f"{label} {path}: {_why_unwritable(path, exc)}") from exc


LAB_COMMANDS = "type 'fault NAME', 'heal NAME', 'status' or 'quit'; Ctrl-C stops the lab"


def _console_off() -> str:
    return (
        "# console off: the lab runs in the background of its terminal and does not read it; "
        f"stop it with: kill {os.getpid()} (or 'fg', then Ctrl-C)"
    )


def _in_background(fd: int) -> bool:
    """Whether *fd* is a terminal whose foreground is another job (`ecc-doctor lab &`,
    `timeout 60 ecc-doctor lab`): reading it would stop the whole lab (SIGTTIN). A pipe,
    a file or a terminal that is not ours to control is never "background"."""
    try:
        return os.tcgetpgrp(fd) != os.getpgrp()
    except OSError:
        return False


def _stdin_lines(say: Callable[[str], None]) -> asyncio.Queue[str | None]:
    """Lines typed on stdin, then None at end of input; *say* is told (from the reader
    thread) when the console goes off (the lab went to the background) and on again.

    A daemon thread reads the raw descriptor: a thread blocked in ``sys.stdin.readline`` in
    the default executor would keep ``asyncio.run`` (and so Ctrl-C) waiting for Enter, and
    ``os.read`` holds no lock of the interpreter's, so it can be abandoned at exit.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # no stdin at all
        queue.put_nowait(None)
        return queue
    # A read from the background then fails (EIO) instead of stopping the lab: after
    # Ctrl-Z and `bg`, the read that was waiting is restarted in the background.
    with contextlib.suppress(ValueError, OSError):  # not the main thread, no such signal
        signal.signal(signal.SIGTTIN, signal.SIG_IGN)

    def put(item: str | None) -> bool:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the command is over
            return False
        return True

    def tell(text: str) -> bool:
        try:
            loop.call_soon_threadsafe(say, text)
        except RuntimeError:
            return False
        return True

    def reader() -> None:
        pending = b""
        off = _in_background(fd)
        tell(_console_off() if off else f"# {LAB_COMMANDS}")
        while True:
            if _in_background(fd):
                if not off and not tell(_console_off()):
                    return
                off = True
                time.sleep(0.5)  # until `fg`; a daemon thread, abandoned at exit
                continue
            if off and not tell(f"# console on: {LAB_COMMANDS}"):
                return
            off = False
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                if _in_background(fd):
                    continue  # sent to the background while waiting: EIO, not the end
                chunk = b""
            if not chunk:
                if pending:
                    put(pending.decode("utf-8", "replace"))
                put(None)
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if not put(line.decode("utf-8", "replace") + "\n"):
                    return
            pending = pending[-MAX_LAB_LINE:]  # bounded: a line this long is no command

    threading.Thread(target=reader, name="ecc-doctor-lab-stdin", daemon=True).start()
    return queue


MAX_LAB_LINE = 4096


async def _lab_console(lab: Any) -> None:
    lines = _stdin_lines(echo)
    while (line := await lines.get()) is not None:
        words = line.split()
        if not words:
            continue
        if words[0] in {"quit", "exit"}:
            return
        try:
            if words[0] in {"fault", "heal"} and len(words) == 2:
                await (lab.fault if words[0] == "fault" else lab.heal)(words[1])
                echo(f"{words[0]}: {words[1]} (active: {', '.join(sorted(lab.active)) or 'none'})")
            elif words[0] == "status":
                echo(json.dumps(lab.status(), indent=2, default=str))
            else:
                echo("commands: fault NAME | heal NAME | status | quit")
        except ConfigError as exc:
            echo(exc.message)
    await asyncio.Event().wait()  # stdin closed: keep serving until interrupted (cancelled)


def main() -> None:
    cli()
