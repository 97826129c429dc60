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

import re
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
#: controls (0x9b is CSI on its own) and the bidirectional overrides (text shown reversed)
_JSON_RAW = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def json_text(text: str) -> str:
    """A JSON document written by json.dumps(ensure_ascii=False), with the characters above
    written as ``\\u`` escapes: the same JSON, and ``cat`` of it drives no terminal (they
    can only occur inside strings, where ``\\u00XX`` means the same character)."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def without_surrogates(value: Any) -> Any:
    """*value* (JSON-like: dicts, lists, tuples, strings, numbers) with :func:`no_surrogates`
    applied to every string, keys included."""
    if isinstance(value, str):
        return no_surrogates(value)
    if isinstance(value, dict):
        return {without_surrogates(k): without_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_surrogates(v) for v in value]
    return value
