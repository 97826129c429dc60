"""Build hook: compile the capture analyzer's hot modules with mypyc (optional, on by default).

The modules listed in ``COMPILED`` (the pcap reader, the SIP framing and parse, the REGISTER
and PRACK rules) are plain, mypy --strict typed Python. A wheel build (``pip install .``)
also compiles them to C extension modules with mypyc, the compiler that ships with mypy,
and puts those next to the .py files, where Python imports them first. The source stays the
one truth: nothing here is hand-written C, and without a compiler the package is the same
pure-Python package it always was.

``ECC_DOCTOR_COMPILE`` chooses:

- ``auto`` (the default): compile when it works; when it does not (no C compiler, no Python
  headers, mypyc missing), say so on stderr and build the pure-Python wheel;
- ``0``: never compile (a pure-Python wheel, tagged ``py3-none-any``);
- ``1``: compile or fail the build (what the test of the compiled build asks for).

Editable installs (``pip install -e .``, the development and test setup) are never compiled:
there an edit to a .py file must take effect at once, which a compiled module next to it
would hide.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: the hot path of ``ecc-doctor analyze``, package-relative; each imports only stdlib and
#: other ecc_doctor modules (compiled or not)
COMPILED = (
    "ecc_doctor/captures/pcapfile.py",
    "ecc_doctor/captures/decode.py",
    "ecc_doctor/captures/records.py",
    "ecc_doctor/captures/reader.py",
    "ecc_doctor/captures/sipframing.py",
    "ecc_doctor/captures/sipassembler.py",
    "ecc_doctor/captures/tcpstream.py",
    "ecc_doctor/captures/shard.py",
    "ecc_doctor/captures/sip/common.py",
    "ecc_doctor/captures/sip/message.py",
    "ecc_doctor/captures/sip/prack.py",
    "ecc_doctor/captures/sip/register.py",
    "ecc_doctor/captures/sip/analyze.py",
)
#: the shared library of the compiled modules (at the top of site-packages, as mypyc lays out)
GROUP = "ecc_doctor_native"
#: seconds the compilation may take (about one minute on two slow cores)
TIMEOUT = 900

SETUP = """\
import sys
from setuptools import setup
from mypyc.build import mypycify

setup(
    name="ecc-doctor-native",
    ext_modules=mypycify(sys.argv.pop(1).split(","), opt_level="3", debug_level="0",
                         group_name={group!r}),
    script_args=["-q", "build_ext", "--inplace"],
)
"""


def mode() -> str:
    value = os.environ.get("ECC_DOCTOR_COMPILE", "auto").strip().lower() or "auto"
    if value not in ("auto", "0", "1"):
        raise ValueError(f"ECC_DOCTOR_COMPILE: expected auto, 0 or 1, got {value!r}")
    return value


class CompileFailed(Exception):
    pass


def compile_modules(src: Path, work: Path) -> list[tuple[Path, str]]:
    """Compile COMPILED from the package under *src* in *work*: (built file, path in wheel)."""
    shutil.copytree(
        src / "ecc_doctor",
        work / "ecc_doctor",
        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"),
    )
    (work / "setup_native.py").write_text(SETUP.format(group=GROUP), encoding="utf-8")
    # PYTHONPATH stays: pip's isolated build environment lends its packages (mypy,
    # setuptools) through it; mypy reads the copy in *work* (its current folder)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "setup_native.py", ",".join(COMPILED)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CompileFailed(f"mypyc could not run: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise CompileFailed(f"mypyc failed (exit {done.returncode}):\n{tail}")
    built = [
        (path, path.relative_to(work).as_posix())
        for pattern in ("*.so", "*.pyd")
        for path in work.rglob(pattern)
        if "build" not in path.relative_to(work).parts
    ]
    wanted = {Path(name).with_suffix("").as_posix() for name in COMPILED}
    got = {dest.split(".")[0] for _, dest in built}
    if not wanted <= got or not any(dest.startswith(GROUP) for _, dest in built):
        raise CompileFailed(f"mypyc built {sorted(got)}, not every module of {sorted(wanted)}")
    return built


class CompileHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        return [] if mode() == "0" else ["mypy>=1.10", "setuptools>=68"]

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        wanted = mode()
        if self.target_name != "wheel" or version == "editable" or wanted == "0":
            return
        self._work = Path(tempfile.mkdtemp(prefix="ecc-doctor-mypyc-"))
        try:
            built = compile_modules(Path(self.root) / "src", self._work)
        except CompileFailed as exc:
            if wanted == "1":
                raise
            self.app.display_warning(
                f"ecc-doctor: building pure Python, the capture analyzer is not compiled ({exc})."
                " Set ECC_DOCTOR_COMPILE=0 to skip this attempt."
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        for path, dest in built:
            build_data["force_include"][str(path)] = dest
        self.app.display_info(f"ecc-doctor: compiled {len(COMPILED)} modules with mypyc")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
