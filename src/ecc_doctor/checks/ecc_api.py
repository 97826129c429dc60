"""ecc.api: the ECC REST API answers, auth works, an event subscription can be made and removed."""

from __future__ import annotations

import time

from ecc_doctor.context import CheckContext
from ecc_doctor.models import Result, Status
from ecc_doctor.probes.ecc_events import event_session
from ecc_doctor.probes.ecc_rest import EccHttpError, EccRest, session

ID = "ecc.api"
TITLE = "ECC REST API answers, authenticates us and accepts an event subscription"
SOURCE = "ECC app note 9.3 / Breeze HTTP security"
NEEDS: tuple[str, ...] = ("ecc",)


def _auth_mode(ctx: CheckContext) -> str:
    cfg = ctx.section("ecc")
    parts = []
    if cfg.client_cert:
        parts.append("client certificate")
    if cfg.token is not None:
        parts.append("Bearer token")
    return " + ".join(parts) or "no credentials (whitelist)"


async def check(ctx: CheckContext) -> Result:
    cfg = ctx.section("ecc")
    timeout = max(ctx.connect_timeout, 1.0)
    t0 = time.monotonic()
    async with session(cfg, ctx.transcript("ECC REST"), timeout=timeout) as rest:
        what, proven = await _touch(rest, cfg.extension_a)
    request_ms = (time.monotonic() - t0) * 1000
    t1 = time.monotonic()
    rest_log, event_log = ctx.transcript("ECC REST (subscription)"), ctx.transcript("ECC events")
    async with event_session(cfg, rest_log, event_log, timeout=timeout) as (_rest, receiver, sub):
        sub_id = sub.id
        validated = receiver.validations
        await sub.delete()  # here, not in the teardown, so that a refusal is reported
    subscribe_ms = (time.monotonic() - t1) * 1000
    summary = (
        f"ECC at {cfg.base_url} answers ({what}, {request_ms:.0f} ms) with "
        f"{_auth_mode(ctx)}; event subscription created, validated and deleted"
    )
    details = [
        f"callback URL given to the Eventing Connector: {receiver.url}",
        f"subscription id: {sub_id} (validation POSTs received: {validated})",
    ]
    metrics = {"ecc.request_ms": round(request_ms, 3), "ecc.subscribe_ms": round(subscribe_ms, 3)}
    plain = cfg.base_url.startswith("http://")
    if plain:  # allowed by allow_plain_http: never silently
        summary += "; over plain HTTP (allow_plain_http): the credentials travel unencrypted"
    if not proven:
        # a 404 at the base path also comes from a misspelt ecc_path or a cluster without
        # the ECC snap-in: what answered is the Breeze front end, not ECC (QA 4b #5)
        summary += (
            f"; but {cfg.ecc_path} answered 404, which does not show that the ECC service is "
            "deployed there: set ecc.extension_a (a monitored station) to verify it"
        )
        return ctx.result(Status.WARN, summary, details=details, metrics=metrics)
    status = Status.WARN if plain else Status.PASS
    return ctx.result(status, summary, details=details, metrics=metrics)


async def _touch(rest: EccRest, extension: str) -> tuple[str, bool]:
    """One harmless request: the connections of extension A, or the API root; and whether
    its answer shows the ECC service is there (a 404 at the root does not)."""
    if extension:
        conns = await rest.connections_of(extension)
        return f"{len(conns)} connection(s) at {extension}", True
    try:
        await rest.request("GET", rest.ecc_url(""), expect_json=False)
    except EccHttpError as exc:
        if exc.status in (404, 405):
            return f"API root answers HTTP {exc.status}", exc.status == 405
        raise
    return "API root answers", True
