"""sip.register: REGISTER flows in the [sip] captures follow the challenge/refresh rules."""

from __future__ import annotations

from ecc_doctor.captures.sip.checking import run
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Result

ID = "sip.register"
TITLE = "SIP registrations complete: 401 challenge, authorized retry, 2xx, refresh"
SOURCE = "SIP Adventures: REGISTER"
NEEDS: tuple[str, ...] = ("sip",)


async def check(ctx: CheckContext) -> Result:
    return await run(ctx, rule="register", kind="register", noun="registration")
