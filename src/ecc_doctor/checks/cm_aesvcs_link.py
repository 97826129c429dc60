"""cm.aesvcs-link: CM's AESVCS interface listens and the AES switch connection is up.

ECC app note 5.4 enables the AESVCS service on ``procr`` (port 8765) for the AE Services
server, and 6.3 makes AES connect to it (the switch connection); the CTI link of 9.1 rides on
that connection. CM shows both ends of it (PROTOCOLS.md 4.3 [CODE]):
``status aesvcs interface`` (Local Node / Enabled? / Number of Connections / Status, healthy:
``procr yes 1 listening``) and ``status aesvcs link`` (one row per AES link that is up:
Srvr/Link, AE Services Server, Remote IP, Remote Port, Local Node, Msgs Sent, Msgs Rcvd).

Judgement:

* FAIL: the interface of ``[cm] aesvcs_local_node`` is not listed, not enabled, or not
  ``listening`` (other Status values are not documented: anything else is reported as it is);
  or no link to the AES (``[cm] aes_server_name``; if empty, any AES) is listed: the AES is not
  connected (AES down, switch connection password or network), whatever the connection count.
* WARN: the link is up but only on another local node than the configured one (the transport
  works, not where the app note puts it), or procr reports 0 connections while a link on it is
  listed (the two screens disagree: a link that is coming or going; check again).
* PASS otherwise; each listed link's Msgs Sent/Rcvd are metrics.
"""

from __future__ import annotations

from ecc_doctor.checks.cm_session import cm_sat
from ecc_doctor.config.cm import CmConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.probes.sat_records import AesvcsInterfaceStatus, AesvcsLink, AesvcsLinkStatus

ID = "cm.aesvcs-link"
TITLE = "AESVCS interface listening and the AES link up (status aesvcs interface/link)"
SOURCE = "ECC app note 5.4, 6.3"
NEEDS: tuple[str, ...] = ("cm",)

LISTENING = "listening"


def _interface_problem(cfg: CmConfig, screen: AesvcsInterfaceStatus) -> str | None:
    node = cfg.aesvcs_local_node
    row = screen.node(node)
    if row is None:
        listed = ", ".join(r.local_node for r in screen.rows) or "none"
        return (
            f"'status aesvcs interface' lists no AESVCS interface on {node} (listed: {listed}; "
            "ip-services AESVCS, [cm] aesvcs_local_node)"
        )
    if not row.is_enabled:
        return f"AESVCS interface on {node} is not enabled (Enabled? {row.enabled})"
    if row.status.lower() != LISTENING:
        return f"AESVCS interface on {node} is {row.status or '(no status)'} (expected listening)"
    return None


def _wanted(cfg: CmConfig, links: AesvcsLinkStatus) -> list[AesvcsLink]:
    name = cfg.aes_server_name
    return [r for r in links.rows if not name or r.aes_server.lower() == name.lower()]


def _no_link(cfg: CmConfig, links: AesvcsLinkStatus, screen: AesvcsInterfaceStatus) -> str:
    target = f"AE Services server {cfg.aes_server_name}" if cfg.aes_server_name else "any AES"
    listed = ", ".join(f"{r.srvr_link} {r.aes_server}" for r in links.rows)
    row = screen.node(cfg.aesvcs_local_node)
    count = f"; {row.local_node} has {row.connections} connection(s)" if row else ""
    return (
        f"no AES link to {target} in 'status aesvcs link' "
        f"({'listed: ' + listed if listed else 'none listed'}{count}): AES is not connected "
        "to CM (AES down, the switch connection's password or network; app note 6.3)"
    )


def _metrics(screen: AesvcsInterfaceStatus, links: list[AesvcsLink], node: str) -> dict[str, float]:
    metrics: dict[str, float] = {}
    row = screen.node(node)
    if row is not None:
        metrics[f"{row.local_node}.connections"] = row.connections
    for link in links:
        metrics[f"link{link.srvr_link}.msgs_sent"] = link.msgs_sent
        metrics[f"link{link.srvr_link}.msgs_rcvd"] = link.msgs_rcvd
    return metrics


def _describe(links: list[AesvcsLink]) -> str:
    return ", ".join(
        f"{r.srvr_link} {r.aes_server} {r.remote_ip}:{r.remote_port} on {r.local_node}"
        for r in links
    )


async def check(ctx: CheckContext) -> Result:
    cfg: CmConfig = ctx.section("cm")
    async with cm_sat(ctx) as sat:
        interface = await sat.aesvcs_interface()
        links = await sat.aesvcs_links()
    evidence = [
        Evidence.table("status aesvcs interface", *_columns_rows(interface)),
        Evidence.table("status aesvcs link", *_columns_rows(links)),
    ]
    node = cfg.aesvcs_local_node
    wanted = _wanted(cfg, links)
    metrics = _metrics(interface, wanted, node)
    problems = [p for p in (_interface_problem(cfg, interface),) if p]
    if not wanted:
        problems.append(_no_link(cfg, links, interface))
    if problems:
        return ctx.result(Status.FAIL, "; ".join(problems), metrics=metrics, evidence=evidence)
    on_node = [r for r in wanted if r.local_node.lower() == node.lower()]
    if not on_node:
        return ctx.result(
            Status.WARN,
            f"AES link {_describe(wanted)} is up, but not on {node} ([cm] aesvcs_local_node, "
            "the AESVCS local node of app note 5.4)",
            metrics=metrics,
            evidence=evidence,
        )
    row = interface.node(node)
    assert row is not None  # no interface problem
    if row.connections == 0:
        return ctx.result(
            Status.WARN,
            f"AESVCS interface on {node} is listening with 0 connections, yet 'status aesvcs "
            f"link' lists {_describe(on_node)}: the screens disagree (a link coming up or "
            "dropping?); run the check again",
            metrics=metrics,
            evidence=evidence,
        )
    return ctx.result(
        Status.PASS,
        f"AESVCS interface on {node} listening ({row.connections} connection(s)); AES link "
        f"{_describe(on_node)} up",
        metrics=metrics,
        evidence=evidence,
    )


def _columns_rows(
    screen: AesvcsInterfaceStatus | AesvcsLinkStatus,
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    table = screen.tables()[0]
    return table.columns, table.rows
