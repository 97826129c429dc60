"""cm.ip-services: the AESVCS service and the AE Services server entry (app note 5.4)."""

from __future__ import annotations

from ecc_doctor.checks.cm_session import cm_sat
from ecc_doctor.config.cm import CmConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.probes.sat_records import IpServices

ID = "cm.ip-services"
TITLE = "AESVCS is enabled and the AE Services server is in use (ip-services)"
SOURCE = "ECC app note 5.4"
NEEDS: tuple[str, ...] = ("cm",)


def _service_problem(cfg: CmConfig, screen: IpServices) -> str | None:
    want = f"{cfg.aesvcs_local_node} {cfg.aesvcs_port}, enabled y"
    rows = [s for s in screen.services if s.service_type.upper() == "AESVCS"]
    if not rows:
        return f"no AESVCS service in ip-services (expected {want})"
    for row in rows:
        if (
            row.local_node == cfg.aesvcs_local_node
            and row.local_port == str(cfg.aesvcs_port)
            and row.enabled.lower() == "y"
        ):
            return None
    seen = ", ".join(f"{r.local_node} {r.local_port} enabled {r.enabled or '?'}" for r in rows)
    return f"AESVCS is on {seen} (expected {want})"


def _server_problem(cfg: CmConfig, screen: IpServices) -> str | None:
    servers = [
        s for s in screen.aes_servers if not cfg.aes_server_name or s.name == cfg.aes_server_name
    ]
    if not servers:
        name = f" '{cfg.aes_server_name}'" if cfg.aes_server_name else ""
        return f"no AE Services Server{name} in ip-services (AE Services Administration page)"
    for server in servers:
        if server.enabled.lower() == "y" and server.status.lower() == "in use":
            return None
    seen = ", ".join(f"{s.name} enabled {s.enabled}, {s.status or 'no status'}" for s in servers)
    return f"AE Services Server {seen} (expected enabled y, in use)"


async def check(ctx: CheckContext) -> Result:
    cfg: CmConfig = ctx.section("cm")
    async with cm_sat(ctx) as sat:
        screen = await sat.ip_services()
    evidence = [Evidence.table(t.title, t.columns, t.rows) for t in screen.tables()]
    problems = [p for p in (_service_problem(cfg, screen), _server_problem(cfg, screen)) if p]
    if problems:
        return ctx.result(Status.FAIL, "; ".join(problems), evidence=evidence)
    in_use = ", ".join(s.name for s in screen.aes_servers if s.status.lower() == "in use")
    return ctx.result(
        Status.PASS,
        f"AESVCS enabled on {cfg.aesvcs_local_node} {cfg.aesvcs_port}; AE Services Server "
        f"{in_use} in use",
        evidence=evidence,
    )
