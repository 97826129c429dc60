"""The lab's Breeze Eventing Connector: subscriptions, the validation POST, event delivery.

Follows PROTOCOLS.md 1.4: the subscriber's callback is validated with a POST of dummy data
before the subscription is answered (400 if that fails); events are pushed as
``application/json`` envelopes or ``multipart/form-data`` fields, in publication order, one
delivery worker per subscription. HTTPS callbacks are verified against the lab CA.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import ssl
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FAMILY = "EngagementCallControl"
CONTENT_TYPES = ("multipart/form-data", "application/json")


@dataclass
class LabSubscription:
    id: str
    family: str
    event_types: list[str]
    callback_url: str
    content_type: str
    # (event body, publication timestamp ms, monotonic publication time)
    queue: asyncio.Queue[tuple[dict[str, Any], float, float]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "subscriptionId": self.id,
            "family": self.family,
            "eventTypes": self.event_types,
            "callbackUrl": self.callback_url,
            "callbackContentType": self.content_type,
        }


class SubscriptionError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class EventingConnector:
    """Holds subscriptions and pushes published events to their callbacks.

    ``faults`` is shared with the emulator: ``slow_delay`` (each event is delivered that many
    seconds after its publication: a latency, so events of concurrent calls do not add up),
    ``duplicate``, ``foreign``, ``garbage`` and ``late`` shape deliveries for tests and demos.
    """

    def __init__(self, ca_file: Path) -> None:
        self.subscriptions: dict[str, LabSubscription] = {}
        self.client = httpx.AsyncClient(
            verify=ssl.create_default_context(cafile=str(ca_file)), timeout=3.0
        )
        self.slow_delay = 0.0
        self.modes: set[str] = set()
        self.online = True
        self.deliveries = 0
        self.failures = 0
        self.validations = 0
        self._late: dict[str, dict[str, Any]] = {}

    async def subscribe(self, data: Any) -> LabSubscription:
        if not isinstance(data, dict):
            raise SubscriptionError(400, "invalid request: a JSON object is required")
        family, url = data.get("family"), data.get("callbackUrl")
        types = data.get("eventTypes", [])
        kind = data.get("callbackContentType", "multipart/form-data")
        if not isinstance(family, str) or not family:
            raise SubscriptionError(400, "invalid request: family is required")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise SubscriptionError(400, "callbackUrl invalid or unreachable")
        if not isinstance(types, list) or kind not in CONTENT_TYPES:
            raise SubscriptionError(400, "invalid request: eventTypes or callbackContentType")
        if not await self._validate(url):
            raise SubscriptionError(400, "callbackUrl invalid or unreachable")
        sub = LabSubscription(
            f"EventingConnect-PREFERRED-{secrets.token_hex(32)}",
            family,
            [str(t) for t in types],
            url,
            kind,
        )
        sub.task = asyncio.create_task(self._worker(sub), name=f"efc:{sub.id[-8:]}")
        self.subscriptions[sub.id] = sub
        return sub

    async def _validate(self, url: str) -> bool:
        """POST dummy data; the subscriber must answer 200 OK."""
        self.validations += 1
        try:
            resp = await self.client.post(
                url, json={"validation": "EventingConnector callback check"}
            )
        except httpx.HTTPError:
            return False
        return resp.status_code == 200

    async def unsubscribe(self, sub_id: str) -> bool:
        sub = self.subscriptions.pop(sub_id, None)
        if sub is None:
            return False
        await _cancel(sub.task)
        return True

    async def clear(self) -> None:
        for sub_id in list(self.subscriptions):
            await self.unsubscribe(sub_id)
        self._late.clear()

    async def close(self) -> None:
        await self.clear()
        await self.client.aclose()

    def publish(self, body: dict[str, Any]) -> None:
        """Queue one ECC event body for every subscription that wants it."""
        stamp, now = time.time() * 1000, time.monotonic()
        for sub in self.subscriptions.values():
            if sub.family != FAMILY:
                continue
            if sub.event_types and body.get("callEvent") not in sub.event_types:
                continue
            sub.queue.put_nowait((body, stamp, now))

    async def _worker(self, sub: LabSubscription) -> None:
        while True:
            body, stamp, published = await sub.queue.get()
            if self.slow_delay:
                await asyncio.sleep(max(published + self.slow_delay - time.monotonic(), 0.0))
            await self._deliver_shaped(sub, body, stamp)

    async def _deliver_shaped(
        self, sub: LabSubscription, body: dict[str, Any], stamp: float
    ) -> None:
        if "foreign" in self.modes:
            await self._deliver(sub, {**body, "callID": "lab-foreign-1", "callHref": ""}, stamp)
        if "garbage" in self.modes:
            await self._post(
                sub, b"<html><body>Internal Server Error</body></html>", "application/json"
            )
            return
        envelope = await self._deliver(sub, body, stamp)
        if "duplicate" in self.modes and envelope is not None:
            await self._post(sub, *self._encode(sub, envelope))
        late = self._late.pop(str(body.get("callID")), None)
        if late is not None:
            await self._deliver(sub, late["body"], late["stamp"])
        if "late" in self.modes and body.get("callEvent") == "ACTIVE" and body.get("connectionId"):
            # the other party's ACTIVE, published now but delivered after the next event
            other = {**body, "address": body.get("originalCallingParticipant", "")}
            self._late[str(body.get("callID"))] = {"body": other, "stamp": stamp}

    async def _deliver(
        self, sub: LabSubscription, body: dict[str, Any], stamp: float
    ) -> dict[str, Any] | None:
        envelope = {
            "eventId": f"c94-EventingConnect-3.5.0.0.0-{uuid.uuid4()}.{sub.id}",
            "family": sub.family,
            "type": str(body.get("callEvent", "")),
            "version": "1.0",
            "subscriptionId": sub.id,
            "publicationTimestamp": int(stamp),
            "eventMetaData": {
                "user": str(body.get("address", "")),
                "correlationId": str(body.get("callID", "")),
                "producerName": "EngagementCallControl",
                "producerVersion": "3.2.0.1.320119",
                "additionalProperties": {},
            },
            "eventBody": body,
        }
        ok = await self._post(sub, *self._encode(sub, envelope))
        return envelope if ok else None

    def _encode(self, sub: LabSubscription, envelope: dict[str, Any]) -> tuple[bytes, str]:
        if sub.content_type == "application/json":
            return json.dumps(envelope).encode(), "application/json"
        meta = envelope["eventMetaData"]
        fields = {
            k: str(envelope[k])
            for k in (
                "family",
                "type",
                "eventId",
                "subscriptionId",
                "version",
                "publicationTimestamp",
            )
        }
        fields.update(
            producerName=meta["producerName"],
            producerVersion=meta["producerVersion"],
            **{"metadata-user": meta["user"], "metadata-correlationId": meta["correlationId"]},
            eventBody=json.dumps(envelope["eventBody"]),
        )
        return multipart(fields)

    async def _post(self, sub: LabSubscription, data: bytes, content_type: str) -> bool:
        if not self.online:
            self.failures += 1
            return False
        self.deliveries += 1
        try:
            resp = await self.client.post(
                sub.callback_url, content=data, headers={"Content-Type": content_type}
            )
        except httpx.HTTPError:
            self.failures += 1
            return False
        if resp.status_code >= 300:
            self.failures += 1
        return resp.status_code < 300


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body of text *fields*; returns (body, content type)."""
    boundary = f"----efc{secrets.token_hex(12)}"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
            f"Content-Type: text/plain; charset=UTF-8\r\n\r\n{value}\r\n"
        )
    parts.append(f"--{boundary}--\r\n")
    return "".join(parts).encode("utf-8"), f"multipart/form-data; boundary={boundary}"


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
