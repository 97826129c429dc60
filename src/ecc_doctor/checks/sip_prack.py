"""sip.prack: reliable provisional responses in the [sip] captures follow RFC 3262."""

from __future__ import annotations

from ecc_doctor.captures.sip.checking import run
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Result

ID = "sip.prack"
TITLE = "Reliable provisional responses: RSeq, PRACK/RAck and 200 OK (100rel)"
SOURCE = "RFC 3262 / SIP Adventures: PRACK"
NEEDS: tuple[str, ...] = ("sip",)


async def check(ctx: CheckContext) -> Result:
    return await run(ctx, rule="prack", kind="invite", noun="100rel call")
