"""The SAT session of a cm.* check: the site's CM, the check's transcript, its limits."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from ecc_doctor.config.cm import CmConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.netaddr import host_port
from ecc_doctor.probes.sat import SatSession, open_sat


def cm_sat(ctx: CheckContext) -> AbstractAsyncContextManager[SatSession]:
    """``async with cm_sat(ctx) as sat``: a SAT session on the site's CM for *ctx*'s check,
    its dialogue in the transcript "CM SAT host:port"."""
    cfg: CmConfig = ctx.section("cm")
    transcript = ctx.transcript(f"CM SAT {host_port(cfg.host, cfg.port)}")
    return open_sat(cfg, transcript, connect_timeout=ctx.connect_timeout, check_id=ctx.check_id)
