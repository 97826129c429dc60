"""Where each key of a TOML document is written: the line numbers for value errors.

:mod:`tomllib` gives values, not positions. :func:`key_lines` reads the document (already
known to be valid TOML) line by line: table headers, ``key = value`` lines (dotted and quoted
keys too) and the lines inside multi-line arrays, inline tables and strings, which hold no keys.

>>> lines = key_lines('[cm]\\nhost = "h"\\nport = "22"\\n[timeouts.checks]\\n"cm.license" = 5\\n')
>>> line_of(lines, ("cm", "port")), line_of(lines, ("timeouts", "checks", "cm.license"))
(3, 5)
>>> line_of(lines, ("cm", "nosuch")), line_of(lines, ("aes",))
(1, None)
"""

from __future__ import annotations

import json
import re

Key = tuple[str, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_SPACE = re.compile(r"[ \t]*")


def _parse_key(text: str, pos: int) -> tuple[Key, int] | None:
    """A dotted key at *pos* (``a."b.c".'d'``) and the position after it, or None."""
    parts: list[str] = []
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]  # always matches
        if text.startswith('"', pos):
            end = pos + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                return None
            raw = text[pos : end + 1]
            try:
                parts.append(str(json.loads(raw)))
            except ValueError:
                parts.append(raw[1:-1])
            pos = end + 1
        elif text.startswith("'", pos):
            end = text.find("'", pos + 1)
            if end < 0:
                return None
            parts.append(text[pos + 1 : end])
            pos = end + 1
        else:
            m = _BARE.match(text, pos)
            if not m:
                return None
            parts.append(m.group())
            pos = m.end()
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if not text.startswith(".", pos):
            return tuple(parts), pos
        pos += 1


class _ValueScanner:
    """Follows values over lines: open brackets/braces and multi-line strings."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_string: str | None = None  # '"""' or "'''" while inside one

    @property
    def inside(self) -> bool:
        return self.depth > 0 or self.in_string is not None

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            if self.in_string is not None:
                end = text.find(self.in_string, i)
                if end < 0:
                    return
                if self.in_string == '"""':  # an escaped quote does not end it
                    backslashes = len(text[:end]) - len(text[:end].rstrip("\\"))
                    if backslashes % 2:
                        i = end + 1
                        continue
                i = end + 3
                while text.startswith(self.in_string[0], i):  # up to two quotes before the end
                    i += 1
                self.in_string = None
                continue
            ch = text[i]
            if ch == "#":
                return
            if text.startswith(('"""', "'''"), i):
                self.in_string = text[i : i + 3]
                i += 3
            elif ch == '"':
                i += 1
                while i < len(text) and text[i] != '"':
                    i += 2 if text[i] == "\\" else 1
                i += 1
            elif ch == "'":
                end = text.find("'", i + 1)
                i = len(text) if end < 0 else end + 1
            else:
                if ch in "[{":
                    self.depth += 1
                elif ch in "]}":
                    self.depth = max(0, self.depth - 1)
                i += 1


def key_lines(text: str) -> list[tuple[Key, int]]:
    """(full key, line number from 1) of every table header and key in *text*, in order."""
    out: list[tuple[Key, int]] = []
    table: Key = ()
    values = _ValueScanner()
    for number, line in enumerate(text.splitlines(), start=1):
        if values.inside:
            values.feed(line)
            continue
        stripped = line.lstrip()
        start = len(line) - len(stripped)
        if stripped.startswith("["):
            array = stripped.startswith("[[")
            parsed = _parse_key(line, start + (2 if array else 1))
            if parsed is not None:
                table = parsed[0]
                out.append((table, number))
            continue
        parsed = _parse_key(line, start)
        if parsed is None:
            continue
        key, pos = parsed
        if not line.startswith("=", pos):
            continue
        out.append((table + key, number))
        values.feed(line[pos + 1 :])
    return out


def _same(written: str, wanted: str) -> bool:
    """Keys may be written with '-' for '_' (the schema accepts both)."""
    return written == wanted or written.replace("-", "_") == wanted.replace("-", "_")


def line_of(lines: list[tuple[Key, int]], key: Key) -> int | None:
    """The line where *key* is written (or, for a table, first written into); else the line
    of the longest written key or table that contains it (a missing key: its section's
    header); None when nothing matches."""
    best: tuple[int, int] | None = None  # (matched parts, line)
    for written, number in lines:
        common = min(len(written), len(key))
        if not all(map(_same, written[:common], key[:common])):
            continue
        if best is None or common > best[0]:
            best = (common, number)
    return best[1] if best else None
