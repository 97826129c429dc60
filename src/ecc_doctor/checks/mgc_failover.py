"""mgc.failover: a capture of an H.248 gateway's failover follows its MGC list and reset-times."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ecc_doctor.captures.flows import Flow
from ecc_doctor.config.mgc import MgcConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Evidence, Result, Status

ID = "mgc.failover"
TITLE = "H.248 gateway failover follows the MGC list, transition point and search timers"
SOURCE = "SIP Adventures: media gateway survivability"
NEEDS: tuple[str, ...] = ("mgc",)


def _analyze(cfg: MgcConfig, source: str) -> list[Flow]:
    from ecc_doctor.captures.mgc.analyze import analyze_file
    from ecc_doctor.captures.mgc.params import from_config

    assert cfg.capture is not None
    params = from_config(cfg, f"{source} [mgc]")
    return analyze_file(_near(cfg.capture, source), engine=cfg.engine, params=params)


def _near(path: Path, source: str) -> Path:
    """A relative path in the site file is relative to the site file."""
    if path.is_absolute() or path.exists() or source.startswith("<"):
        return path
    return Path(source).parent / path


async def check(ctx: CheckContext) -> Result:
    cfg: MgcConfig = ctx.section("mgc")
    if cfg.capture is None:
        return ctx.result(Status.SKIP, "no [mgc] capture set: nothing to analyze")
    flows = await asyncio.to_thread(_analyze, cfg, ctx.config.source)
    status = Status.worst([f.status for f in flows])
    summary = _summary(flows, status)
    rows = [
        (f.key, x.severity.value, x.rule, ", ".join(map(str, x.frames[:10])), x.message)
        for f in flows
        for x in f.findings
    ]
    table = Evidence.table("findings", ("gateway", "severity", "rule", "frames", "finding"), rows)
    metrics = {
        "gateways": float(len({f.key.split(" ")[0] for f in flows if not f.key.startswith("(")})),
        "searches": float(len(flows)),
        "attempts": float(sum(len(f.frames) for f in flows)),
    }
    details = [f"{f.status.value} {f.key}: {f.summary}" for f in flows]
    return ctx.result(status, summary, details=details, metrics=metrics, evidence=[table])


def _summary(flows: list[Flow], status: Status) -> str:
    worst = next(f for f in flows if f.status is status)
    text = worst.summary if worst.key.startswith("(") else f"gateway {worst.key}: {worst.summary}"
    if len(flows) == 1:
        return text
    others = len(flows) - 1
    return f"{text} (+{others} more searches analyzed)"
