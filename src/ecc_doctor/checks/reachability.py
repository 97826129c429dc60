"""net.reachability: every configured endpoint accepts a TCP connection."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from ecc_doctor.config import SiteConfig
from ecc_doctor.config.sections import parse_endpoint
from ecc_doctor.context import CheckContext
from ecc_doctor.errors import ConnectError
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.netaddr import host_port
from ecc_doctor.probes.tcp import connect_latency

ID = "net.reachability"
TITLE = "Every configured endpoint accepts TCP connections"
SOURCE = "ECC app note 2.1 serviceability (network loss); ports of sections 5-6"
NEEDS: tuple[str, ...] = ()

Endpoint = tuple[str, str, int]


def _url_endpoint(name: str, url: str) -> Endpoint | None:
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (name, parts.hostname, port)


def endpoints(cfg: SiteConfig) -> list[Endpoint]:
    """The endpoints the site file names, in a stable order."""
    out: list[Endpoint | None] = []
    if cfg.cm:
        out.append(("cm.sat", cfg.cm.host, cfg.cm.port))
    if cfg.aes:
        out.append(("aes.dmcc", cfg.aes.host, cfg.aes.dmcc_port))
        if cfg.aes.tsapi_port:
            out.append(("aes.tsapi", cfg.aes.host, cfg.aes.tsapi_port))
        if cfg.aes.oam_url:
            out.append(_url_endpoint("aes.oam", cfg.aes.oam_url))
    if cfg.ecc:
        out.append(_url_endpoint("ecc.https", cfg.ecc.base_url))
    if cfg.sftp:
        out.append(("sftp", cfg.sftp.host, cfg.sftp.port))
    for i, item in enumerate(cfg.net.extra):
        parsed = parse_endpoint(item)  # the same parser that validated it at load
        if parsed is not None:
            name, host, port = parsed
            out.append((name or f"extra[{i}]", host, port))
    return [e for e in out if e is not None]


async def _probe(ep: Endpoint, timeout: float) -> tuple[Endpoint, float | str]:
    name, host, port = ep
    try:
        return ep, await connect_latency(host, port, timeout)
    except ConnectError as exc:
        return ep, exc.message


async def check(ctx: CheckContext) -> Result:
    eps = endpoints(ctx.config)
    if not eps:
        return ctx.result(Status.SKIP, "no endpoints configured")
    outcomes = await asyncio.gather(*(_probe(ep, ctx.connect_timeout) for ep in eps))
    metrics: dict[str, float] = {}
    rows = []
    failed = []
    for (name, host, port), outcome in outcomes:
        if isinstance(outcome, float):
            metrics[f"{name}.connect_ms"] = round(outcome * 1000, 3)
            rows.append((name, host_port(host, port), "open", f"{outcome * 1000:.1f} ms"))
        else:
            failed.append(f"{name} ({outcome})")
            rows.append((name, host_port(host, port), "FAILED", outcome))
    table = Evidence.table("endpoints", ("endpoint", "address", "state", "detail"), rows)
    if failed:
        noun = "endpoint" if len(eps) == 1 else "endpoints"
        summary = f"{len(failed)} of {len(eps)} {noun} unreachable: " + "; ".join(failed)
        return ctx.result(Status.FAIL, summary, metrics=metrics, evidence=[table])
    slowest = max(metrics.values())
    accept = "endpoint accepts" if len(eps) == 1 else "endpoints accept"
    summary = f"{len(eps)} {accept} connections (slowest {slowest:.1f} ms)"
    return ctx.result(Status.PASS, summary, metrics=metrics, evidence=[table])
