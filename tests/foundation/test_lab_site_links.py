"""The lab's systems depend on each other as the seeds describe: ECC reaches CM only through
AES and its CTI link, so an AES restart takes ECC's call control down with it (QA 3a F1)."""

from __future__ import annotations

import pytest

from ecc_doctor.checks import ecc_api, ecc_roundtrip, spec_of
from ecc_doctor.lab import Lab
from ecc_doctor.lab.aes import AesEmulator
from ecc_doctor.lab.ecc import EccEmulator
from ecc_doctor.models import Status
from ecc_doctor.runner import run_checks

pytestmark = pytest.mark.anyio


async def _ecc(lab: Lab) -> dict[str, Status | str]:
    results = await run_checks([spec_of(ecc_api), spec_of(ecc_roundtrip)], lab.config)
    return {r.check_id: r.status for r in results} | {
        f"{r.check_id} summary": r.summary for r in results
    }


async def test_an_aes_restart_takes_ecc_call_control_down_until_aes_is_back() -> None:
    aes = AesEmulator(restart_s=0)  # down until healed
    async with Lab([aes, EccEmulator(budget_ms=1000.0, slow_delay=0.4)]) as lab:
        before = await _ecc(lab)
        assert before["ecc.api"] is Status.PASS and before["ecc.event-roundtrip"] is Status.PASS
        await lab.fault("aes-restart")
        during = await _ecc(lab)
        assert during["ecc.api"] is Status.ERROR
        assert during["ecc.event-roundtrip"] is Status.ERROR
        summary = str(during["ecc.event-roundtrip summary"])
        # ECC's own reason first, the request after it
        assert summary.startswith("ECC answered HTTP 503: Communication Manager cannot be "), (
            summary
        )
        assert summary.endswith("(POST /services/EngagementCallControl/calls)")
        await lab.heal("aes-restart")
        after = await _ecc(lab)
        assert after["ecc.api"] is Status.PASS and after["ecc.event-roundtrip"] is Status.PASS
        assert lab.status()["ecc"]["active_calls"] == 0


async def test_without_an_aes_emulator_ecc_counts_the_chain_as_up() -> None:
    # a lab of ECC alone (the ECC tests' own) is not held back by an AES it does not have
    async with Lab([EccEmulator(budget_ms=1000.0, slow_delay=0.4)]) as lab:
        assert lab.env is not None and lab.env.links.cm_reachable()
        assert (await _ecc(lab))["ecc.event-roundtrip"] is Status.PASS


async def test_the_cti_link_follows_aes_and_ecc_follows_the_cti_link() -> None:
    from ecc_doctor.checks import cm_cti_link
    from ecc_doctor.lab.cm_sat import CmSatEmulator

    aes = AesEmulator(restart_s=0)
    emulators = [CmSatEmulator(), aes, EccEmulator(budget_ms=1000.0, slow_delay=0.4)]
    async with Lab(emulators) as lab:

        async def link() -> tuple[Status, str]:
            (result,) = await run_checks([spec_of(cm_cti_link)], lab.config)
            return result.status, result.summary

        assert (await link())[0] is Status.PASS
        await lab.fault("aes-restart")  # the link's far end is gone: CM shows it down
        status, summary = await link()
        assert status is Status.FAIL and "is down" in summary, summary
        await lab.heal("aes-restart")
        assert (await link())[0] is Status.PASS
        await lab.fault("cti-link-down")  # AES runs, but ECC cannot reach CM through it
        assert (await _ecc(lab))["ecc.event-roundtrip"] is Status.ERROR
        await lab.heal("cti-link-down")
        assert (await _ecc(lab))["ecc.event-roundtrip"] is Status.PASS


async def test_the_link_counters_freeze_while_aes_restarts_and_never_go_back() -> None:
    from ecc_doctor.checks import cm_cti_link
    from ecc_doctor.lab.cm_sat import CmSatEmulator

    async with Lab([CmSatEmulator(), AesEmulator(restart_s=0)]) as lab:

        async def sent() -> float:
            (result,) = await run_checks([spec_of(cm_cti_link)], lab.config)
            return result.metrics["link1.msgs_sent"]

        before = await sent()
        await lab.fault("aes-restart")
        during = [await sent(), await sent()]
        await lab.heal("aes-restart")
        after = await sent()
        # review s6 F16: they fell back to their start value during the restart
        assert before <= during[0] == during[1] <= after
