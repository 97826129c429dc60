"""``ecc-doctor dashboard``: the live view an engineer keeps open during an outage.

Only click and the config are imported here; Textual and the dashboard load after the
options are checked, and the capture code (scapy) only when a capture is read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import click

from ecc_doctor.cli import DEBUG_HELP, run_guarded
from ecc_doctor.errors import ConfigError


def _fail(message: str) -> NoReturn:
    click.echo(f"ecc-doctor: {message}", err=True)
    sys.exit(2)


#: The shortest --interval: every run logs in to CM/AES and places test calls on the
#: stations, so a shorter one would make phones ring nonstop (0 still means "only on 'r'").
MIN_INTERVAL_S = 5.0


@click.command("dashboard")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Site file (default ./ecc-doctor.toml)",
)
@click.option("--lab", is_flag=True, help="Start the emulated lab site in-process and watch it")
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help=f"Re-run the checks every S seconds, at least {MIN_INTERVAL_S:g} (0: only on 'r')",
)
@click.option(
    "--capture",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Pcap/pcapng file for the SIP panel (and the MGC panel)",
)
@click.option("--iface", help="Capture SIP live on this interface (needs root or CAP_NET_RAW)")
@click.option(
    "--lab-fault",
    "lab_faults",
    multiple=True,
    metavar="NAME",
    help="With --lab: inject this fault at start (repeatable)",
)
@click.option(
    "--export-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Where 'e' (JSON/JUnit) and 's' (SVG screenshot) write",
)
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
def dashboard(
    config_path: Path | None,
    lab: bool,
    interval: float,
    capture: Path | None,
    iface: str | None,
    lab_faults: tuple[str, ...],
    export_dir: Path,
    debug: bool,
) -> None:
    """Live dashboard: re-runs the checks, keeps an outage timeline, shows SIP/MGC captures.

    With --capture and no site file, it starts with an empty site to look at the capture.

    Keys: r re-run all, enter re-run selected, f failing only, / search (esc clears),
    1-4 tabs, l ladder, c next [sip] capture, x lab faults, e export JSON+JUnit,
    s screenshot, ctrl+p command palette, ? help, q quit.
    """
    run_guarded(
        lambda: _dashboard(config_path, lab, interval, capture, iface, lab_faults, export_dir),
        debug=debug,
    )


def _dashboard(
    config_path: Path | None,
    lab: bool,
    interval: float,
    capture: Path | None,
    iface: str | None,
    lab_faults: tuple[str, ...],
    export_dir: Path,
) -> int:
    try:
        if 0 < interval < MIN_INTERVAL_S:
            raise ConfigError(
                f"--interval {interval:g}: at least {MIN_INTERVAL_S:g} s (each run logs in and "
                "places test calls), or 0 to re-run only on 'r'"
            )
        from ecc_doctor.tui.export_dir import folder_problem

        problem = folder_problem(export_dir)
        if problem is not None:
            raise ConfigError(f"--export-dir {export_dir}: {problem}")
        if lab and config_path is not None:
            raise ConfigError("give either --config or --lab, not both")
        if lab_faults and not lab:
            raise ConfigError("--lab-fault needs --lab")
        if capture is not None and iface is not None:
            raise ConfigError("give either --capture or --iface, not both")
        if capture is not None and not capture.is_file():
            raise ConfigError(f"--capture: {capture}: no such file")
        lab_obj = None
        config = None
        note = ""
        if lab:
            from ecc_doctor.lab import Lab

            lab_obj = Lab()
            for fault in lab_faults:
                lab_obj.validate_fault(fault)
        else:
            from ecc_doctor import config as config_mod

            site_file = config_path or config_mod.env_override_path()
            named = config_path is not None or "ECC_DOCTOR_CONFIG" in os.environ
            if capture is not None and not named and not site_file.exists():
                # a capture someone handed over: look at it without a site file
                hint = f"no {site_file}: the checks skip (write one: ecc-doctor init {site_file})"
                config = dataclasses.replace(
                    config_mod.from_mapping(
                        {"site": {"name": "no site file"}}, source="<no site file>"
                    ),
                    warnings=(hint,),
                )
                note = "capture only"
            else:
                config = config_mod.load(site_file)
            for warning in config.warnings:
                click.echo(f"ecc-doctor: warning: {warning}", err=True)
        from ecc_doctor.checks import all_checks

        specs = all_checks()
        if config is not None and not note:  # the same load-time checks as `check`
            config_mod.check_secret_references(config)
            config_mod.check_timeout_ids(config, [spec.id for spec in specs])
    except ConfigError as exc:
        _fail(exc.message)

    from ecc_doctor.tui.app import DashboardApp

    app = DashboardApp(
        config,
        specs=specs,
        lab=lab_obj,
        lab_faults=lab_faults,
        interval=interval,
        capture=capture,
        iface=iface,
        export_dir=export_dir,
        note=note,
    )
    with _hangup_quits_like_sigterm():
        app.run()
    if app.crash is not None:
        # the terminal is restored by now: run_guarded reports it as an internal error
        raise app.crash
    return app.return_code or 0  # 130 after SIGTERM or SIGHUP


@contextlib.contextmanager
def _hangup_quits_like_sigterm() -> Iterator[None]:
    """SIGHUP (the terminal was closed) quits like SIGTERM, which the app answers by closing
    the lab (and its private files) and exiting 130. Under nohup it stays ignored."""
    if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
        yield
        return

    def hung_up(signum: int, frame: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.signal(signal.SIGHUP, hung_up)
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)
