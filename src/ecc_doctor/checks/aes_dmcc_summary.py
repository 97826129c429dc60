"""aes.dmcc-summary: the OAM DMCC Session Summary lists the ECC service's session."""

from __future__ import annotations

from ecc_doctor.config.aes import AesConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.probes.aes_oam import COLUMNS, fetch_dmcc_summary

ID = "aes.dmcc-summary"
TITLE = "The AES DMCC Session Summary lists the ECC service's session"
SOURCE = "ECC app note 9.2"
NEEDS: tuple[str, ...] = ("aes",)


def far_end_matches(cell: str, expected: str) -> bool:
    """``10.0.0.5`` matches ``10.0.0.5`` and ``10.0.0.5:45120`` but not ``10.0.0.50``.

    >>> far_end_matches("10.0.0.5:45120", "10.0.0.5"), far_end_matches("10.0.0.50", "10.0.0.5")
    (True, False)
    """
    cell, expected = cell.strip().lower(), expected.strip().lower()
    return cell == expected or cell.startswith(expected + ":")


async def check(ctx: CheckContext) -> Result:
    cfg: AesConfig = ctx.section("aes")
    if not cfg.oam_url:
        return ctx.result(
            Status.SKIP, "no oam_url in [aes]: the DMCC Service Summary cannot be read"
        )
    transcript = ctx.transcript(f"AES OAM {cfg.oam_url}")
    table = await fetch_dmcc_summary(
        cfg, transcript, timeout=max(1.0, min(15.0, ctx.remaining() / 3))
    )
    evidence = [Evidence.table("DMCC Service Summary - Session Summary", COLUMNS, table.rows)]
    records = table.records()
    user = cfg.ecc_user or cfg.username
    # our own aes.dmcc-session may be open at the same moment: it does not count
    theirs = [r for r in records if r["User"] == user and r["Application"] != cfg.application_id]
    metrics = {"sessions_listed": float(len(records)), "sessions_for_user": float(len(theirs))}
    if not theirs:
        return ctx.result(
            Status.FAIL,
            f"no DMCC session of CTI user {user} on the AES Session Summary "
            f"({len(records)} sessions listed): is the ECC service connected to AES?",
            metrics=metrics,
            evidence=evidence,
        )
    expected = cfg.expected_far_end
    matching = [
        r for r in theirs if not expected or far_end_matches(r["Far-end Identifier"], expected)
    ]
    if not matching:
        seen = ", ".join(sorted({r["Far-end Identifier"] for r in theirs}))
        return ctx.result(
            Status.FAIL,
            f"CTI user {user} has DMCC sessions, but none from the ECC service at {expected} "
            f"(far ends: {seen})",
            metrics=metrics,
            evidence=evidence,
        )
    row = matching[0]
    summary = (
        f"DMCC session {row['Session ID']} of {user} from {row['Far-end Identifier']} "
        f"({row['Application'] or 'no application name'}) is listed on the AES Session Summary"
    )
    return ctx.result(Status.PASS, summary, metrics=metrics, evidence=evidence)
