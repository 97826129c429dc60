"""cm.cti-link: every configured AE Services CTI link is ``established`` on CM (app note 9.1)."""

from __future__ import annotations

import asyncio

from ecc_doctor.checks.cm_session import cm_sat
from ecc_doctor.config.cm import CmConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.probes.sat_records import CtiLinkStatus

ID = "cm.cti-link"
TITLE = "CTI links to AES are established (status aesvcs cti-link)"
SOURCE = "ECC app note 9.1"
NEEDS: tuple[str, ...] = ("cm",)


def _problems(cfg: CmConfig, status: CtiLinkStatus, wanted: list[int]) -> list[str]:
    out = []
    for number in wanted:
        row = status.link(number)
        if row is None:
            out.append(f"CTI link {number} is not listed by 'status aesvcs cti-link'")
        elif row.state != "established":
            out.append(
                f"CTI link {number} to {row.aes_server or '?'} is {row.state} (expected established)"
            )
        elif cfg.aes_server_name and row.aes_server != cfg.aes_server_name:
            out.append(
                f"CTI link {number} is served by {row.aes_server} (expected {cfg.aes_server_name})"
            )
    return out


def _failed(cfg: CmConfig, problems: list[str], listed: list[int]) -> str:
    """The FAIL summary; when no link is configured and CM lists several, it says how to
    judge only ECC's (a down link of another application would fail the ECC sign-off)."""
    summary = "; ".join(problems)
    if not cfg.cti_links and len(listed) > 1:
        summary += (
            f" (all {len(listed)} listed links are judged: set [cm] cti_links to the link of "
            "app note 5.2 to judge ECC's only)"
        )
    return summary


def _metrics(status: CtiLinkStatus, wanted: list[int]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for row in status.rows:
        if row.link in wanted:
            metrics[f"link{row.link}.msgs_sent"] = row.msgs_sent
            metrics[f"link{row.link}.msgs_rcvd"] = row.msgs_rcvd
    return metrics


def _evidence(status: CtiLinkStatus, title: str) -> Evidence:
    table = status.tables()[0]
    return Evidence.table(title, table.columns, table.rows)


def listed_links(status: CtiLinkStatus) -> tuple[list[int], Evidence]:
    """Every link 'status aesvcs cti-link' lists (what a check covers when cm.cti_links is
    empty), with that listing as evidence."""
    return [row.link for row in status.rows], _evidence(status, "status aesvcs cti-link")


def no_links(ctx: CheckContext, evidence: list[Evidence]) -> Result:
    """The FAIL when no link is configured and CM lists none."""
    return ctx.result(
        Status.FAIL,
        "no AE Services CTI link is administered ('status aesvcs cti-link' lists none)",
        evidence=evidence,
    )


def _stuck(first: CtiLinkStatus, second: CtiLinkStatus, wanted: list[int]) -> list[str]:
    out = []
    for number in wanted:
        a, b = first.link(number), second.link(number)
        if a and b and (a.msgs_sent, a.msgs_rcvd) == (b.msgs_sent, b.msgs_rcvd):
            out.append(f"link {number} (sent {b.msgs_sent}, rcvd {b.msgs_rcvd})")
    return out


async def check(ctx: CheckContext) -> Result:
    cfg: CmConfig = ctx.section("cm")
    async with cm_sat(ctx) as sat:
        status = await sat.cti_status()
        listed, table = listed_links(status)
        wanted = list(cfg.cti_links) or listed
        evidence = [table]
        if not wanted:
            return no_links(ctx, evidence)
        problems = _problems(cfg, status, wanted)
        metrics = _metrics(status, wanted)
        if problems:
            summary = _failed(cfg, problems, listed)
            return ctx.result(Status.FAIL, summary, metrics=metrics, evidence=evidence)
        links = ", ".join(str(n) for n in wanted)
        if cfg.cti_link_sample_s <= 0:
            return ctx.result(
                Status.PASS, f"CTI link {links} established", metrics=metrics, evidence=evidence
            )
        loop = asyncio.get_running_loop()
        pause = min(cfg.cti_link_sample_s, max(ctx.remaining() / 2, 0))
        slept_from = loop.time()
        await asyncio.sleep(pause)
        waited = loop.time() - slept_from  # what we really waited (the pause may be capped)
        second = await sat.cti_status()
    title = f"status aesvcs cti-link after {waited:.1f} s"
    if pause < cfg.cti_link_sample_s:
        title += f" (capped from {cfg.cti_link_sample_s:g} s by the check's time limit)"
    evidence.append(_evidence(second, title))
    metrics = _metrics(second, wanted)
    problems = _problems(cfg, second, wanted)
    if problems:
        summary = _failed(cfg, problems, [row.link for row in second.rows])
        return ctx.result(Status.FAIL, summary, metrics=metrics, evidence=evidence)
    stuck = _stuck(status, second, wanted)
    if stuck:
        return ctx.result(
            Status.WARN,
            f"CTI link {links} established but message counters did not move in "
            f"{waited:.1f} s: " + "; ".join(stuck),
            metrics=metrics,
            evidence=evidence,
        )
    return ctx.result(
        Status.PASS,
        f"CTI link {links} established, messages flowing",
        metrics=metrics,
        evidence=evidence,
    )
