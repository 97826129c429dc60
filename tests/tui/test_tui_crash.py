"""A bug inside the dashboard (not in a check): the user gets the one-line internal error and
exit 3, as from every other command, with the terminal restored; the traceback only with
--debug. The bug is planted by a test-only check plugin (a real installed-looking
distribution): run inside the dashboard, its check schedules a callback on the app that
raises, as a broken action or handler of ours would."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from ecc_doctor.checks import ENTRY_POINT_GROUP, CheckSpec
from ecc_doctor.config import from_mapping
from ecc_doctor.tui.app import DashboardApp

PLUGIN = """
from textual._context import active_app

from ecc_doctor.models import Status

ID, TITLE, SOURCE, NEEDS = "plug.dashboard-bug", "Plants a bug in the dashboard", "tests", ()


def _bug():
    raise RuntimeError("a bug planted by a test plugin")


async def check(ctx):
    try:
        app = active_app.get()
    except LookupError:  # not inside the dashboard
        return ctx.result(Status.PASS, "no dashboard to break")
    app.call_later(_bug)
    return ctx.result(Status.PASS, "bug planted")
"""

LEAVE_ALT_SCREEN = b"\x1b[?1049l"


def plugin_dist(root: Path) -> Path:
    """The plugin as pip leaves it: a module plus <dist>-1.0.dist-info/entry_points.txt."""
    info = root / "dashboard_bug-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dashboard_bug\nVersion: 1.0\n")
    (root / "dashboard_bug.py").write_text(PLUGIN)
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nbug = dashboard_bug\n")
    return root


def run_in_terminal(args: list[str], cwd: Path, pythonpath: str) -> tuple[int | None, bytes]:
    """`python -m ecc_doctor ARGS` in an 80x24 pseudo-terminal until it exits (bounded)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": pythonpath}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecc_doctor", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        if proc.poll() is None:
            os.write(master, b"q")  # a dashboard that did not crash: stop it
            proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, seen


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, str]:
    """A site with no systems (every built-in check SKIPs) and the plugin installed."""
    (tmp_path / "site.toml").write_text('[site]\nname = "crash test"\n')
    root = plugin_dist(tmp_path / "plugins")
    pythonpath = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    return tmp_path, pythonpath


def test_a_bug_inside_the_dashboard_is_one_line_and_exit_3(site: tuple[Path, str]) -> None:
    cwd, pythonpath = site
    code, seen = run_in_terminal(["dashboard", "--config", "site.toml"], cwd, pythonpath)
    assert code == 3, seen[-2000:]
    # the terminal is restored (the alternate screen left) before the message
    assert LEAVE_ALT_SCREEN in seen, seen[-2000:]
    after = seen.rsplit(LEAVE_ALT_SCREEN, 1)[1].decode("utf-8", "replace")
    assert "internal error: RuntimeError: a bug planted by a test plugin" in after, after
    assert "--debug" in after
    text = seen.decode("utf-8", "replace")
    assert "Traceback" not in text and "raise RuntimeError" not in text, text[-3000:]
    assert "locals" not in text  # Textual's traceback shows the frames' locals


def test_with_debug_the_traceback_stays(site: tuple[Path, str]) -> None:
    cwd, pythonpath = site
    args = ["dashboard", "--config", "site.toml", "--debug"]
    code, seen = run_in_terminal(args, cwd, pythonpath)
    assert code == 3, seen[-2000:]
    after = seen.rsplit(LEAVE_ALT_SCREEN, 1)[1].decode("utf-8", "replace")
    assert "Traceback (most recent call last)" in after, after
    assert 'raise RuntimeError("a bug planted by a test plugin")' in after
    assert "internal error: RuntimeError: a bug planted by a test plugin" in after
    assert after.index("Traceback") < after.index("internal error")


@pytest.mark.anyio
async def test_the_app_keeps_the_bug_for_the_cli(tmp_path: Path) -> None:
    """In-process (Pilot): the app exits on the bug and keeps it in ``crash`` (which the CLI
    re-raises after the terminal is restored); run_test re-raises it too."""
    from tests.conftest import load_module

    (tmp_path / "dashboard_bug.py").write_text(PLUGIN)
    module = load_module(tmp_path / "dashboard_bug.py", "dashboard_bug_pilot")
    config = from_mapping({"site": {"name": "crash test"}}, source="<test>")
    app = DashboardApp(
        config, specs=[CheckSpec(module.ID, module.TITLE, module.SOURCE, (), module.check)]
    )
    with pytest.raises(RuntimeError, match="a bug planted"):
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(200):  # bounded: the bug is planted by the first run
                if app.crash is not None:
                    break
                await pilot.pause(0.05)
    assert isinstance(app.crash, RuntimeError)
    assert app.return_code == 1
