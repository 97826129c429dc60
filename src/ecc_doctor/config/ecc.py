"""[ecc]: Engagement Call Control on Avaya Breeze.

Keys marked *inferred* in their doc follow PROTOCOLS.md section 1, where the public record is
thin (RECALL / INFERRED / NOT FOUND): they are configurable so a site can match the ECC
Snap-in Reference without a code change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ecc_doctor.config.schema import host_problem, setting, url_problem
from ecc_doctor.secrets import Secret

_CONTENT_TYPES = ("application/json", "multipart/form-data")


def _base_url_path(url: str) -> str | None:
    """A path, query or fragment in base_url would be joined with ecc_path/eventing_path
    (``/services/X/services/X/...``) while messages and transcripts show ecc_path alone."""
    parts = urlsplit(url)
    if parts.path.strip("/") or parts.query or parts.fragment:
        return (
            "base_url: give scheme://host[:port]; the path belongs in ecc.ecc_path / "
            f"eventing_path, got {url!r}"
        )
    return None


@dataclass(frozen=True)
class EccConfig:
    """[ecc]: the Breeze cluster's HTTPS front end and the event callback we listen on."""

    base_url: str = setting(doc="Breeze cluster HTTPS URL", example="https://breeze.example:443")
    allow_plain_http: bool = setting(
        False,
        doc="accept an http:// base_url (a lab Breeze without TLS): the token then travels "
        "unencrypted, and ecc.api says so with a WARN",
    )
    ca_file: Path | None = setting(None, doc="CA bundle for the Breeze certificate")
    client_cert: Path | None = setting(None, doc="client certificate (PEM) for mTLS")
    client_key: Path | None = setting(None, doc="client certificate key (PEM)")
    token: Secret | None = setting(None, doc="OAuth2 Bearer token reference, if ECC requires one")
    ecc_path: str = setting(
        "/services/EngagementCallControl/", doc="ECC REST base path on the cluster"
    )
    eventing_path: str = setting(
        "/services/EventingConnector/", doc="Eventing Connector REST base path on the cluster"
    )
    extension_a: str = setting(
        "", doc="calling extension for ecc.event-roundtrip (monitored by AES)", example="3301"
    )
    extension_b: str = setting(
        "", doc="called extension, answered via ECC (the app note's 3302)", example="3302"
    )
    trunk_number: str = setting(
        "",
        doc="external number that answers automatically, dialled from extension_a over the "
        "PRI trunk for ecc.trunk-established (empty: that check is skipped)",
    )
    trunk_extension: str = setting(
        "",
        doc="station that dials trunk_number (empty: extension_a); a station of its own lets "
        "ecc.trunk-established run alongside ecc.event-roundtrip instead of waiting for it",
        example="3303",
    )
    callback_host: str = setting(
        "0.0.0.0", doc="address the event receiver binds (Breeze must reach it)"
    )
    callback_port: int = setting(0, doc="event receiver port (0: any free port)", min=0, max=65535)
    callback_url: str = setting(
        "",
        doc="callback URL given to the Eventing Connector when NAT/proxy hides us; '{port}' "
        "is replaced by the bound port (default: built from callback_host or our address)",
    )
    callback_path: str = setting("/ecc-doctor/events", doc="path of the event receiver")
    callback_tls: bool = setting(False, doc="serve the callback over HTTPS (needs cert and key)")
    callback_cert: Path | None = setting(None, doc="certificate (PEM) of the HTTPS callback")
    callback_key: Path | None = setting(None, doc="key (PEM) of the HTTPS callback")
    callback_content_type: str = setting(
        "application/json", doc="how events are delivered to us", choices=_CONTENT_TYPES
    )
    event_family: str = setting(
        "EngagementCallControl",
        doc="Eventing Connector family of ECC call events (inferred: NOT FOUND in public docs)",
    )
    event_types: list[str] = setting(
        factory=list, doc="event types to subscribe to (empty: all types of the family)"
    )
    subscription_path: str = setting(
        "subscriptions/{id}",
        doc="query/delete path of one subscription under eventing_path (inferred)",
    )
    action_path: str = setting(
        "calls/{callId}/connections/{connectionId}",
        doc="connection resource that takes ?action= (from the public demo; inferred for "
        "answer/hold/retrieve/drop)",
    )
    follow_event_links: bool = setting(
        True,
        doc="send connection actions to the links ECC's events give (an operation's "
        "<action>CallHref, else connectionHref + ?action=, as in the blog's ACTIVE event); "
        "only the path of a link under ecc_path is used, always on base_url; false, or no "
        "link in the events: action_path",
    )
    action_answer: str = setting("answer", doc="action name for Answer Call (inferred)")
    action_hold: str = setting("hold", doc="action name for Hold Call (inferred)")
    action_retrieve: str = setting("retrieve", doc="action name for Retrieve Call (inferred)")
    action_drop: str = setting("drop", doc="action name for Drop Connection (inferred)")
    action_body: str = setting("{}", doc="JSON body sent with connection actions (inferred)")
    drop_call_method: str = setting(
        "DELETE",
        doc="HTTP method of Drop Call on calls/{callId} (inferred)",
        choices=("DELETE", "POST"),
    )
    event_alerting: str = setting("ALERTING", doc="callEvent of a ringing call (seed example)")
    event_active: str = setting("ACTIVE", doc="callEvent of an answered call (seed example)")
    event_held: str = setting("HELD", doc="callEvent of a held call (seed list)")
    event_ended: list[str] = setting(
        factory=lambda: ["ENDED", "DROPPED", "CLEARED"],
        doc="callEvent names that mean the call is over (inferred: NOT FOUND in public docs)",
    )
    event_timeout: float = setting(
        5.0, doc="seconds to wait for each expected event before FAIL", min=0.1, max=300
    )
    event_budget_ms: float = setting(
        1000.0, doc="latency budget of one step (request to event); over it: WARN", min=1, max=60000
    )
    validation_timeout: float = setting(
        5.0, doc="seconds to wait for the Eventing Connector's validation POST", min=0.1, max=120
    )
    trunk_answer_timeout: float = setting(
        10.0,
        doc="seconds the trunk number takes at most to answer (plus event_timeout for the event)",
        min=0.1,
        max=300,
    )
    max_event_bytes: int = setting(
        256 * 1024, doc="largest event delivery the receiver accepts", min=1024, max=16 * 2**20
    )

    def validate(self) -> str | None:
        # an empty callback_host binds every address (like 0.0.0.0); blanks never work
        if problem := host_problem("callback_host", self.callback_host, empty_ok=True):
            return problem
        https_only = not self.allow_plain_http
        if problem := url_problem("base_url", self.base_url, https_only=https_only):
            return problem + (
                "; allow_plain_http = true accepts it"
                if https_only and self.base_url.startswith("http://")
                else ""
            )
        if problem := _base_url_path(self.base_url):
            return problem
        if bool(self.client_cert) != bool(self.client_key):
            return "client_key: expected client_cert and client_key together, got only one"
        if self.callback_tls and not (self.callback_cert and self.callback_key):
            return "callback_cert: expected callback_cert and callback_key with callback_tls = true, got none"
        if not self.callback_path.startswith("/"):
            return f"callback_path: expected a path starting with '/', got {self.callback_path!r}"
        if self.callback_url and (problem := url_problem("callback_url", self.callback_url)):
            return problem
        if self.extension_a and self.extension_a == self.extension_b:
            return f"extension_b: expected an extension other than extension_a, got {self.extension_b!r}"
        try:
            body = json.loads(self.action_body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return f"action_body: expected a JSON object, got {self.action_body!r}"
        return None
