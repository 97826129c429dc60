"""Which of N analysis processes owns a SIP message (``analyze --jobs N``).

Every process reads the whole capture but analyses only its share of the SIP messages: all
messages of one Call-ID go to the same process (an INVITE flow is one Call-ID), and every
REGISTER request and response goes to process 0, because the REGISTER rules look across
Call-IDs (contacts per AOR, a nonce used twice). The key is the first Call-ID header of the
header block as written (``Call-ID`` or compact ``i``), so it is cheap to find without
parsing the message. A Call-ID written two ways within one call (different spacing, a folded
line) could split that call over two processes; real stacks repeat the header byte for byte.

>>> shard_of(b"BYE sip:b@h SIP/2.0\\r\\nCall-ID: abc\\r\\n\\r\\n", 2) == shard_of(
...     b"SIP/2.0 200 OK\\r\\ni: abc \\r\\n\\r\\n", 2)
True
"""

from __future__ import annotations

import re
import zlib

_CALL_ID = re.compile(rb"\n[ \t]*(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
_CSEQ_METHOD = re.compile(rb"\n[ \t]*cseq[ \t]*:[ \t]*[0-9]+[ \t]+([A-Za-z]+)", re.IGNORECASE)
_MAX_HEAD = 65_536  # what the parser reads of a message (message.MAX_MESSAGE)


def _head_end(data: bytes) -> int:
    end = data.find(b"\r\n\r\n", 0, _MAX_HEAD)
    if end < 0:
        end = data.find(b"\n\n", 0, _MAX_HEAD)
    return end if end >= 0 else min(len(data), _MAX_HEAD)


def call_id_key(data: bytes, end: int = -1) -> bytes:
    """The first Call-ID value in the header block of *data* (which ends at *end* when
    given), stripped; b"" when there is none."""
    if end < 0:
        end = _head_end(data)
    # the common spelling first: one C-level search instead of a case-insensitive regex
    at = data.find(b"\r\nCall-ID:", 0, end)
    if at >= 0 and data.find(b"\ni:", 0, at) < 0 and data.find(b"\nI:", 0, at) < 0:
        stop = data.find(b"\r", at + 10, end + 1)
        return data[at + 10 : stop if stop >= 0 else end].strip()
    found = _CALL_ID.search(data, 0, end)
    return found.group(1).strip() if found else b""


def is_register(data: bytes, end: int = -1) -> bool:
    """A REGISTER request, or a response whose CSeq names REGISTER."""
    if not data.startswith(b"SIP/"):
        return data[:9].upper() == b"REGISTER "
    if end < 0:
        end = _head_end(data)
    # a quick no for nearly every response (other spellings than these take the regex)
    if data.find(b"EGISTER", 0, end) < 0 and data.find(b"egister", 0, end) < 0:
        return False
    found = _CSEQ_METHOD.search(data, 0, end)
    return found is not None and found.group(1).upper() == b"REGISTER"


def shard_of(data: bytes, count: int) -> int:
    """The process (0..count-1) that analyses the SIP message *data*."""
    if count <= 1:
        return 0
    end = _head_end(data)
    if is_register(data, end):
        return 0
    return zlib.crc32(call_id_key(data, end)) % count
