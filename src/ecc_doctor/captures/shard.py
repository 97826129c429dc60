"""Which of N analysis processes owns a SIP message (``analyze --jobs N``).

The reading process deals the SIP messages out to the analysis processes: all messages of
one Call-ID go to the same process (an INVITE flow is one Call-ID), and every REGISTER
request and response goes to process 0, because the REGISTER rules look across Call-IDs
(contacts per AOR, a nonce used twice). The key is the first Call-ID header of the header
block as written (``Call-ID`` or compact ``i``), so it is cheap to find without parsing the
message: the common spelling ``Call-ID:`` is looked for first, and a status line whose
header block does not hold the word "register" in any case cannot answer a REGISTER; other
spellings (``i``, ``call-id``, ``CSEQ``...) are read by the general rule only when those
tests cannot decide. Only a malformed
message could be placed differently than the analysis sees it (a Call-ID or CSeq header
twice, spelled two ways; a Call-ID written two ways within one call, or a folded one); its
call would then be judged in two processes. Real stacks repeat these headers byte for byte.

>>> shard_of(b"BYE sip:b@h SIP/2.0\\r\\nCall-ID: abc\\r\\n\\r\\n", 2) == shard_of(
...     b"SIP/2.0 200 OK\\r\\ni: abc \\r\\n\\r\\n", 2)
True
"""

from __future__ import annotations

import re
import zlib
from typing import Final

_CALL_ID: Final = re.compile(rb"\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
_CSEQ_METHOD: Final = re.compile(rb"\ncseq[ \t]*:[ \t]*[0-9]+[ \t]+([A-Za-z]+)", re.IGNORECASE)
_MAX_HEAD: Final = 65_536  # what the parser reads of a message (message.MAX_MESSAGE)
_R: Final = (0x52, 0x72)  # "R" and "r": the first byte of what upper-cases to "REGISTER "

# Every function takes the message as ``data[start:stop]``; the reading process passes the
# message itself (it copies each SIP payload out of its read buffer for the record anyway).


def _head_end(data: bytes, start: int, stop: int) -> int:
    limit = min(stop, start + _MAX_HEAD)
    end = data.find(b"\r\n\r\n", start, limit)
    if end < 0:
        end = data.find(b"\n\n", start, limit)
    return end if end >= 0 else limit


def call_id_key(data: bytes, start: int = 0, stop: int = -1, end: int = -1) -> bytes:
    """The first Call-ID value in the header block of ``data[start:stop]`` (which ends at
    *end* when given), stripped; b"" when there is none."""
    if stop < 0:
        stop = len(data)
    if end < 0:
        end = _head_end(data, start, stop)
    # the common spelling first: one C-level search instead of a case-insensitive regex
    at = data.find(b"\r\nCall-ID:", start, end)
    if at >= 0:
        cut = data.find(b"\r", at + 10, end + 1)
        return data[at + 10 : cut if cut >= 0 else end].strip()
    found = _CALL_ID.search(data, start, end)
    return found.group(1).strip() if found else b""


def is_register(data: bytes, start: int = 0, stop: int = -1, end: int = -1) -> bool:
    """``data[start:stop]`` is a REGISTER request, or a response whose CSeq names REGISTER."""
    if not data.startswith(b"SIP/", start):
        return data[start : start + 9].upper() == b"REGISTER "
    if stop < 0:
        stop = len(data)
    if end < 0:
        end = _head_end(data, start, stop)
    at = data.find(b"\r\nCSeq:", start, end)
    if at >= 0:
        # the common spelling: the method is the second word after the colon
        cut = data.find(b"\r", at + 7, end + 1)
        words = data[at + 7 : cut if cut >= 0 else end].split(None, 2)
        return len(words) > 1 and words[1].upper() == b"REGISTER"
    found = _CSEQ_METHOD.search(data, start, end)
    return found is not None and found.group(1).upper() == b"REGISTER"


def shard_of(data: bytes, count: int, start: int = 0, stop: int = -1) -> int:
    """The process (0..count-1) that analyses the SIP message ``data[start:stop]``."""
    if count <= 1:
        return 0
    if start or 0 <= stop < len(data):
        data = data[start : stop if stop >= 0 else len(data)]
    # is_register() and call_id_key() inlined for the common spellings: this runs in the
    # reading process for every SIP message of the capture, so it uses the calls that cost
    # least in Python 3.11: partition() and "in" take one argument and search at C level,
    # where find() with bounds parses them from a format string (some hundreds of
    # instructions a call). The header block is split off once and searched alone.
    head, blank, _ = data.partition(b"\r\n\r\n")
    end = len(head)
    if not blank or end > _MAX_HEAD - 4:  # no end within what the parser reads
        size = len(data)
        end = _head_end(data, 0, size)
        if is_register(data, 0, size, end):
            return 0
        return zlib.crc32(call_id_key(data, 0, size, end)) % count
    first = data[0]
    if first == 0x53:  # "S": a status line (or a request such as SUBSCRIBE, which
        # is_register() tells apart). A REGISTER CSeq, in any case (the parser upper-cases
        # the method), needs the word in the header block: one lower-cased copy rules out
        # nearly every other message before the exact test
        if b"register" in head.lower() and is_register(data, 0, len(data), end):
            return 0
    elif first in _R and data[:9].upper() == b"REGISTER ":
        return 0
    _, found, value = head.partition(b"\r\nCall-ID:")
    if not found:
        return zlib.crc32(call_id_key(data, 0, len(data), end)) % count
    # the value ends at its line's CR (the header block's last line has none in head)
    return zlib.crc32(value.partition(b"\r")[0].strip()) % count
