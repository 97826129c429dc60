"""The compiled build (hatch_build.py: the capture analyzer's hot modules through mypyc).

A wheel is built as ``pip install .`` builds it, with compilation required, installed into a
folder of its own, and run side by side with the source: every hot module must load from
its compiled extension there, and every committed and public capture (and mutations of its
SIP messages) must give the same flows, verdicts, notes, ladders and parsed values, with
one and two analysis processes, and the same command-line output. Needs a C compiler and
the Python headers (skipped with the reason locally, a failure in CI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import FIXTURES, IN_CI, PUBLIC_CAPTURES, load_module, require_tool

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "compiled_driver.py"
PASSWORDS = FIXTURES / "sip" / "passwords.txt"

pytestmark = pytest.mark.timeout(1200)


def _hot_modules() -> list[str]:
    hook = load_module(ROOT / "hatch_build.py", "ecc_doctor_hatch_build")
    return [name.removesuffix(".py").replace("/", ".") for name in hook.COMPILED]


def _env(site: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if site is not None:
        env["PYTHONPATH"] = str(site)  # before the editable install's path
    return env


def _pip(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "-q", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def compiled_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the compiled wheel's files (PYTHONPATH puts it first)."""
    require_tool("gcc", "cc")
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not header.exists():
        message = f"the Python headers are not installed ({header} is missing)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("compiled")
    env = {**_env(None), "ECC_DOCTOR_COMPILE": "1"}
    _pip(env, "wheel", "--no-deps", "--no-build-isolation", "-w", str(out / "wheel"), str(ROOT))
    (wheel,) = (out / "wheel").glob("*.whl")
    assert "none-any" not in wheel.name, f"{wheel.name} is a pure-Python wheel"
    site = out / "site"
    _pip(env, "install", "--no-deps", "--target", str(site), str(wheel))
    return site


def _captures() -> list[Path]:
    found = sorted(FIXTURES.rglob("*.pcap")) + sorted(FIXTURES.rglob("*.pcapng"))
    if PUBLIC_CAPTURES.is_dir():
        found += sorted(PUBLIC_CAPTURES.glob("*.pcap*"))
    return found


def _drive(site: Path | None, captures: list[Path], tmp: Path) -> dict[str, Any]:
    out = tmp / ("compiled.json" if site else "source.json")
    with out.open("w") as fh:
        done = subprocess.run(
            [sys.executable, str(DRIVER), str(PASSWORDS), ",".join(_hot_modules())]
            + [str(p) for p in captures],
            env=_env(site),
            cwd=tmp,
            stdout=fh,
            stderr=subprocess.PIPE,
            text=True,
            timeout=900,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def test_the_compiled_build_gives_what_the_source_gives(
    compiled_site: Path, tmp_path: Path
) -> None:
    captures = _captures()
    assert len(captures) >= 20, captures
    compiled = _drive(compiled_site, captures, tmp_path)
    source = _drive(None, captures, tmp_path)
    for name, where in compiled["modules"].items():
        assert Path(where).is_relative_to(compiled_site), (name, where)
        assert not where.endswith(".py"), f"{name} was not compiled: {where}"
    for name, where in source["modules"].items():
        assert where.endswith(".py"), (name, where)
    assert compiled["captures"].keys() == source["captures"].keys()
    for name, mine in compiled["captures"].items():
        theirs = source["captures"][name]
        for key in sorted(theirs):
            assert mine[key] == theirs[key], f"{name}: {key} differs in the compiled build"
    # the comparison covered real verdicts, messages and odd ones
    every = json.dumps(source)
    assert '"FAIL"' in every and '"PASS"' in every
    messages = sum(len(c.get("mutated messages", ())) for c in source["captures"].values())
    assert messages >= 2000, messages


def test_the_command_line_on_the_compiled_build(compiled_site: Path, tmp_path: Path) -> None:
    capture = FIXTURES / "sip" / "register-wrong-password.pcap"
    outputs = []
    for site in (compiled_site, None):
        done = subprocess.run(
            [sys.executable, "-m", "ecc_doctor", "analyze", str(capture), "--format", "json"]
            + ["--password-file", str(PASSWORDS)],
            env=_env(site),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        outputs.append((done.returncode, json.loads(done.stdout)))
    (code, compiled), (expected_code, source) = outputs
    assert code == expected_code == 1
    assert compiled == source
    assert "wrong password" in json.dumps(compiled)
