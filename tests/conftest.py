"""Shared test helpers: the anyio backend, system-tool requirements, the lab."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from ecc_doctor.lab import Lab


def pytest_configure(config: pytest.Config) -> None:
    """Give this process (each xdist worker too) Python's Ctrl-C handler when it inherited
    an ignored SIGINT: a test runner started in the background by a shell without job
    control does, every CLI a test starts would inherit it (Python keeps an ignored SIGINT),
    and the tests that press Ctrl-C on the CLI, as a terminal does, would wait in vain."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        with contextlib.suppress(ValueError):  # not the main thread: left as it is
            signal.signal(signal.SIGINT, signal.default_int_handler)


IN_CI = os.environ.get("CI", "").lower() == "true"
# ../shared next to the checkout (design notes, seeds, public captures); ECC_DOCTOR_SHARED
# points elsewhere when the checkout lives somewhere else.
SHARED = Path(os.environ.get("ECC_DOCTOR_SHARED") or Path(__file__).resolve().parents[2] / "shared")
PUBLIC_CAPTURES = SHARED / "captures" / "public"
SEEDS = SHARED / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_module(path: Path, name: str) -> ModuleType:
    """The Python file at *path* as a module named *name* (the tests are imported with
    --import-mode=importlib, so a helper beside them is loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def require_tool(name: str, *candidates: str) -> str:
    """Path of a system tool; skip locally when missing, fail in CI (CI=true) so nothing
    silently stops being tested."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate)
        if found:
            return found
    message = f"{name} is not installed (Debian package needed; .ci/run installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def require_shared(path: Path) -> Path:
    """A file from ../shared (copyleft captures and seeds are read there, never copied).

    Skips when the whole folder is absent (a checkout on its own; set ECC_DOCTOR_SHARED);
    when the folder is there but the file is not, that is a failure in CI.
    """
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not available (set ECC_DOCTOR_SHARED to the shared folder)")
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is missing from {SHARED}")
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    """A running lab site on loopback (function-scoped: faults never leak between tests)."""
    async with Lab() as running:
        yield running
