"""dashboard --interval floor and --export-dir checked at start; export errors in words
(QA-2 #12, #16)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ecc_doctor.checks import reachability as reachability_module
from ecc_doctor.checks import spec_of
from ecc_doctor.cli import cli
from ecc_doctor.config import from_mapping
from ecc_doctor.tui.app import DashboardApp

SIZE = (100, 30)


def run(*args: str) -> tuple[int, str]:
    # a site file that does not exist: the options are checked before it is read (and the
    # dashboard never starts here, whatever the code under test does)
    result = CliRunner().invoke(cli, ["dashboard", "--config", "no-such-site.toml", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("interval", ["0.1", "4.9"])
def test_interval_below_the_floor_is_one_line_exit_2(interval: str) -> None:
    code, output = run("--interval", interval)
    assert code == 2
    assert output.strip().splitlines() == [
        f"ecc-doctor: --interval {interval}: at least 5 s (each run logs in "
        "and places test calls), or 0 to re-run only on 'r'"
    ]


def test_help_names_the_interval_floor() -> None:
    code, output = run("--help")
    assert code == 0
    assert "at least 5 (0: only on 'r')" in " ".join(output.split())


@pytest.mark.parametrize(
    ("folder", "why"),
    [
        ("/proc/qa-export", "cannot write: files cannot be created in /proc"),
        ("FILE/sub", "FILE is a file, not a folder"),
    ],
)
def test_unwritable_export_dir_is_one_line_exit_2_at_start(
    tmp_path: Path, folder: str, why: str
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    folder = folder.replace("FILE", str(a_file))
    code, output = run("--export-dir", folder)
    assert code == 2
    assert output.strip().splitlines() == [
        f"ecc-doctor: --export-dir {folder}: {why.replace('FILE', str(a_file))}"
    ]


@pytest.mark.anyio
async def test_export_error_names_the_export_and_why(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    config = from_mapping({"site": {"name": "s"}}, source="<test>")
    app = DashboardApp(
        config, specs=[spec_of(reachability_module)], interval=0, export_dir=blocker / "out"
    )
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_run(1)
        blocker.write_text("the folder was replaced by a file after start")
        await pilot.press("e")
        await pilot.press("s")
        await pilot.pause()
        said = [n.message for n in app._notifications]
    expected = f"cannot write into {blocker / 'out'}: {blocker} is a file, not a folder"
    assert f"JSON/JUnit export failed: {expected} (start with --export-dir DIR)" in said
    assert f"screenshot export failed: {expected} (start with --export-dir DIR)" in said
    assert not any("Errno" in m for m in said)
