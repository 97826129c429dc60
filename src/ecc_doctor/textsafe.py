"""Text from the outside world (capture payloads, file names, remote screens, plugins) made
safe to show: on a terminal, in JSON and in XML.

- A file name that is not UTF-8 reaches Python with lone surrogates (``'caf\\udce9.pcap'``);
  written as UTF-8 they raise, and written raw they make the report invalid UTF-8.
  :func:`no_surrogates` shows each as ``\\xe9``, the byte it stands for.
- Control characters from a capture (``ESC]0;title BEL``, ``ESC[2J``) would drive the
  engineer's terminal: retitle it, clear it, hide a FAIL line. :func:`terminal_text` shows
  them as ``\\x1b`` etc. JSON escapes them itself, and the JUnit writer drops those XML 1.0
  forbids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
#: C0 controls but tab, DEL, and the C1 controls (ESC [ is CSI; 0x9b is CSI on its own)
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code > 0xFF:
        return f"\\u{code:04x}"
    return f"\\x{code:02x}"


def no_surrogates(text: str) -> str:
    """*text* with each lone surrogate shown as the byte it stands for (``\\xe9``)."""
    return _SURROGATE.sub(_escape, text) if _SURROGATE.search(text) else text


def terminal_text(text: str) -> str:
    """One line of *text* safe to print on a terminal: control characters (newlines too) and
    lone surrogates shown as escapes, so nothing in it can drive the terminal."""
    return _CONTROL.sub(_escape, text) if _CONTROL.search(text) else text


#: what json.dumps(ensure_ascii=False) leaves raw that a terminal would act on: the C1
#: controls (0x9b is CSI on its own) and the bidirectional overrides (text shown reversed);
#: and the lone surrogates of a file name that is not UTF-8, which cannot be written as UTF-8
_JSON_RAW = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xD800 <= code <= 0xDFFF:
        # the JSON of no_surrogates()'s text: a backslash (escaped) and the byte or code
        return "\\" + _escape(match)
    return f"\\u{code:04x}"


def json_text(text: str) -> str:
    """A JSON document written by json.dumps(ensure_ascii=False), with the characters above
    written as ``\\u`` escapes: the same JSON, and ``cat`` of it drives no terminal (they
    can only occur inside strings, where ``\\u00XX`` means the same character). A lone
    surrogate becomes what :func:`no_surrogates` shows for it (``\\xe9``), as a string."""
    return _JSON_RAW.sub(_json_escape, text) if _JSON_RAW.search(text) else text


def json_document(doc: Mapping[str, Any], *, one_per_line: Collection[str] = ()) -> str:
    """*doc* as JSON text made safe by :func:`json_text`, indented by 2, except that each
    item of the top-level lists named in *one_per_line* is written on one line.

    Python's json indents through its pure-Python encoder, about ten times slower than the
    C one it uses without indent: the thousands of flows of a big capture took seconds
    (about 2 s for 25,000 flows). Their items go through the C encoder, one line each (a
    line per flow also suits grep); the rest, small, stays fully indented.
    """
    one_line = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    parts = []
    for key, value in doc.items():
        if not isinstance(key, str):  # as json.dumps writes a number, bool or None key
            key = json.dumps(key)
        if key in one_per_line and isinstance(value, list) and value:
            items = ",\n".join("    " + one_line(item) for item in value)
            parts.append(f"  {one_line(key)}: [\n{items}\n  ]")
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False)
            parts.append(f"  {one_line(key)}: " + text.replace("\n", "\n  "))
    body = ",\n".join(parts)
    return json_text("{\n" + body + "\n}" if parts else "{}") + "\n"
