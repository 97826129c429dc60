"""Event parsing: the seed article's exact examples, EFC JSON and multipart deliveries, bad input."""

from __future__ import annotations

import json
import re

import pytest

from ecc_doctor.probes.ecc_event_parse import (
    EventParseError,
    parse_delivery,
    parse_event_text,
    record_from_body,
)

from ..conftest import SEEDS, require_shared

ARTICLE = SEEDS / "001_96fd6696879128b2.txt"
CLUSTER = "https://<CLUSTER-IP>/services/EngagementCallControl"


def seed_events() -> list[str]:
    text = require_shared(ARTICLE).read_text(encoding="utf-8")
    blocks = re.findall(r"event \{.*?(?=\n(?:An application|Make note))", text, re.S)
    assert len(blocks) == 2, "the article has one ALERTING and one ACTIVE example"
    return blocks


def test_seed_alerting_example() -> None:
    event = record_from_body(parse_event_text(seed_events()[0]))
    assert event.type == "ALERTING"
    assert event.call_id == "<call_id>"
    assert event.calling == "A" and event.called == "B"
    assert event.alerting == ("B",)
    assert event.participants == ("A", "B")
    assert event.address == "A"
    assert event.connection_id == ""
    assert event.raw["body"]["callHref"] == f"{CLUSTER}/calls/callID"


def test_seed_active_example_with_operations() -> None:
    event = record_from_body(parse_event_text(seed_events()[1]))
    assert event.type == "ACTIVE"
    assert event.connection_id == "<connection_id>"
    assert event.participants == ("A", "B")
    assert event.operations == {
        "endCallHref": f"{CLUSTER}/calls/callID",
        "holdCallHref": "",
        "consultCallHref": f"{CLUSTER}/connections/connectionId?action=consult",
    }


def _envelope(body: object, **extra: object) -> dict[str, object]:
    return {
        "eventId": "c94-EventingConnect-3.5.0.0.0-1b6f.EventingConnect-PREFERRED-ab12",
        "family": "EngagementCallControl",
        "type": "ACTIVE",
        "version": "1.0",
        "subscriptionId": "EventingConnect-PREFERRED-ab12",
        "publicationTimestamp": 1700000000123,
        "eventMetaData": {"user": "3302", "correlationId": "17", "additionalProperties": {}},
        "eventBody": body,
        **extra,
    }


def test_json_envelope_with_callId_spelling() -> None:
    body = {
        "callEvent": "active",
        "callId": "17",
        "connectionId": "17-2",
        "participants": ["3301", "3302"],
    }
    event = parse_delivery(json.dumps(_envelope(body)).encode(), "application/json; charset=utf-8")
    assert (event.type, event.call_id, event.connection_id) == ("ACTIVE", "17", "17-2")
    assert event.event_id.startswith("c94-EventingConnect")
    assert event.subscription_id == "EventingConnect-PREFERRED-ab12"
    assert event.published_ms == 1700000000123


def test_json_envelope_whose_body_is_the_seed_text() -> None:
    event = parse_delivery(json.dumps(_envelope(seed_events()[0])).encode(), "application/json")
    assert event.type == "ALERTING" and event.alerting == ("B",)


def test_ids_fall_back_to_hrefs() -> None:
    body = {
        "callEvent": "HELD",
        "callHref": f"{CLUSTER}/calls/42",
        "connectionHref": f"{CLUSTER}/connections/42-2",
    }
    event = record_from_body(body)
    assert (event.call_id, event.connection_id) == ("42", "42-2")


def _multipart(fields: dict[str, str], boundary: str = "XyZ") -> tuple[bytes, str]:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    return (
        "".join(parts) + f"--{boundary}--\r\n"
    ).encode(), f"multipart/form-data; boundary={boundary}"


def test_multipart_delivery_with_documented_fields() -> None:
    fields = {
        "family": "EngagementCallControl",
        "type": "HELD",
        "eventId": "e-1",
        "subscriptionId": "s-1",
        "version": "1.0",
        "producerName": "EngagementCallControl",
        "producerVersion": "3.2",
        "publicationTimestamp": "1700000000999",
        "metadata-user": "3302",
        "metadata-correlationId": "17",
        "eventBody": json.dumps({"callEvent": "HELD", "callID": "17", "address": "3302"}),
    }
    event = parse_delivery(*_multipart(fields))
    assert (event.type, event.call_id, event.address, event.event_id) == (
        "HELD",
        "17",
        "3302",
        "e-1",
    )
    assert event.published_ms == 1700000000999
    assert event.raw["envelope"]["metadata-user"] == "3302"


def test_multipart_event_body_in_seed_text_form() -> None:
    event = parse_delivery(*_multipart({"type": "ACTIVE", "eventBody": seed_events()[1]}))
    assert event.type == "ACTIVE" and event.connection_id == "<connection_id>"


@pytest.mark.parametrize(
    ("raw", "content_type", "reason"),
    [
        (b"<html>Internal Server Error</html>", "application/json", "not JSON"),
        (b"[1, 2]", "application/json", "JSON list, not an object"),
        (b'{"eventBody": "{broken"}', "application/json", "eventBody is not valid JSON"),
        (b'{"eventBody": 5}', "application/json", "eventBody is not an object"),
        (b'{"family": "x"}', "application/json", "no callEvent/type"),
        (b"\xff\xfe", "application/json", "not JSON"),
        (b"--a\r\n\r\n--a--", "multipart/form-data", "without a boundary"),
        (b"garbage", "multipart/form-data; boundary=zz", "no"),
        (b"x", "application/xml", "unsupported Content-Type"),
    ],
)
def test_unreadable_deliveries_raise_one_line_reasons(
    raw: bytes, content_type: str, reason: str
) -> None:
    with pytest.raises(EventParseError, match=reason):
        parse_delivery(raw, content_type)


def test_multipart_without_event_body_is_unreadable() -> None:
    with pytest.raises(EventParseError, match="without an eventBody"):
        parse_delivery(*_multipart({"type": "ACTIVE"}))


def test_text_without_call_event_is_unreadable() -> None:
    with pytest.raises(EventParseError, match="callEvent"):
        parse_event_text("event {\naddress: A\n}")


def test_huge_text_is_bounded() -> None:
    text = "event {\n" + "x: y\n" * 100_000 + "callEvent: ACTIVE\n}"
    with pytest.raises(EventParseError):
        parse_event_text(text)  # only the first lines are read: no callEvent among them
