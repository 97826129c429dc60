"""The live progress line: names the running checks on a terminal, silent otherwise."""

from __future__ import annotations

import io

from rich.console import Console

from ecc_doctor.models import Result, Status
from ecc_doctor.progress import LiveProgress
from ecc_doctor.runner import RunEvent


def _feed(progress: LiveProgress) -> None:
    progress(RunEvent("started", "cm.cti-link"))
    progress(RunEvent("started", "aes.dmcc-session"))
    progress(RunEvent("finished", "cm.cti-link", Result("cm.cti-link", Status.PASS, "ok")))


def test_terminal_shows_running_checks_and_count() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, color_system=None)
    with LiveProgress(2, console) as progress:
        _feed(progress)
        progress._live.refresh()  # type: ignore[union-attr]
    out = buf.getvalue()
    assert "[1/2] running: aes.dmcc-session" in out
    assert progress.done == 1 and list(progress.running) == ["aes.dmcc-session"]


def test_not_a_terminal_prints_nothing() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False)
    with LiveProgress(2, console) as progress:
        _feed(progress)
    assert buf.getvalue() == ""
    assert progress.done == 1


def test_timers_advance_between_runner_events() -> None:
    """Live repaints on its own clock; each repaint shows the current age of running checks."""
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, color_system=None)
    with LiveProgress(2, console) as progress:
        _feed(progress)
        progress.running["aes.dmcc-session"] -= 7  # as if it had started 7 s ago; no new event
        progress._live.refresh()  # type: ignore[union-attr]
    assert "[1/2] running: aes.dmcc-session 7s" in buf.getvalue()
