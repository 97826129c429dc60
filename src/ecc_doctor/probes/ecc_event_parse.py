"""ECC event parsing: Eventing Connector deliveries (JSON, multipart) -> EventRecord.

Three shapes are read, all bounded:

* ``application/json`` envelope (PROTOCOLS.md 1.4): ``{eventId, family, type, subscriptionId,
  publicationTimestamp, eventMetaData, eventBody{...}}``;
* ``multipart/form-data``: the same as separate form fields, the payload in ``eventBody``;
* the ECC event itself as the seed article prints it (``event { callEvent: ALERTING ...``),
  accepted as an ``eventBody`` string or a whole body, so logged samples are readable too.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

MAX_FIELDS = 200
MAX_TEXT_LINES = 400


class EventParseError(ValueError):
    """A delivery we cannot read as an event; the message says why in a few words."""


@dataclass(frozen=True)
class EventRecord:
    """One ECC event as received: the fields a check matches on, plus the raw payload."""

    type: str
    call_id: str = ""
    connection_id: str = ""
    connection_href: str = ""
    participants: tuple[str, ...] = ()
    alerting: tuple[str, ...] = ()
    address: str = ""
    calling: str = ""
    called: str = ""
    operations: dict[str, str] = field(default_factory=dict)
    event_id: str = ""
    subscription_id: str = ""
    published_ms: float | None = None
    received_at: float = field(default_factory=time.monotonic)
    out_of_order: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for FAIL messages: ``ACTIVE for call 17 at 3302``."""
        where = f" at {self.address}" if self.address else ""
        return f"{self.type or '?'} for call {self.call_id or '?'}{where}"


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    if isinstance(value, (str, int)):
        return tuple(p.strip() for p in str(value).split(",") if p.strip())
    return ()


def _first(data: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = data.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) != "":
            return str(value)
    return ""


def _tail(href: str) -> str:
    path = href.split("?", 1)[0].rstrip("/")
    return path.rsplit("/", 1)[-1] if "/" in path else ""


def _operations(value: Any) -> dict[str, str]:
    ops: dict[str, str] = {}
    items = value if isinstance(value, list) else [value]
    for item in items[:MAX_FIELDS]:
        if isinstance(item, dict):
            ops.update({str(k): str(v) for k, v in item.items() if isinstance(v, (str, int))})
        elif isinstance(item, str):
            ops.update(_href_pairs(item))
    return ops


_HREF_PAIR = re.compile(r"(\w+Href)\s*:\s*((?!\w+Href\s*:)\S*)")


def _href_pairs(text: str) -> dict[str, str]:
    """``endCallHref: https://x holdCallHref:`` -> {endCallHref: https://x, holdCallHref: ''}."""
    out = {}
    for name, value in _HREF_PAIR.findall(text):
        out[name] = value.rstrip("],")
    return out


def record_from_body(body: dict[str, Any], envelope: dict[str, Any] | None = None) -> EventRecord:
    """An EventRecord from an ECC event body (and the delivery envelope, if any)."""
    env = envelope or {}
    kind = _first(body, "callEvent", "eventType", "type") or _first(env, "type")
    if not kind:
        raise EventParseError("no callEvent/type in the event")
    call_href = _first(body, "callHref")
    conn_href = _first(body, "connectionHref")
    published = env.get("publicationTimestamp", body.get("publicationTimestamp"))
    return EventRecord(
        type=kind.strip().upper(),
        call_id=_first(body, "callID", "callId") or _tail(call_href),
        connection_id=_first(body, "connectionId", "connectionID") or _tail(conn_href),
        connection_href=conn_href,
        participants=_names(body.get("participants")),
        alerting=_names(body.get("alertingParticipants")),
        address=_first(body, "address"),
        calling=_first(body, "originalCallingParticipant"),
        called=_first(body, "originalCalledParticipant"),
        operations=_operations(body.get("operations")),
        event_id=_first(env, "eventId"),
        subscription_id=_first(env, "subscriptionId"),
        published_ms=float(published) if isinstance(published, (int, float)) else None,
        raw={"envelope": env, "body": body} if env else {"body": body},
    )


_LINE = re.compile(r"^\s*([A-Za-z][\w-]*)\s*:\s*(.*?)\s*$")


def parse_event_text(text: str) -> dict[str, Any]:
    """The seed article's printed form (``event { callEvent: ALERTING ... }``) -> a body dict.

    ``operations: [ a: x b: y ]`` may span lines; a key with nothing after the colon is kept
    empty (the seed's ``holdCallHref:``).
    """
    body: dict[str, Any] = {}
    ops: list[str] = []
    in_ops = False
    for line in text.splitlines()[:MAX_TEXT_LINES]:
        stripped = line.strip()
        if stripped in ("", "}", "event {", "event{", "{"):
            continue
        if in_ops:
            ops.append(stripped)
            in_ops = not stripped.endswith("]")
            continue
        m = _LINE.match(stripped)
        if not m:
            continue
        key, value = m.groups()
        if key == "operations":
            rest = value.lstrip("[").strip()
            ops.append(rest)
            in_ops = not value.endswith("]")
        else:
            body[key] = value
    if ops:
        body["operations"] = _href_pairs(" ".join(ops))
    if not any(k in body for k in ("callEvent", "eventType", "type")):
        raise EventParseError("no 'callEvent:' line in the text")
    return body


def _decode_body_text(text: str) -> dict[str, Any]:
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise EventParseError(f"eventBody is not valid JSON ({exc.msg})") from exc
        if not isinstance(data, dict):
            raise EventParseError("eventBody is not a JSON object")
        return data
    return parse_event_text(text)


def parse_json_delivery(raw: bytes) -> EventRecord:
    """An ``application/json`` delivery: the EFC envelope, or a bare ECC event object."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        snippet = raw[:40].decode("utf-8", "replace")
        raise EventParseError(f"not JSON: {snippet!r}") from exc
    if not isinstance(data, dict):
        raise EventParseError(f"JSON {type(data).__name__}, not an object")
    body = data.get("eventBody")
    if body is None:
        return record_from_body(data)
    if isinstance(body, str):
        body = _decode_body_text(body)
    if not isinstance(body, dict):
        raise EventParseError("eventBody is not an object")
    return record_from_body(body, data)


def multipart_fields(raw: bytes, content_type: str) -> dict[str, str]:
    """Form fields of a ``multipart/form-data`` body (stdlib email parser, bounded)."""
    if "boundary=" not in content_type:
        raise EventParseError("multipart without a boundary")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    msg = BytesParser(policy=HTTP).parsebytes(head + raw)
    if not msg.is_multipart():
        raise EventParseError("multipart body has no parts")
    fields: dict[str, str] = {}
    for part in list(msg.iter_parts())[:MAX_FIELDS]:
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        fields[name] = data.decode(part.get_content_charset() or "utf-8", "replace")
    if not fields:
        raise EventParseError("multipart body has no named form fields")
    return fields


def parse_multipart_delivery(raw: bytes, content_type: str) -> EventRecord:
    """A ``multipart/form-data`` delivery: envelope fields plus ``eventBody``."""
    fields = multipart_fields(raw, content_type)
    if "eventBody" not in fields:
        raise EventParseError("multipart delivery without an eventBody field")
    envelope: dict[str, Any] = {k: v for k, v in fields.items() if k != "eventBody"}
    stamp = envelope.get("publicationTimestamp")
    if isinstance(stamp, str) and stamp.strip().isdigit():
        envelope["publicationTimestamp"] = int(stamp.strip())
    return record_from_body(_decode_body_text(fields["eventBody"]), envelope)


def parse_delivery(raw: bytes, content_type: str) -> EventRecord:
    """Any delivery by its Content-Type (JSON when none is given)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        return parse_multipart_delivery(raw, content_type)
    if kind in ("", "application/json", "text/json") or kind.endswith("+json"):
        return parse_json_delivery(raw)
    if kind == "text/plain":
        return record_from_body(parse_event_text(raw.decode("utf-8", "replace")))
    raise EventParseError(f"unsupported Content-Type {kind!r}")
