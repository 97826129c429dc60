"""Third-party checks from the entry-point group ``ecc_doctor.checks``: a real installed-looking
distribution (a ``*.dist-info`` with ``entry_points.txt``) on sys.path / PYTHONPATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from ecc_doctor.checks import CHECKS, ENTRY_POINT_GROUP, all_checks
from ecc_doctor.cli import cli

GOOD = """
import asyncio
import threading

from ecc_doctor.models import Status

ID, TITLE, SOURCE, NEEDS = "plug.demo", "A plugin check", "plugin docs 1.2", ()


async def check(ctx):
    return ctx.result(Status.PASS, "plugin says hello")
"""

NONE = """
ID, TITLE, SOURCE, NEEDS = "plug.none", "Returns None", "plugin docs", ()


async def check(ctx):
    return None
"""

STUCK = """
import asyncio
import threading

ID, TITLE, SOURCE, NEEDS = "plug.stuck", "Blocks a thread for good", "plugin docs", ()


async def check(ctx):
    # a thread that ignores ecc_doctor.cancel and never ends
    await asyncio.to_thread(threading.Event().wait)
"""

BROKEN = """
raise ImportError("needs libfoo 2.0")
"""


def make_dist(root: Path, dist: str, modules: dict[str, str]) -> Path:
    """A distribution as pip leaves it: modules plus <dist>-1.0.dist-info/entry_points.txt."""
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = [f"[{ENTRY_POINT_GROUP}]"]
    for name, source in modules.items():
        (root / f"{name}.py").write_text(source)
        lines.append(f"{name} = {name}")
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root


def run(root: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "ecc_doctor", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=30,  # a hang (e.g. waiting for the stuck thread at exit) fails here
    )


def test_plugin_is_registered_listed_and_runs(tmp_path: Path, monkeypatch) -> None:
    root = make_dist(tmp_path / "site-packages", "eccd_plug_good", {"eccd_plug_demo": GOOD})
    monkeypatch.syspath_prepend(str(root))
    specs = all_checks()
    assert [s.id for s in specs[: len(CHECKS)]] == list(CHECKS)
    demo = next(s for s in specs if s.id == "plug.demo")
    assert (demo.title, demo.source, demo.needs, demo.area) == (
        "A plugin check",
        "plugin docs 1.2",
        (),
        "plug",
    )
    site = tmp_path / "site.toml"
    site.write_text('[site]\nname = "t"\n[timeouts.checks]\n"plug.demo" = 5\n')
    result = CliRunner().invoke(
        cli, ["check", "plug.demo", "--config", str(site), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["results"]
    assert (row["id"], row["status"], row["summary"]) == ("plug.demo", "PASS", "plugin says hello")


def test_plugins_in_a_real_process_list_run_and_misbehave_safely(tmp_path: Path) -> None:
    root = make_dist(
        tmp_path / "site-packages",
        "eccd_plug_mixed",
        {"eccd_plug_demo": GOOD, "eccd_plug_none": NONE, "eccd_plug_stuck": STUCK},
    )
    listed = run(root, "list", "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    ids = [row["id"] for row in json.loads(listed.stdout)]
    assert ids[-3:] == ["plug.demo", "plug.none", "plug.stuck"]
    assert "net.reachability" in ids

    (tmp_path / "site.toml").write_text('[site]\nname = "t"\n')
    report = tmp_path / "out.json"
    proc = run(
        root,
        *("check", "plug", "--config", "site.toml", "--timeout", "1", "--json", str(report)),
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = {r["id"]: (r["status"], r["summary"]) for r in json.loads(report.read_text())["results"]}
    assert rows == {
        "plug.demo": ("PASS", "plugin says hello"),
        "plug.none": ("ERROR", "plug.none returned NoneType, expected Result"),
        "plug.stuck": ("ERROR", "timed out after 1 s (--timeout)"),
    }
    assert "Traceback" not in proc.stderr


BROKEN_WHY = "check plugin 'eccd_plug_broken' (eccd_plug_broken) failed to load: needs libfoo 2.0"


def _broken_site(tmp_path: Path) -> Path:
    (tmp_path / "site.toml").write_text('[site]\nname = "t"\n')
    return make_dist(tmp_path / "site-packages", "eccd_plug_bad", {"eccd_plug_broken": BROKEN})


def test_a_broken_plugin_is_an_error_result_of_its_own_in_check_all(tmp_path: Path) -> None:
    # QA 3b #9: one plugin that fails to import does not stop the run or its reports
    root = _broken_site(tmp_path)
    proc = run(
        root,
        *("check", "--all", "--config", "site.toml", "--json", "r.json", "--junit", "r.xml"),
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr  # an ERROR result (DESIGN: exit codes)
    results = {r["id"]: r for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    broken = results.pop("plugin:eccd_plug_broken")
    assert (broken["status"], broken["summary"]) == ("ERROR", BROKEN_WHY)
    assert set(results) == set(CHECKS)  # every built-in check ran and reported (SKIP here)
    assert "<error" in (tmp_path / "r.xml").read_text()
    assert "Traceback" not in proc.stderr


def test_a_broken_plugin_does_not_stop_a_run_of_built_in_checks(tmp_path: Path) -> None:
    root = _broken_site(tmp_path)
    proc = run(
        root, "check", "cm.license", "--config", "site.toml", "--format", "json", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr  # SKIP: no [cm] in the site file
    assert [r["id"] for r in json.loads(proc.stdout)["results"]] == ["cm.license"]
    assert f"ecc-doctor: warning: {BROKEN_WHY}" in proc.stderr.splitlines()


def test_list_shows_a_broken_plugin_as_broken(tmp_path: Path) -> None:
    root = _broken_site(tmp_path)
    proc = run(root, "list", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {row["id"]: row for row in json.loads(proc.stdout)}
    assert rows["plugin:eccd_plug_broken"]["broken"] == BROKEN_WHY
    assert set(rows) == {*CHECKS, "plugin:eccd_plug_broken"}
    table = run(root, "list", cwd=tmp_path)
    assert table.returncode == 0
    assert "plugin:eccd_plug_broken" in table.stdout and "broken: check plugin" in table.stdout
    assert table.stderr.splitlines() == [f"ecc-doctor: warning: {BROKEN_WHY}"]


ODD_METRICS = """
from ecc_doctor.models import Status

ID, TITLE, SOURCE, NEEDS = "plug.odd", "Odd metrics", "plugin docs", ()


async def check(ctx):
    return ctx.result(
        Status.PASS, "odd", metrics={"nan": float("nan"), "inf": float("inf"), "ok": 1.5}
    )
"""


def _strict_json(text: str) -> object:
    def reject(word: str) -> object:
        raise AssertionError(f"not JSON: {word}")

    return json.loads(text, parse_constant=reject)


def test_a_nan_or_infinite_metric_is_null_in_the_json_report(tmp_path: Path) -> None:
    # QA 3b #9 side note: bare NaN/Infinity is not JSON (JSON.parse and strict parsers fail)
    root = make_dist(tmp_path / "site-packages", "eccd_plug_odd", {"eccd_plug_odd": ODD_METRICS})
    (tmp_path / "site.toml").write_text('[site]\nname = "t"\n')
    proc = run(
        root,
        *("check", "plug.odd", "--config", "site.toml", "--format", "json", "--json", "r.json"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    for text in (proc.stdout, (tmp_path / "r.json").read_text()):
        doc = _strict_json(text)
        assert isinstance(doc, dict)
        assert doc["results"][0]["metrics"] == {"nan": None, "inf": None, "ok": 1.5}
