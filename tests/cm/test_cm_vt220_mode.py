"""The cm.* checks over the VT220 terminal type (termtype = "vt220"): the documented 80x24
screens, paged with NEXT PAGE, rendered and parsed like pasted screens (QA 3a F2a)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

from ecc_doctor.config import from_mapping
from ecc_doctor.config.cm import CmConfig
from ecc_doctor.errors import ConfigError, ConnectError, ProbeTimeout, ProtocolError
from ecc_doctor.lab import Lab
from ecc_doctor.lab.base import LabEnv
from ecc_doctor.lab.cm_sat import CmSatEmulator
from ecc_doctor.models import Status
from ecc_doctor.probes.sat import MAX_PAGES, CommandRejected, open_sat
from ecc_doctor.transcript import Transcript

from .conftest import CM_CHECKS, cm_of, run

pytestmark = pytest.mark.anyio


async def closed(emu: CmSatEmulator) -> int:
    for _ in range(100):
        if emu.status()["open_sessions"] == 0:
            break
        await asyncio.sleep(0.02)
    return int(emu.status()["open_sessions"])


async def test_every_cm_check_passes_in_vt220_mode(lab: Lab) -> None:
    results = await run(lab, "cm", termtype="vt220")
    assert {r.check_id: r.status for r in results} == dict.fromkeys(CM_CHECKS, Status.PASS), [
        r.summary for r in results
    ]
    by_id = {r.check_id: r for r in results}
    assert by_id["cm.cti-link"].summary == "CTI link 1 established, messages flowing"
    assert by_id["cm.ucid"].summary == "UCID created (node ID 01) and sent to ASAI"
    emu = cm_of(lab)
    assert emu.status()["logoffs"] == 6
    assert emu.status()["pages"] >= 2  # features and ip-services took NEXT PAGE
    text = json.dumps([r.to_dict() for r in results])
    assert "> vt220" in text and "(NEXT PAGE)" in text
    assert "\\u001b" not in text  # screens are rendered, no escape codes in the report
    assert emu.password not in text and emu.aes_password not in text
    assert await closed(emu) == 0


@pytest.mark.parametrize("fault", ["cti-link-down", "cti-link-stuck", "ossi-garbled"])
async def test_each_lab_fault_gives_the_same_verdicts_in_both_modes(lab: Lab, fault: str) -> None:
    await lab.fault(fault)
    ossi = await run(lab, "cm", termtype="ossi")
    vt220 = await run(lab, "cm", termtype="vt220")
    assert [r.status for r in vt220] == [r.status for r in ossi], [r.summary for r in vt220]
    assert Status.PASS not in {r.status for r in ossi} or fault != "ossi-garbled"
    if fault != "ossi-garbled":  # the same words, too
        assert [r.summary for r in vt220] == [r.summary for r in ossi]
    assert await closed(cm_of(lab)) == 0


@pytest.mark.parametrize("fault", ["cm-auth-fail", "sat-hang"])
async def test_login_faults_are_error_in_vt220_mode(lab: Lab, fault: str) -> None:
    await lab.fault(fault)
    results = await run(lab, "cm", termtype="vt220", prompt_timeout=0.5)
    assert {r.status for r in results} == {Status.ERROR}
    assert await closed(cm_of(lab)) == 0


@dataclasses.dataclass
class Cm:
    emu: CmSatEmulator
    cfg: CmConfig


async def start(tmp_path: Path, **kwargs: object) -> Cm:
    emu = CmSatEmulator(**kwargs)  # type: ignore[arg-type]
    cfg = from_mapping(await emu.start(LabEnv(tmp_path)), source="<test>").cm
    cfg = dataclasses.replace(cfg, termtype="vt220", prompt_timeout=1.0, command_timeout=3.0)
    return Cm(emu, cfg)


async def test_paged_screen_is_read_page_by_page(tmp_path: Path) -> None:
    cm = await start(tmp_path)
    transcript = Transcript("sat")
    try:
        async with open_sat(cm.cfg, transcript, connect_timeout=5) as sat:
            services = await sat.ip_services()  # page 1: services; page 4: AE Services
            with pytest.raises(CommandRejected) as info:
                await sat.form("display cti-link 9")
            assert info.value.cm_message == "Identifier not assigned"
            features = await sat.form("display system-parameters features")
        assert services.services[0].local_port == "8765"
        assert services.aes_servers[0].status == "in use"
        assert features.get("Send UCID to ASAI") == "y"  # from the second page
        lines = transcript.lines
        assert sum(line.endswith("> (NEXT PAGE)") for line in lines) == 2
        assert any("Page   4 of   4" in line for line in lines)
        assert any(line.endswith("> logoff") for line in lines)
        assert cm.emu.status()["logoffs"] == 1
        assert cm.emu.aes_password not in "\n".join(lines)
    finally:
        assert await closed(cm.emu) == 0
        await cm.emu.stop()


async def test_endless_next_page_is_a_bounded_error(tmp_path: Path) -> None:
    cm = await start(tmp_path, endless_paging=True)
    try:
        with pytest.raises(ProtocolError) as info:
            async with open_sat(cm.cfg, Transcript("sat"), connect_timeout=5) as sat:
                await sat.cti_status()
        assert info.value.message == (
            f"CM 127.0.0.1:{cm.emu.port}: 'status aesvcs cti-link' was still paging after "
            f"{MAX_PAGES} pages (pressed CANCEL)"
        )
        assert cm.emu.status()["logoffs"] == 1  # the session was still logged off
    finally:
        assert await closed(cm.emu) == 0
        await cm.emu.stop()


async def test_sat_that_never_shows_command_prompt_is_a_bounded_error(tmp_path: Path) -> None:
    cm = await start(tmp_path, vt220_prompt=False)
    try:
        with pytest.raises(ProbeTimeout) as info:
            async with open_sat(cm.cfg, Transcript("sat"), connect_timeout=5):
                pass
        assert info.value.message == (
            f"CM 127.0.0.1:{cm.emu.port}: no 'Command:' prompt after termtype vt220 within 1 s"
        )
    finally:
        assert await closed(cm.emu) == 0
        await cm.emu.stop()


async def test_connection_lost_mid_command_is_connect_error(tmp_path: Path) -> None:
    cm = await start(tmp_path)
    try:
        with pytest.raises(ConnectError, match="status aesvcs cti-link"):
            async with open_sat(cm.cfg, Transcript("sat"), connect_timeout=5) as sat:
                await sat.cti_status()
                await cm.emu.set_network(False)
                await asyncio.wait_for(sat.process.wait_closed(), 5)
                await sat.cti_status()
    finally:
        await cm.emu.stop()


@pytest.mark.parametrize("termtype", ["vt220", "VT220", "ossi", "ossi4", "ossit"])
def test_accepted_termtypes(termtype: str) -> None:
    data = {"cm": {"host": "cm", "username": "u", "password": "env:X", "termtype": termtype}}
    assert from_mapping(data, source="<t>").cm.termtype == termtype


@pytest.mark.parametrize("termtype", ["513", "4410", "w2ktt"])
def test_other_termtypes_are_refused_naming_the_accepted_ones(termtype: str) -> None:
    data = {"cm": {"host": "cm", "username": "u", "password": "env:X", "termtype": termtype}}
    with pytest.raises(ConfigError, match=r"ossi, ossi3, ossi4, ossit\) or vt220"):
        from_mapping(data, source="<t>")
