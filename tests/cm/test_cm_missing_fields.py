"""A form field ecc-doctor cannot find: in OSSI, every form check names the field ID and the
[cm.ossi_fields."<command>"] key, as cm.cti-link does; on a screen, the label (QA 3a F4)."""

from __future__ import annotations

import dataclasses

import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.lab import Lab
from ecc_doctor.models import Status
from ecc_doctor.probes.sat_records import FieldScreen
from ecc_doctor.probes.sat_screens import parse_screen
from ecc_doctor.runner import run_checks

pytestmark = pytest.mark.anyio

OPTIONS = "display system-parameters customer-options"
FEATURES = "display system-parameters features"
CTI = "display cti-link"


async def test_unknown_ossi_ids_name_the_id_and_the_setting(lab: Lab) -> None:
    moved = {  # IDs this CM does not send: what a real CM with other IDs does
        OPTIONS: {"Computer Telephony Adjunct Links": "6a09ff00"},
        FEATURES: {"Send UCID to ASAI": "f509ff00"},
        CTI: {"Type": "c009ff00"},
    }
    cm = dataclasses.replace(lab.config.cm, ossi_fields=moved)
    config = dataclasses.replace(lab.config, cm=cm)
    results = await run_checks(
        select(["cm.license", "cm.ucid", "cm.cti-link-admin"], all_checks()), config
    )
    by_id = {r.check_id: r for r in results}
    assert {r.status for r in results} == {Status.ERROR}
    assert by_id["cm.license"].summary == (
        f"{OPTIONS}: OSSI output lacks field 6a09ff00 (Computer Telephony Adjunct Links); "
        f'set [cm.ossi_fields."{OPTIONS}"] to this CM\'s field IDs, or set [cm] termtype = '
        '"vt220", which needs none'
    )
    assert by_id["cm.ucid"].summary == (
        f"{FEATURES}: OSSI output lacks field f509ff00 (Send UCID to ASAI); "
        f'set [cm.ossi_fields."{FEATURES}"] to this CM\'s field IDs, or set [cm] termtype = '
        '"vt220", which needs none'
    )
    assert by_id["cm.cti-link-admin"].summary.startswith(
        f"{CTI}: OSSI output lacks field c009ff00 (Type); set [cm.ossi_fields."
    )


def test_a_screen_without_the_label_says_the_screen_did_not_show_it() -> None:
    screen = parse_screen(
        "display system-parameters features                            Page   5 of  19\n"
        "                        FEATURE-RELATED SYSTEM PARAMETERS\n"
        "     Create Universal Call ID (UCID)? y    UCID Network Node ID: 01\n"
    )
    assert isinstance(screen, FieldScreen)
    assert screen.get("Send UCID to ASAI") is None
    assert screen.missing(["Send UCID to ASAI"]).message == (
        f"the '{FEATURES}' screen did not show 'Send UCID to ASAI'"
    )
