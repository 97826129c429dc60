"""ECC REST probe: Engagement Call Control and Eventing Connector calls over HTTPS (httpx).

Wire facts: PROTOCOLS.md section 1. Action names, the connection path and the Drop Call
method are configurable ([ecc] keys) because they are inferred, not documented publicly.
Every request and answer goes to the transcript with the Bearer token redacted.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ecc_doctor.config.ecc import EccConfig
from ecc_doctor.errors import AuthError, ConnectError, ProbeTimeout, ProtocolError
from ecc_doctor.probes.ecc_event_parse import EventRecord
from ecc_doctor.probes.tcp import describe_cert_error, describe_os_error
from ecc_doctor.transcript import Transcript

MAX_BODY_SHOWN = 600
MAX_RESPONSE = 1 << 20
#: The two forms of the connection resource that takes ``?action=``: the public demo's
#: (PROTOCOLS.md 1.2 [CODE-1], the ecc.action_path default) and the one ECC's own events link
#: to (seed 001's ACTIVE event: ``connectionHref: .../connections/connectionId``).
ACTION_PATH_FORMS = ("calls/{callId}/connections/{connectionId}", "connections/{connectionId}")


class EccHttpError(ProtocolError):
    """ECC answered with an HTTP error status; ``status`` and ``body_message`` tell which."""

    def __init__(self, message: str, status: int, body_message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body_message = body_message


class EccAuthError(AuthError):
    """401/403 from the Breeze HTTP front end, with the likely cause spelled out."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class EccUnavailable(ConnectError):
    """5xx: the front end answers, the ECC or Eventing Connector snap-in does not."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Call:
    """A call ECC created: its id and status URL (``callID`` or ``callId`` on the wire)."""

    call_id: str
    status_url: str
    raw: dict[str, Any]


def call_id_of(data: dict[str, Any]) -> str:
    """The call id of a response or event, accepting ``callID``, ``callId`` and ``id``."""
    for key in ("callID", "callId", "callid", "id"):
        value = data.get(key)
        if isinstance(value, (str, int)) and str(value):
            return str(value)
    return ""


def connection_call_id(connection: dict[str, Any]) -> str:
    """The call id of a connection listed by Get Connections By Address: its ``callID`` /
    ``callId``, never its ``id`` (that is the connection's own)."""
    return call_id_of({k: v for k, v in connection.items() if k != "id"})


def _body_message(data: Any, text: str) -> str:
    if isinstance(data, dict):
        for key in ("message", "errorMessage", "error_description", "error", "detail"):
            if isinstance(data.get(key), str) and data[key]:
                return str(data[key])
    return " ".join(text.split())[:200]


def _auth_reason(status: int, cfg: EccConfig) -> str:
    causes = []
    if cfg.token is None:
        causes.append(
            "no Bearer token configured (ecc.token) and ECC may use the Breeze Authorization Service"
        )
    else:
        causes.append("the Bearer token (ecc.token) was refused or has expired")
    if cfg.client_cert is None:
        causes.append(
            "Breeze HTTP Security may require a client certificate (ecc.client_cert/client_key)"
        )
    causes.append(
        "this host may not be on the Breeze HTTP Security whitelist (System Manager > Avaya Breeze > Configuration > HTTP Security)"
    )
    word = "401 Unauthorized" if status == 401 else f"{status} Forbidden"
    return f"{word}: " + "; or ".join(causes)


class EccRest:
    """One HTTPS session to the Breeze cluster; use as ``async with EccRest(cfg, t) as ecc``."""

    def __init__(self, cfg: EccConfig, transcript: Transcript, *, timeout: float = 10.0) -> None:
        self.cfg = cfg
        self.transcript = transcript
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        ca = self.cfg.ca_file
        try:
            ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
        except ssl.SSLError as exc:  # before OSError: SSLError is one
            raise ConnectError(
                f"ecc.ca_file {ca}: no PEM CA certificate in it ({exc.reason or exc})"
            ) from exc
        except OSError as exc:
            raise ConnectError(f"ecc.ca_file {ca}: {_os_reason(exc)}") from exc
        if self.cfg.client_cert and self.cfg.client_key:
            load_cert_pair(
                ctx, ("client_cert", self.cfg.client_cert), ("client_key", self.cfg.client_key)
            )
        return ctx

    async def __aenter__(self) -> EccRest:
        await self.open()
        return self

    async def open(self) -> None:
        """Create the HTTPS client (TLS files and the token are read here)."""
        headers = {"Accept": "application/json"}
        if self.cfg.token is not None:
            headers["Authorization"] = f"Bearer {self.cfg.token.reveal()}"
        self._client = httpx.AsyncClient(
            base_url=self.cfg.base_url.rstrip("/"),
            verify=self._ssl_context(),
            headers=headers,
            timeout=self.timeout,
            follow_redirects=False,
        )

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # -- paths ------------------------------------------------------------------------------
    def ecc_url(self, rel: str) -> str:
        return "/" + self.cfg.ecc_path.strip("/") + "/" + rel.lstrip("/")

    def eventing_url(self, rel: str) -> str:
        return "/" + self.cfg.eventing_path.strip("/") + "/" + rel.lstrip("/")

    # -- the wire ---------------------------------------------------------------------------
    @contextmanager
    def _mapped(self, method: str, path: str) -> Iterator[None]:
        # the reason first, the request last: a dashboard row or a narrow summary column
        # shows "ECC https://host:port: connection refused", not a URL cut off before it
        ecc = f"ECC {self.cfg.base_url.rstrip('/')}"
        request = f"({method} {path})"
        try:
            yield
        except httpx.TimeoutException as exc:
            raise ProbeTimeout(f"{ecc}: no answer within {self.timeout:g} s {request}") from exc
        except httpx.TransportError as exc:
            reason = _connect_reason(exc, self.cfg)
            raise ConnectError(f"{ecc}: {reason} {request}") from exc
        except httpx.HTTPError as exc:
            raise ConnectError(f"{ecc}: {type(exc).__name__}: {exc} {request}") from exc
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(f"{ecc}: {exc} {request}") from exc

    async def request(
        self, method: str, path: str, body: Any = None, *, expect_json: bool = True
    ) -> Any:
        """Send one request; return the decoded JSON (None for an empty body).

        HTTP errors become EccAuthError / EccUnavailable / EccHttpError, a non-JSON answer a
        ProtocolError, transport problems ConnectError / ProbeTimeout.
        """
        if self._client is None:
            raise RuntimeError("EccRest used outside 'async with'")
        shown = "" if body is None else " " + json.dumps(body)
        self.transcript.sent(f"{method} {path}{shown}")
        with self._mapped(method, path):
            async with self._client.stream(method, path, json=body) as resp:
                raw = await _read_bounded(resp, f"{method} {path}")
        text = raw.decode("utf-8", "replace")
        self.transcript.received(f"{resp.status_code} {resp.reason_phrase} {text[:MAX_BODY_SHOWN]}")
        data = self._decode(method, path, resp, text, expect_json)
        self._raise_for_status(method, path, resp.status_code, data, text)
        return data

    def _decode(
        self, method: str, path: str, resp: httpx.Response, text: str, expect_json: bool
    ) -> Any:
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            if resp.status_code >= 400 or not expect_json:
                return None
            kind = resp.headers.get("content-type", "no content type").split(";")[0]
            snippet = " ".join(text.split())[:80]
            raise ProtocolError(
                f"{method} {path}: answered {resp.status_code} with {kind}, not JSON "
                f"(a login page or proxy? check ecc.base_url and ecc.ecc_path): {snippet!r}"
            ) from None

    def _raise_for_status(self, method: str, path: str, status: int, data: Any, text: str) -> None:
        if status < 400:
            return
        message = _body_message(data, text)
        tail = f" ({message})" if message else ""
        if status in (401, 403):
            raise EccAuthError(f"{method} {path}: {_auth_reason(status, self.cfg)}{tail}", status)
        if status >= 500:
            # the reason first (ECC's own when it gives one), the request last: a dashboard
            # row or a narrow column shows why, not a path
            why = message or (
                "the Breeze front end answers but the service does not (snap-in restarting "
                "or stopped?)"
            )
            raise EccUnavailable(f"ECC answered HTTP {status}: {why} ({method} {path})", status)
        raise EccHttpError(f"{method} {path}: HTTP {status}{tail}", status, message)

    # -- ECC operations ---------------------------------------------------------------------
    async def make_call(self, from_: str, to: str) -> Call:
        """Make Call {from, to} -> Call (callID/callId and statusUrl)."""
        data = await self.request("POST", self.ecc_url("calls"), {"from": from_, "to": to})
        if not isinstance(data, dict) or not call_id_of(data):
            raise ProtocolError(f"Make Call {from_}->{to}: the answer has no callID: {data!r:.120}")
        return Call(call_id_of(data), str(data.get("statusUrl", "")), data)

    async def get_call(self, call_id: str) -> dict[str, Any]:
        data = await self.request("GET", self.ecc_url(f"calls/{quote(call_id, safe='')}"))
        return data if isinstance(data, dict) else {}

    async def connections_of(self, address: str) -> list[dict[str, Any]]:
        """Get Connections By Address: the address's connections (``connections[]``)."""
        path = self.ecc_url(f"addresses/{quote(address, safe='')}/connections")
        data = await self.request("GET", path)
        items = data.get("connections") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ProtocolError(f"GET {path}: expected a 'connections' list, got {data!r:.120}")
        return [c for c in items if isinstance(c, dict)]

    async def connection_id(self, address: str, call_id: str) -> str:
        """The id of *address*'s connection in *call_id* ('' if ECC lists none)."""
        for conn in await self.connections_of(address):
            if connection_call_id(conn) == call_id:
                return str(conn.get("id") or conn.get("connectionId") or "")
        return ""

    async def action(
        self, call_id: str, connection_id: str, action: str, links: EventRecord | None = None
    ) -> Any:
        """POST a connection action (answer, hold, retrieve, drop).

        The connection resource has two documented forms (:data:`ACTION_PATH_FORMS`);
        :meth:`action_paths` orders them: the one the links of *links* (an ECC event of this
        connection) point at first, then ``ecc.action_path``, then the other. The next is
        tried only when ECC answers 404 or 405 (no such resource: nothing was done), so a
        site whose ECC serves one form only still works.
        """
        body = json.loads(self.cfg.action_body)
        paths = self.action_paths(call_id, connection_id, action, links)
        for index, (path, source) in enumerate(paths):
            if source:
                self.transcript.note(f"{action}: {source}")
            try:
                return await self.request("POST", path, body, expect_json=False)
            except EccHttpError as exc:
                if exc.status not in (404, 405) or index == len(paths) - 1:
                    raise
                self.transcript.note(
                    f"{action}: HTTP {exc.status} for {path}: trying the next form"
                )
        raise AssertionError("action_paths() is never empty")  # pragma: no cover

    def action_paths(
        self, call_id: str, connection_id: str, action: str, links: EventRecord | None = None
    ) -> list[tuple[str, str]]:
        """The request paths :meth:`action` tries, each with why it comes first ("" for the
        configuration), without repeats.

        Every path is a form of the connection resource with *our* call and connection ids
        and ``?action=`` *our* action: a link from an event (which anyone who reaches the
        callback could forge) only says which form comes first, never which connection,
        which action or which host.
        """
        ids = {"callId": quote(call_id, safe=""), "connectionId": quote(connection_id, safe="")}
        query = f"?action={quote(action)}"
        configured = self.ecc_url(self.cfg.action_path.format(**ids))
        forms = [self.ecc_url(form.format(**ids)) for form in ACTION_PATH_FORMS]
        ours = {unquote(p) for p in (configured, *forms)}
        found: list[tuple[str, str]] = []
        if links is not None and self.cfg.follow_event_links:
            key = f"{action}CallHref"
            hrefs = (
                (key, links.operations.get(key, "")),
                ("connectionHref", links.connection_href),
            )
            for name, href in hrefs:
                path = _link_path(href)
                if path and path in ours:
                    mine = next(p for p in (configured, *forms) if unquote(p) == path)
                    found.append((mine + query, f"the {name} of the {links.type} event"))
        found.append((configured + query, ""))
        for form, path in zip(ACTION_PATH_FORMS, forms, strict=True):
            found.append((path + query, f"the connection resource's other form {form}"))
        unique: list[tuple[str, str]] = []
        for path, source in found:
            if all(path != seen for seen, _ in unique):
                unique.append((path, source))
        return unique

    async def answer(
        self, call_id: str, connection_id: str, links: EventRecord | None = None
    ) -> Any:
        return await self.action(call_id, connection_id, self.cfg.action_answer, links)

    async def hold(self, call_id: str, connection_id: str, links: EventRecord | None = None) -> Any:
        return await self.action(call_id, connection_id, self.cfg.action_hold, links)

    async def retrieve(
        self, call_id: str, connection_id: str, links: EventRecord | None = None
    ) -> Any:
        return await self.action(call_id, connection_id, self.cfg.action_retrieve, links)

    async def drop_connection(
        self, call_id: str, connection_id: str, links: EventRecord | None = None
    ) -> Any:
        return await self.action(call_id, connection_id, self.cfg.action_drop, links)

    async def drop_call(self, call_id: str) -> Any:
        path = self.ecc_url(f"calls/{quote(call_id, safe='')}")
        return await self.request(self.cfg.drop_call_method, path, expect_json=False)

    # -- Eventing Connector -----------------------------------------------------------------
    async def subscribe(self, callback_url: str) -> str:
        """Create a subscription; returns its subscriptionId."""
        body = {
            "family": self.cfg.event_family,
            "eventTypes": list(self.cfg.event_types),
            "callbackUrl": callback_url,
            "callbackContentType": self.cfg.callback_content_type,
        }
        try:
            data = await self.request("POST", self.eventing_url("subscriptions"), body)
        except EccHttpError as exc:
            if exc.status != 400:
                raise
            raise ConnectError(
                f"the Eventing Connector refused the subscription (HTTP 400: "
                f"{exc.body_message or 'no reason given'}): it could not validate the callback "
                f"{callback_url}; Breeze must reach that URL (ecc.callback_host/callback_url, "
                "firewall, and the callback certificate if https)"
            ) from exc
        sub_id = data.get("subscriptionId") if isinstance(data, dict) else None
        if not isinstance(sub_id, str) or not sub_id:
            raise ProtocolError(f"subscription answer has no subscriptionId: {data!r:.120}")
        return sub_id

    def _subscription_path(self, sub_id: str) -> str:
        return self.eventing_url(self.cfg.subscription_path.format(id=quote(sub_id, safe="")))

    async def subscription_exists(self, sub_id: str) -> bool:
        """Query one subscription: False on 404 (the connector forgot it, e.g. restart)."""
        try:
            await self.request("GET", self._subscription_path(sub_id), expect_json=False)
        except EccHttpError as exc:
            if exc.status in (404, 410):
                return False
            if exc.status in (405, 501):  # no query operation here: cannot tell, assume it lives
                return True
            raise
        return True

    async def unsubscribe(self, sub_id: str) -> bool:
        """Delete a subscription; False when it was already gone."""
        try:
            await self.request("DELETE", self._subscription_path(sub_id), expect_json=False)
        except EccHttpError as exc:
            if exc.status in (404, 410):
                return False
            raise
        return True


def load_cert_pair(ctx: ssl.SSLContext, cert: tuple[str, Path], key: tuple[str, Path]) -> None:
    """Load a certificate and its key into *ctx*. Each is ``(ecc key name, path)``: a
    ConnectError names the key and the path of the file at fault. An encrypted key is an
    error, never a passphrase prompt on the terminal."""
    asked: list[bool] = []

    def no_passphrase() -> bytes:
        asked.append(True)
        return b""

    try:
        ctx.load_cert_chain(str(cert[1]), str(key[1]), password=no_passphrase)
    except (OSError, ssl.SSLError) as exc:
        raise ConnectError(_cert_pair_problem(cert, key, exc, bool(asked))) from exc


def _cert_pair_problem(
    cert: tuple[str, Path], key: tuple[str, Path], exc: Exception, asked: bool
) -> str:
    (cert_name, cert_path), (key_name, key_path) = cert, key
    cert_at, key_at = f"ecc.{cert_name} {cert_path}", f"ecc.{key_name} {key_path}"
    try:
        cert_pem = _read_small(cert_path)
    except OSError as err:
        return f"{cert_at}: {_os_reason(err)}"
    try:
        x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return f"{cert_at}: not a PEM certificate (expected '-----BEGIN CERTIFICATE-----')"
    try:
        key_pem = _read_small(key_path)
    except OSError as err:
        return f"{key_at}: {_os_reason(err)}"
    if asked or b"ENCRYPTED" in key_pem:
        return (
            f"{key_at}: the key is encrypted (passphrase-protected); give an unencrypted key file"
        )
    try:
        serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return f"{key_at}: not a PEM private key (expected '-----BEGIN ... PRIVATE KEY-----')"
    reason = exc.reason if isinstance(exc, ssl.SSLError) and exc.reason else str(exc)
    if "MISMATCH" in reason.upper():
        return f"{key_at}: not the key of {cert_at} (the two do not belong together)"
    return f"{cert_at} with {key_at}: cannot be used ({reason})"


def _read_small(path: Path, limit: int = 1 << 20) -> bytes:
    with open(path, "rb") as f:
        return f.read(limit)


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


async def _read_bounded(resp: httpx.Response, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE:
            raise ProtocolError(f"{what}: answer larger than {MAX_RESPONSE} bytes, not read")
        chunks.append(chunk)
    return b"".join(chunks)


def _connect_reason(exc: httpx.TransportError, cfg: EccConfig) -> str:
    reason = _cause_reason(exc)
    cut_off = isinstance(exc, (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError))
    if cut_off and reason is None:
        reason = "the server closed the connection without an answer"
    handshake = reason is not None and reason.startswith("TLS handshake failed")
    if (cut_off or handshake) and cfg.client_cert is None:
        reason = (
            f"{reason}; if Breeze HTTP Security challenges for a client certificate, set "
            "ecc.client_cert and ecc.client_key"
        )
    return reason or str(exc) or f"connection failed ({type(exc).__name__})"


def _cause_reason(exc: BaseException) -> str | None:
    cause: BaseException | None = exc
    for _ in range(10):  # bounded walk down the cause chain
        if cause is None:
            break
        if isinstance(cause, ssl.SSLCertVerificationError):
            return describe_cert_error(cause, "ecc.ca_file", "ecc.base_url")
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({cause.reason or cause})"
        if isinstance(cause, OSError) and cause.errno is not None:
            return describe_os_error(cause)
        cause = cause.__cause__ or cause.__context__
    return None


@asynccontextmanager
async def session(
    cfg: EccConfig, transcript: Transcript, *, timeout: float = 10.0
) -> AsyncIterator[EccRest]:
    """``async with session(cfg, t) as ecc:`` — an :class:`EccRest`, closed on every exit."""
    rest = EccRest(cfg, transcript, timeout=timeout)
    try:
        await rest.open()
        yield rest
    finally:
        await rest.aclose()


__all__ = [
    "Call",
    "EccAuthError",
    "EccHttpError",
    "EccRest",
    "EccUnavailable",
    "call_id_of",
    "connection_call_id",
    "session",
]


def _link_path(href: str) -> str:
    """The path of *href*, a link from an ECC event, percent-decoded, when it is a plain
    path (no dot segments, backslashes, parameters or control characters); "" otherwise.
    The caller accepts it only if it equals one of its own request paths."""
    if not href or len(href) > 2048 or not href.isprintable():
        return ""
    try:
        path = unquote(urlsplit(href.strip()).path, errors="strict")
    except (ValueError, UnicodeDecodeError):
        return ""
    if "\\" in path or ";" in path or any(seg in (".", "..") for seg in path.split("/")):
        return ""
    return path
