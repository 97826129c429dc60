"""A CM whose OSSI field IDs differ from ecc-doctor's table (QA 4a F1, F2): the AES password
on the ip-services AE Services page never reaches a transcript or report, and an unknown AE
Services page is an ERROR naming the IDs, not a FAIL "no AE Services server"."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.lab import Lab
from ecc_doctor.lab.cm_sat import CmSatEmulator
from ecc_doctor.models import Status
from ecc_doctor.runner import run_checks

pytestmark = pytest.mark.anyio
IP = "display ip-services"


async def _ip_services(lab: Lab, fields: dict[str, str]) -> tuple[Status, str, str]:
    cm = dataclasses.replace(lab.config.cm, ossi_fields={IP: fields})
    config = dataclasses.replace(lab.config, cm=cm)
    (result,) = await run_checks(select(["cm.ip-services"], all_checks()), config, debug=True)
    return result.status, result.summary, json.dumps(result.to_dict())


async def test_the_password_is_masked_when_its_field_id_is_not_the_tables(lab: Lab) -> None:
    emu = next(e for e in lab.emulators if isinstance(e, CmSatEmulator))
    # this CM sends the password under 1543ff00; the site's table says it is elsewhere
    status, _, report = await _ip_services(lab, {"Password": "7777ff00"})
    assert status is Status.PASS
    assert emu.aes_password not in report
    assert "aes70" in report  # known fields are still shown


async def test_an_ae_services_page_of_unknown_ids_is_an_error_naming_them(lab: Lab) -> None:
    emu = next(e for e in lab.emulators if isinstance(e, CmSatEmulator))
    moved = {
        "Server ID": "7001ff00",
        "AE Services Server": "7002ff00",
        "Server Enabled": "7004ff00",
        "Status": "7005ff00",
    }
    status, summary, report = await _ip_services(lab, moved)
    assert status is Status.ERROR, summary
    assert summary.startswith(
        f"{IP}: no record has the field 7002ff00 (AE Services Server), and some records have "
        "no field ID ecc-doctor knows; set [cm.ossi_fields."
    ), summary
    assert emu.aes_password not in report
