"""cm.cti-link-admin: each CTI link is administered as ADJ-IP with an extension (app note 5.2)."""

from __future__ import annotations

from ecc_doctor.checks.cm_cti_link import listed_links, no_links
from ecc_doctor.checks.cm_session import cm_sat
from ecc_doctor.config.cm import CmConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.probes.sat import CommandRejected, SatSession
from ecc_doctor.probes.sat_records import FieldScreen

ID = "cm.cti-link-admin"
TITLE = "CTI links are administered as ADJ-IP (display cti-link)"
SOURCE = "ECC app note 5.2"
NEEDS: tuple[str, ...] = ("cm",)


def _problems(cfg: CmConfig, number: int, screen: FieldScreen) -> list[str]:
    out = []
    link_type = screen.get("Type") or ""
    extension = screen.get("Extension") or ""
    if link_type.upper() != "ADJ-IP":
        out.append(f"CTI link {number} has Type '{link_type}' (expected ADJ-IP)")
    if not extension:
        out.append(f"CTI link {number} has no Extension")
    elif cfg.expected_extension and extension != cfg.expected_extension:
        out.append(
            f"CTI link {number} has Extension {extension} (expected {cfg.expected_extension})"
        )
    return out


async def _one(sat: SatSession, cfg: CmConfig, number: int) -> tuple[list[str], Evidence | None]:
    command = f"display cti-link {number}"
    try:
        screen = await sat.form(command)
    except CommandRejected as exc:
        return [f"CTI link {number} is not administered (CM: {exc.cm_message})"], None
    absent = [label for label in ("Type", "Extension") if screen.get(label) is None]
    if absent:  # not shown at all (an empty value is a FAIL below)
        raise screen.missing(absent)
    table = screen.tables()[0]
    return _problems(cfg, number, screen), Evidence.table(command, table.columns, table.rows)


async def check(ctx: CheckContext) -> Result:
    cfg: CmConfig = ctx.section("cm")
    problems: list[str] = []
    evidence: list[Evidence] = []
    async with cm_sat(ctx) as sat:
        links = list(cfg.cti_links)
        if not links:  # default: every link CM lists, as cm.cti-link does
            links, listing = listed_links(await sat.cti_status())
            evidence.append(listing)
            if not links:
                return no_links(ctx, evidence)
        for number in links:
            found, table = await _one(sat, cfg, number)
            problems += found
            evidence += [table] if table else []
    if problems:
        return ctx.result(Status.FAIL, "; ".join(problems), evidence=evidence)
    names = ", ".join(str(n) for n in links)
    return ctx.result(Status.PASS, f"CTI link {names} administered as ADJ-IP", evidence=evidence)
