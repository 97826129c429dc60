"""``ecc-doctor mgc``: the expected H.248 failover timeline, and a capture's verdict."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from ecc_doctor.cli import DEBUG_HELP, OutputConsole, output_may_close, run_guarded, stdout_gone
from ecc_doctor.errors import EccDoctorError

F = TypeVar("F", bound=Callable[..., Any])

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?$")


def _one_line_errors(fn: F) -> F:
    """Our errors become one line on stderr and exit code 2 (no traceback); anything else
    is an internal error (exit 3, its traceback with --debug, the option added here)."""

    @click.option("--debug", is_flag=True, help=DEBUG_HELP)
    @wraps(fn)
    def wrapper(*args: Any, debug: bool, **kwargs: Any) -> None:
        def body() -> int:
            try:
                fn(*args, **kwargs)
            except EccDoctorError as exc:
                click.echo(f"ecc-doctor: {exc.message}", err=True)
                sys.exit(2)
            except BrokenPipeError:  # stdout's reader went away: not a file problem
                stdout_gone()
            except OSError as exc:
                click.echo(f"ecc-doctor: {exc.filename or ''}: {exc.strerror}", err=True)
                sys.exit(2)
            return 0

        run_guarded(body, debug=debug)

    return wrapper  # type: ignore[return-value]


def parse_loss_at(text: str | None) -> tuple[float, datetime | None, bool]:
    """``--loss-at``: seconds (a capture offset), ``HH:MM[:SS]`` or an ISO date-time.

    Returns (shift in seconds, clock time of the loss, whether the clock has a real date). A
    bare ``HH:MM`` has none: its datetime carries a placeholder date that is never printed.
    """
    import math

    from ecc_doctor.errors import ConfigError

    if text is None:
        return 0.0, None, False
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise ConfigError(
                f"--loss-at: expected seconds into the capture (0 or more), got {text!r}"
            )
        return seconds, None, False
    if m := _CLOCK.match(text):
        h, mi, s = int(m.group(1)), int(m.group(2)), float(m.group(3) or 0)
        if h < 24 and mi < 60 and s < 60:
            base = datetime(2000, 1, 1) + timedelta(hours=h, minutes=mi, seconds=s)
            return 0.0, base, False
    try:
        return 0.0, datetime.fromisoformat(text), True
    except ValueError:
        raise ConfigError(
            f"--loss-at: expected seconds, HH:MM[:SS] or an ISO date-time, got {text!r}"
        ) from None


@click.group("mgc")
def mgc() -> None:
    """H.248 media gateway failover: the MGC-list search and its captures."""


@mgc.command("timeline")
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path), help="Site file with [mgc]"
)
@click.option(
    "--gateway-text",
    type=click.Path(path_type=Path),
    help="The gateway's 'show mgc list' output or 'set mgc list'/'set reset-times' commands",
)
@click.option("--loss-at", help="When the link was lost: seconds, HH:MM[:SS] or ISO date-time")
@click.option(
    "--detection",
    type=click.Choice(["tcp", "silent"]),
    default="tcp",
    show_default=True,
    help="tcp: socket failure, recovery starts at once; silent: link loss detected in 40-60 s",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--svg", "svg_path", type=click.Path(path_type=Path), help="Also write the timeline as SVG"
)
@_one_line_errors
def timeline_cmd(
    config_path: Path | None,
    gateway_text: Path | None,
    loss_at: str | None,
    detection: str,
    fmt: str,
    svg_path: Path | None,
) -> None:
    """Print the registration attempts a gateway makes after losing its controller."""
    from ecc_doctor.captures.mgc import build_timeline
    from ecc_doctor.captures.mgc.render import print_timeline, timeline_json
    from ecc_doctor.captures.mgc.svg import render_svg

    params = _params(config_path, gateway_text)
    shift, clock, dated = parse_loss_at(loss_at)
    timeline = build_timeline(params, detection=detection)
    if svg_path is not None:
        svg_path.write_text(render_svg(timeline), encoding="utf-8")
    with output_may_close():
        if fmt == "json":
            data = timeline_json(timeline, shift, clock, loss_at, dated=dated)
            doc = {"schema": "ecc-doctor/mgc-timeline", "schema_version": 1, **data}
            click.echo(json.dumps(doc, indent=2))
        else:
            print_timeline(timeline, shift, clock, dated=dated, console=OutputConsole())
            if svg_path is not None:
                click.echo(f"SVG written to {svg_path}")


@mgc.command("analyze")
@click.argument("capture", type=click.Path(path_type=Path))
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path), help="Site file with [mgc]"
)
@click.option("--gateway-text", type=click.Path(path_type=Path), help="The gateway's MGC-list text")
@click.option(
    "--engine", type=click.Choice(["scapy", "tshark"]), default="scapy", show_default=True
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--svg", "svg_path", type=click.Path(path_type=Path), help="Write expected vs seen as SVG"
)
@_one_line_errors
def analyze_cmd(
    capture: Path,
    config_path: Path | None,
    gateway_text: Path | None,
    engine: str,
    fmt: str,
    svg_path: Path | None,
) -> None:
    """Judge a capture of a gateway's failover against the expected timeline.

    Exit codes: 0 PASS or WARN, 1 FAIL or ERROR, 2 usage or configuration error, 130
    interrupted. --format json writes the ecc-doctor/analyze document (docs/REPORTS.md)."""
    from ecc_doctor.captures.mgc.analyze import analyze_report
    from ecc_doctor.captures.mgc.render import print_flows
    from ecc_doctor.models import Status

    reports = analyze_report(
        capture, engine=engine, config_path=config_path, gateway_text=gateway_text
    )
    flows = [r.flow for r in reports]
    if svg_path is not None:
        drawn = next((r.svg() for r in reports if r.timeline is not None), "")
        if drawn:
            svg_path.write_text(drawn, encoding="utf-8")
    with output_may_close():  # a reader that stops early does not change the verdict
        if fmt == "json":  # the document `ecc-doctor analyze` writes, for one capture
            from ecc_doctor.cli_analyze import analyze_json

            click.echo(analyze_json([(capture, flows)]), nl=False)
        else:
            print_flows(flows, console=OutputConsole())
    worst = Status.worst([f.status for f in flows])
    sys.exit(1 if worst in (Status.FAIL, Status.ERROR) else 0)


def _params(config_path: Path | None, gateway_text: Path | None) -> Any:
    from ecc_doctor.captures.mgc import load_params
    from ecc_doctor.config import env_override_path
    from ecc_doctor.errors import ConfigError

    if config_path is None and gateway_text is None:
        default = env_override_path()
        if not default.exists():
            raise ConfigError("give --config FILE (with an [mgc] section) or --gateway-text FILE")
        config_path = default
    return load_params(config_path, gateway_text)
