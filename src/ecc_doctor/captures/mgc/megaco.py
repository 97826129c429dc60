"""Just enough text MEGACO (H.248.1 Annex B) to see ServiceChange registrations and replies.

Over TCP, messages are framed with TPKT (H.248.4: version 3, reserved 0, 16-bit length that
counts the 4-byte header); over UDP (port 2944) a datagram holds one message. Long and short
tokens are both accepted (``Transaction``/``T``, ``Reply``/``P``, ``ServiceChange``/``SC``,
``Error``/``ER``, ``Method``/``MT``). Binary H.248 (ASN.1) and TLS payloads are not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_MESSAGE = 65535

_HEADER = re.compile(rb"^\s*(?:MEGACO|!)/(\d+)\s+(\S+)", re.I)
_TRANSACTION = re.compile(r"\b(?:Transaction|T)\s*=\s*(\d+)", re.I)
_REPLY = re.compile(r"\b(?:Reply|P)\s*=\s*(\d+)", re.I)
_PENDING = re.compile(r"\b(?:TransactionPending|PN)\s*=\s*(\d+)", re.I)
_SERVICE_CHANGE = re.compile(r"\b(?:ServiceChange|SC)\s*=", re.I)
_METHOD = re.compile(r"\b(?:Method|MT)\s*=\s*([A-Za-z]+)", re.I)
_ERROR = re.compile(r"\b(?:Error|ER)\s*=\s*(\d+)", re.I)
# ServiceChangeMgcId (RFC 3525 §7.2.8, Annex B "MgcIdToTry" / "MG"): go to that MGC instead
_REDIRECT = re.compile(r"\b(?:MgcIdToTry|MG)\s*=\s*([^\s,}]+)", re.I)


@dataclass(frozen=True)
class MegacoMessage:
    """One text MEGACO message: a transaction request, a reply or a pending notice."""

    kind: str  # "request", "reply", "pending"
    transaction_id: int
    mid: str
    service_change: bool
    method: str = ""
    error: str = ""
    redirect: str = ""  # the MGC a ServiceChange reply sends the gateway to


def split_tpkt(data: bytes) -> list[bytes]:
    """The TPKT packets in *data* (whole ones only); [] when it is not TPKT."""
    out = []
    pos = 0
    while pos + 4 <= len(data) and data[pos] == 3 and data[pos + 1] == 0:
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 5 or pos + length > len(data):
            break
        out.append(data[pos + 4 : pos + length])
        pos += length
    return out


def parse_stream(data: bytes) -> tuple[list[MegacoMessage], bytes]:
    """Messages in TCP bytes, and the start of a TPKT packet still incomplete (to keep).

    Bytes that are not TPKT are read as one bare text message (nothing is kept).
    """
    if len(data) < 4 and b"\x03\x00".startswith(data[:2]):
        return [], data  # the start of a TPKT header
    if len(data) < 4 or data[0] != 3 or data[1] != 0:
        msg = parse_message(data[:MAX_MESSAGE])
        return ([msg] if msg else []), b""
    out: list[MegacoMessage] = []
    pos = 0
    while pos + 4 <= len(data) and data[pos] == 3 and data[pos + 1] == 0:
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 5:
            return out, b""
        if pos + length > len(data):
            return out, data[pos:]
        msg = parse_message(data[pos + 4 : pos + length])
        if msg is not None:
            out.append(msg)
        pos += length
    rest = data[pos:]
    return out, rest if 0 < len(rest) < 4 and rest[0] == 3 else b""


def parse_payload(data: bytes) -> list[MegacoMessage]:
    """Text MEGACO messages in a TCP segment (TPKT-framed or bare) or a UDP datagram."""
    bodies = split_tpkt(data) or [data]
    out = []
    for body in bodies:
        msg = parse_message(body[:MAX_MESSAGE])
        if msg is not None:
            out.append(msg)
    return out


def parse_message(body: bytes) -> MegacoMessage | None:
    """One message, or None when *body* is not text MEGACO."""
    header = _HEADER.match(body)
    if header is None:
        return None
    mid = header.group(2).decode("ascii", "replace")
    text = body[header.end() :].decode("ascii", "replace")
    for kind, pattern in (("reply", _REPLY), ("pending", _PENDING), ("request", _TRANSACTION)):
        m = pattern.search(text)
        if m:
            method = _METHOD.search(text)
            error = _ERROR.search(text)
            sc = bool(_SERVICE_CHANGE.search(text))
            redirect = _REDIRECT.search(text) if kind == "reply" and sc else None
            return MegacoMessage(
                kind=kind,
                transaction_id=int(m.group(1)),
                mid=mid,
                service_change=sc,
                method=method.group(1) if method else "",
                error=error.group(1) if error else "",
                redirect=redirect.group(1) if redirect else "",
            )
    return None
