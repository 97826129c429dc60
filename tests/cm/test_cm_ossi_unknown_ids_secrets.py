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


def test_blank_ae_services_rows_are_no_unknown_ids() -> None:
    # review s6b R3: a CM with no AES server administered lists blank server rows under the
    # known IDs: that is "no AE Services server" (a FAIL of the check), not unknown IDs
    from ecc_doctor.probes.sat_ossi import parse_ossi
    from ecc_doctor.probes.sat_records import IpServices, from_ossi

    lines = [
        f"c{IP}",
        "f1501ff00\t1502ff00\t1503ff00\t1504ff00\t1505ff00\t1506ff00",
        "dAESVCS\ty\tprocr\t8765\t\t",
        "n",
        "f1541ff00\t1542ff00\t1543ff00\t1544ff00\t1545ff00",
        "d1\t\t\t\t",
        "t",
    ]
    screen = from_ossi(IP, parse_ossi(lines))
    assert isinstance(screen, IpServices)
    assert screen.services and not screen.aes_servers


def test_an_all_digit_password_is_not_taken_for_a_number() -> None:
    # review s6b R2: "harmless" numbers are ports and IDs (up to 5 digits)
    from ecc_doctor.probes.sat_ossi import parse_ossi, shown_ids

    lines = [f"c{IP}", "f7001ff00\t7002ff00", "d8765\t98765432101", "t"]
    masked = parse_ossi(lines, show_only=shown_ids({IP: {}}, IP)).masked_lines
    assert "d8765\t*" in masked
