"""cm.ucid: CM creates Universal Call IDs and sends them to ASAI (app note 5.3)."""

from __future__ import annotations

from ecc_doctor.checks.cm_session import cm_sat
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.probes.sat_ossi import FEATURES

ID = "cm.ucid"
TITLE = "UCID is created and sent to ASAI (system-parameters features)"
SOURCE = "ECC app note 5.3"
NEEDS: tuple[str, ...] = ("cm",)
CREATE = "Create Universal Call ID (UCID)"
NODE = "UCID Network Node ID"
SEND = "Send UCID to ASAI"


async def check(ctx: CheckContext) -> Result:
    async with cm_sat(ctx) as sat:
        screen = await sat.form(FEATURES)
    values = {label: screen.get(label) for label in (CREATE, NODE, SEND)}
    missing = [label for label, value in values.items() if value is None]
    if missing:
        raise screen.missing(missing)
    evidence = [Evidence.table(FEATURES, ("Field", "Value"), list(values.items()))]
    problems = [
        f"{label} is '{values[label]}' (expected y)"
        for label in (CREATE, SEND)
        if (values[label] or "").lower() != "y"
    ]
    node = values[NODE] or ""
    if not node.strip():
        problems.append(f"{NODE} is not set")
    if problems:
        return ctx.result(Status.FAIL, "UCID: " + "; ".join(problems), evidence=evidence)
    return ctx.result(
        Status.PASS, f"UCID created (node ID {node}) and sent to ASAI", evidence=evidence
    )
