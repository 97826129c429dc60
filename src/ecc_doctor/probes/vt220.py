"""A tiny VT220 renderer: enough of the escape codes CM's SAT uses to turn its output into lines.

CM paints 80x24 pages with cursor positioning (``ESC[row;colH``), erase-to-end-of-line
(``ESC[K``) and clear screen (``ESC[2J``); attributes (``ESC[...m``) and other sequences are
dropped. Each cleared screen starts a new page; pages come back one after the other.
Text without escape sequences passes through unchanged (pasted screens).

Whatever a screen sends, a page stays small: cursor addressing is clamped to the 80x24
screen as a terminal does, and text advancing past MAX_COLS columns or MAX_ROWS rows (a
paste of many lines) is dropped, so ``ESC[999999999;1H`` costs nothing. DEL and the C1
controls (0x7f-0x9f; 0x9b is CSI on its own) are dropped like the C0 ones.
"""

from __future__ import annotations

import re

_SEQ = re.compile(r"\x1b(?:\[([0-9;?]*)([A-Za-z@~])|[()][0-9A-Za-z]|[=>78DEMc])")
ROWS, COLS = 24, 80
#: how far text (not cursor addressing) may run: a pasted screen can be longer than 24 rows
MAX_ROWS, MAX_COLS = 4096, 512


class _Page:
    def __init__(self) -> None:
        self.cells: dict[int, list[str]] = {}
        self.row = 0
        self.col = 0

    def put(self, text: str) -> None:
        for ch in text:
            if ch == "\r":
                self.col = 0
            elif ch == "\n":
                self.row = min(self.row + 1, MAX_ROWS - 1)
            elif ch >= " " and not "\x7f" <= ch <= "\x9f" and self.col < MAX_COLS:
                line = self.cells.setdefault(self.row, [])
                if len(line) < self.col:
                    line.extend(" " * (self.col - len(line)))
                if self.col < len(line):
                    line[self.col] = ch
                else:
                    line.append(ch)
                self.col += 1

    def erase_line(self) -> None:
        line = self.cells.get(self.row)
        if line is not None:
            del line[self.col :]

    def lines(self) -> list[str]:
        if not self.cells:
            return []
        return ["".join(self.cells.get(r, [])).rstrip() for r in range(max(self.cells) + 1)]


def _numbers(params: str) -> list[int]:
    """The numbers of a CSI sequence; one of more than 9 digits counts as 10**9 (off the
    screen anyway, and int() of a long digit string is slow or refused)."""
    return [(int(p) if len(p) <= 9 else 10**9) if p.isdigit() else 0 for p in params.split(";")]


def render(text: str) -> list[str]:
    """The lines of *text* as a VT220 would show them (pages appended in order)."""
    if "\x1b" not in text:
        return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [line for page in pages(text) for line in page]


def pages(text: str) -> list[list[str]]:
    """Each screen of *text* (a cleared screen starts the next) as its rows: index 0 is the
    top row, so ``page[22]`` is row 23, where CM shows its messages (if the page reaches it).
    """
    screens: list[_Page] = [_Page()]
    pos = 0
    for m in _SEQ.finditer(text):
        page = screens[-1]
        page.put(text[pos : m.start()])
        pos = m.end()
        params, final = m.group(1) or "", m.group(2)
        if final in ("H", "f"):
            nums = _numbers(params) + [0, 0]
            page.row = min(max(nums[0], 1), ROWS) - 1  # a terminal keeps the cursor on screen
            page.col = min(max(nums[1], 1), COLS) - 1
        elif final == "K":
            page.erase_line()
        elif final == "J" and (params in ("2", "3") or page.row == 0) and page.cells:
            screens.append(_Page())  # a cleared screen is the next page
    screens[-1].put(text[pos:])
    return [page.lines() for page in screens]
