"""SIP message framing: what a SIP start line looks like, and where a message ends.

RFC 3261 section 7.5 / 18.3: a message is a start line, header fields, an empty line and a
body of Content-Length bytes (compact form ``l``). On a stream transport a missing
Content-Length means an empty body (we treat it as 0; RFC 3261 makes the header mandatory
there). Bare LF line ends are accepted, as most stacks do.
"""

from __future__ import annotations

import re
from typing import Final

MAX_HEADER: Final = 64 * 1024  # a header block longer than this is junk (bounded buffers)
MAX_BODY: Final = 1024 * 1024  # a Content-Length above this is junk

# request line `METHOD uri SIP/2.0` or status line `SIP/2.0 NNN `
_START: Final = re.compile(
    rb"(?:[A-Z][A-Za-z0-9._!%*+`'~-]{0,31} [^ \r\n]{1,4096} SIP/2\.0\r?\n|SIP/2\.0 [1-6][0-9][0-9][ \r\n])"
)
_HEADER_END: Final = re.compile(rb"\r?\n\r?\n")
CONTENT_LENGTH: Final = re.compile(rb"\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
SIP_FIRST_BYTES: Final = frozenset(range(ord("A"), ord("Z") + 1))  # where a start line can begin
_FIRST_BYTES: Final = SIP_FIRST_BYTES
_LINE_END: Final = re.compile(rb"\n")

NEED_MORE: Final = -1


class FramingError(Exception):
    """The bytes cannot be a SIP message (the message says why)."""


def looks_like_sip(data: bytes | bytearray, pos: int = 0, end: int = -1) -> bool:
    """True when ``data[pos:end]`` (to the end by default) starts with a SIP request or
    status line.

    The first-byte test keeps RTP (first byte 0x80-0xBF) and most binary traffic cheap.
    """
    if end < 0:
        end = len(data)
    return end > pos and data[pos] in _FIRST_BYTES and _START.match(data, pos, end) is not None


def could_become_sip(data: bytes | bytearray) -> bool:
    """True when *data* is a prefix that more bytes could turn into a start line."""
    if not data or data[0] not in _FIRST_BYTES:
        return False
    if _LINE_END.search(data, 0, 4200) is not None or len(data) > 4200:
        return looks_like_sip(data)
    return True


def content_length(header: bytes | bytearray) -> int | None:
    """The Content-Length in a header block (None when absent); FramingError when invalid."""
    found = CONTENT_LENGTH.findall(header)
    if not found:
        return None
    values = {v.strip() for v in found}
    if len(values) > 1:
        raise FramingError(
            f"conflicting Content-Length headers ({_show(b', '.join(sorted(values)))})"
        )
    value = values.pop()
    if not value.isdigit():
        raise FramingError(f"Content-Length is not a number ({_show(value)})")
    length = int(value)
    if length > MAX_BODY:
        raise FramingError(f"Content-Length {length} exceeds {MAX_BODY} bytes")
    return length


def header_end(data: bytes | bytearray, start: int = 0) -> int:
    """Offset just past the empty line ending the header block, or NEED_MORE."""
    start = max(start, 0)
    crlf = data.find(b"\r\n\r\n", start)
    if (
        crlf >= 0
        and data.find(b"\n\n", start, crlf + 2) < 0
        and data.find(b"\n\r\n", start, crlf + 2) < 0
    ):
        return crlf + 4
    found = _HEADER_END.search(data, start)  # bare LF line ends
    return found.end() if found else NEED_MORE


def frame_stream(data: bytearray, search_from: int = 0) -> tuple[int, int, int]:
    """``(message_length, search_from, expected)`` for the message at the start of *data*.

    ``message_length`` is NEED_MORE while incomplete. Then ``expected`` is the full length
    once the header block is complete (0 before), and ``search_from`` lets the caller resume
    the header search without rescanning. Raises FramingError for junk.
    """
    end = header_end(data, search_from)
    if end == NEED_MORE:
        if len(data) > MAX_HEADER:
            raise FramingError(f"no end of header block within {MAX_HEADER} bytes")
        if not could_become_sip(data):
            raise FramingError(f"not a SIP start line ({_show(bytes(data[:40]))})")
        return NEED_MORE, max(len(data) - 3, 0), 0
    if not looks_like_sip(data):
        raise FramingError(f"not a SIP start line ({_show(bytes(data[:40]))})")
    length = content_length(bytes(data[:end]))
    total = end + (length or 0)
    return (total if len(data) >= total else NEED_MORE), end, total


def _show(raw: bytes) -> str:
    text = raw.split(b"\n", 1)[0][:40].decode("latin-1")
    return "".join(ch if ch.isprintable() else "." for ch in text)
