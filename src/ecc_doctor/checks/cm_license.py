"""cm.license: the CM license enables Computer Telephony Adjunct Links (app note 5.1)."""

from __future__ import annotations

from ecc_doctor.checks.cm_session import cm_sat
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.probes.sat_ossi import CUSTOMER_OPTIONS

ID = "cm.license"
TITLE = "CM license has Computer Telephony Adjunct Links"
SOURCE = "ECC app note 5.1"
NEEDS: tuple[str, ...] = ("cm",)
OPTION = "Computer Telephony Adjunct Links"


async def check(ctx: CheckContext) -> Result:
    async with cm_sat(ctx) as sat:
        screen = await sat.form(CUSTOMER_OPTIONS)
    table = screen.tables()[0]
    evidence = [Evidence.table(CUSTOMER_OPTIONS, table.columns, table.rows)]
    value = screen.get(OPTION)
    if value is None:
        raise screen.missing([OPTION])
    if value.lower() != "y":
        return ctx.result(
            Status.FAIL,
            f"CM license: {OPTION} is '{value}' (expected y; ask Avaya for a license file "
            "with CTI adjunct links)",
            evidence=evidence,
        )
    return ctx.result(Status.PASS, f"CM license: {OPTION} = y", evidence=evidence)
