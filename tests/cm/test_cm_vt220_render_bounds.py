"""The VT220 renderer stays small and quick whatever a screen sends (review s6 F1): cursor
addressing is clamped to 80x24, huge numbers cost nothing, C1 controls are dropped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ecc_doctor.probes.vt220 import COLS, ROWS, pages

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize(
    "seq",
    ["\x1b[100000000;1H", "\x1b[1;999999999H", "\x1b[99999999999999999999;9" + "9" * 5000 + "H"],
)
def test_a_far_cursor_address_stays_on_the_screen(seq: str) -> None:
    (page,) = pages(f"\x1b[2J{seq}x")
    assert len(page) <= ROWS and all(len(line) <= COLS for line in page)
    assert page[-1].endswith("x")


def test_c1_controls_and_del_are_dropped() -> None:
    (page,) = pages("\x1b[2J\x1b[3;1Hok\x9b31m\x7f\x90!")
    assert page[2] == "ok31m!"


def test_sat_parse_of_a_hostile_screen_is_quick_and_not_an_internal_error(tmp_path: Path) -> None:
    screen = tmp_path / "screen.txt"
    screen.write_text("status aesvcs cti-link\n\x1b[1;999999999Hx\x1b[100000000;1Hy\n")
    done = subprocess.run(
        [sys.executable, "-m", "ecc_doctor", "sat", "parse", str(screen)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode in (0, 1, 2) and "internal error" not in done.stderr, done.stderr
