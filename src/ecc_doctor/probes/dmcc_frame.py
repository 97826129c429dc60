"""DMCC framing (ECMA-323 Annex G, "CSTA XML without SOAP") and safe XML parsing.

Every message is an 8-byte header and an XML body (PROTOCOLS.md 2.2):

```
byte 0-1  version   uint16 big-endian, 0x0000
byte 2-3  length    uint16 big-endian, TOTAL length including the header
byte 4-7  invoke ID 4 ASCII digits; 0001..9998 for requests, 9999 for unsolicited events
byte 8..  XML
```

>>> decode_header(encode_frame(1, b"<a/>")[:8])
FrameHeader(version=0, length=12, invoke_id=1)
"""

from __future__ import annotations

import asyncio
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ecc_doctor.errors import ConnectError, ProbeTimeout, ProtocolError
from ecc_doctor.probes.timefmt import seconds

HEADER = struct.Struct(">HH4s")
HEADER_LEN = HEADER.size
MAX_LENGTH = 0xFFFF
EVENT_INVOKE_ID = 9999
MAX_INVOKE_ID = 9998
#: Header versions we accept from the peer. 0x0000 is what Avaya's clients send [CODE]; one
#: PHP client sends ASCII "00" (0x3030) and AES seems to ignore the field [CODE-1].
ACCEPTED_VERSIONS = frozenset({0x0000, 0x3030})


@dataclass(frozen=True)
class FrameHeader:
    """The decoded 8-byte header."""

    version: int
    length: int
    invoke_id: int


@dataclass(frozen=True)
class Frame:
    """One whole DMCC message."""

    invoke_id: int
    body: bytes
    version: int = 0


def encode_frame(invoke_id: int, body: bytes, version: int = 0) -> bytes:
    """Header plus *body*; ProtocolError if it cannot be framed (too long, bad invoke ID)."""
    total = HEADER_LEN + len(body)
    if total > MAX_LENGTH:
        raise ProtocolError(f"DMCC message of {total} bytes exceeds the 65535-byte frame limit")
    if not 0 <= invoke_id <= EVENT_INVOKE_ID:
        raise ProtocolError(f"DMCC invoke ID {invoke_id} is outside 0000..9999")
    return HEADER.pack(version, total, f"{invoke_id:04d}".encode("ascii")) + body


def decode_header(
    data: bytes,
    *,
    max_length: int = MAX_LENGTH,
    accepted_versions: frozenset[int] = ACCEPTED_VERSIONS,
) -> FrameHeader:
    """Validate and decode an 8-byte header; ProtocolError names what is wrong."""
    if len(data) != HEADER_LEN:
        raise ProtocolError(f"DMCC header must be 8 bytes, got {len(data)}")
    version, length, raw_id = HEADER.unpack(data)
    if version not in accepted_versions:
        raise ProtocolError(f"DMCC header version 0x{version:04x} is not one we accept")
    if length < HEADER_LEN:
        raise ProtocolError(f"DMCC frame length {length} is shorter than its 8-byte header")
    if length > max_length:
        raise ProtocolError(f"DMCC frame length {length} exceeds the limit of {max_length} bytes")
    if not (raw_id.isascii() and raw_id.isdigit()):
        raise ProtocolError(f"DMCC invoke ID {raw_id!r} is not 4 ASCII digits")
    return FrameHeader(version, length, int(raw_id))


async def read_frame(
    reader: asyncio.StreamReader,
    timeout: float,
    *,
    idle_timeout: float | None = -1.0,
    max_length: int = MAX_LENGTH,
    accepted_versions: frozenset[int] = ACCEPTED_VERSIONS,
) -> Frame:
    """Read one whole frame, waiting until every byte its header announced has arrived.

    The header must start within *idle_timeout* (default: *timeout*; None waits for ever, for
    a reader loop between messages); the rest must follow within *timeout*. ConnectError when
    the peer closes, ProbeTimeout when it stalls, ProtocolError for a bad header. Never waits
    for more than the header announced.
    """
    idle = timeout if idle_timeout is not None and idle_timeout < 0 else idle_timeout
    try:
        async with asyncio.timeout(idle):
            raw_head = await reader.readexactly(HEADER_LEN)
        head = decode_header(raw_head, max_length=max_length, accepted_versions=accepted_versions)
        async with asyncio.timeout(timeout):
            body = await reader.readexactly(head.length - HEADER_LEN)
    except asyncio.IncompleteReadError as exc:
        where = "between messages" if not exc.partial else "in the middle of a message"
        raise ConnectError(f"AES closed the DMCC connection {where}") from exc
    except TimeoutError as exc:
        raise ProbeTimeout(
            f"no complete DMCC message from AES within {seconds(timeout)} s"
        ) from exc
    except OSError as exc:
        raise ConnectError(f"DMCC connection lost: {exc.strerror or exc}") from exc
    return Frame(head.invoke_id, body, head.version)


def parse_xml(body: bytes) -> ET.Element:
    """Parse a frame body; ProtocolError if it is not XML or declares entities/DTDs."""
    try:
        root: ET.Element = fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ProtocolError(f"DMCC message refused: XML with a DTD or entities ({exc})") from exc
    except ET.ParseError as exc:
        raise ProtocolError(f"DMCC message body is not XML ({exc})") from exc
    return root


def local_name(tag: str) -> str:
    """``{ns}Name`` -> ``Name``."""
    return tag.rsplit("}", 1)[-1]


def child_text(element: ET.Element, path: str) -> str:
    """Text of the first descendant whose local-name path matches ``a/b`` (namespaces ignored).

    >>> child_text(ET.fromstring('<r xmlns="urn:x"><a><b> 7 </b></a></r>'), "a/b")
    '7'
    """
    current = [element]
    for name in path.split("/"):
        current = [c for e in current for c in e.iter() if c is not e and local_name(c.tag) == name]
        if not current:
            return ""
    return (current[0].text or "").strip()
