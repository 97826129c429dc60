"""ecc.api, ecc.event-roundtrip and ecc.trunk-established against the lab and its faults."""

from __future__ import annotations

import asyncio

import pytest

from ecc_doctor.checks import ecc_api, ecc_roundtrip, ecc_trunk, spec_of
from ecc_doctor.lab import Lab
from ecc_doctor.models import Status
from ecc_doctor.runner import run_checks

from .conftest import clean_ecc_lab, no_traceback, run_one, with_ecc

pytestmark = pytest.mark.anyio

STEPS = ("alerting", "answer", "hold", "retrieve", "drop")


async def test_api_passes_with_mtls_and_token(ecc_lab: Lab) -> None:
    result = await run_one(ecc_api, ecc_lab.config)
    assert result.status is Status.PASS, result.summary
    assert "client certificate + Bearer token" in result.summary
    assert "subscription created, validated and deleted" in result.summary
    assert {"ecc.request_ms", "ecc.subscribe_ms"} <= result.metrics.keys()
    assert ecc_lab.status()["ecc"]["validations"] == 1


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data"])
async def test_roundtrip_passes_with_step_latencies(ecc_lab: Lab, content_type: str) -> None:
    config = with_ecc(ecc_lab.config, callback_content_type=content_type)
    result = await run_one(ecc_roundtrip, config)
    assert result.status is Status.PASS, result.summary
    assert set(result.metrics) == {f"step.{s}_ms" for s in STEPS}
    assert all(v >= 0 for v in result.metrics.values())
    table = next(e for e in result.evidence if e.title == "call steps")
    assert [row[0] for row in table.rows] == list(STEPS)
    assert [row[2] for row in table.rows] == [
        "ALERTING",
        "ACTIVE",
        "HELD",
        "ACTIVE",
        "CLEARED/DROPPED/ENDED",
    ]


async def test_roundtrip_over_plain_http_callback(ecc_lab: Lab) -> None:
    config = with_ecc(ecc_lab.config, callback_tls=False)
    result = await run_one(ecc_roundtrip, config)
    assert result.status is Status.PASS, result.summary


async def test_trunk_call_active_passes(ecc_lab: Lab) -> None:
    result = await run_one(ecc_trunk, ecc_lab.config)
    assert result.status is Status.PASS, result.summary
    assert "step.answered_ms" in result.metrics


async def test_trunk_without_established_event_fails_with_known_issue(ecc_lab: Lab) -> None:
    await ecc_lab.fault("ecc-no-established-on-trunk")
    result = await run_one(ecc_trunk, with_ecc(ecc_lab.config, event_timeout=0.5))
    assert result.status is Status.FAIL, result.summary
    assert "the far end answered (GET call: ACTIVE)" in result.summary
    assert "ECC sent no ACTIVE event" in result.summary
    assert "app note 2.2" in result.summary
    assert "cannot control or monitor" in result.summary
    # the station-to-station round trip is not affected by the trunk observation
    assert (await run_one(ecc_roundtrip, ecc_lab.config)).status is Status.PASS


async def test_trunk_skipped_without_trunk_number(ecc_lab: Lab) -> None:
    result = await run_one(ecc_trunk, with_ecc(ecc_lab.config, trunk_number=""))
    assert result.status is Status.SKIP
    assert "ecc.trunk_number" in result.summary


async def test_roundtrip_skipped_without_extensions(ecc_lab: Lab) -> None:
    result = await run_one(ecc_roundtrip, with_ecc(ecc_lab.config, extension_b=""))
    assert result.status is Status.SKIP
    assert "ecc.extension_a and ecc.extension_b" in result.summary


async def test_slow_events_warn_naming_the_budget(ecc_lab: Lab) -> None:
    await ecc_lab.fault("ecc-slow-events")
    config = with_ecc(ecc_lab.config, event_budget_ms=200.0)
    result = await run_one(ecc_roundtrip, config)
    assert result.status is Status.WARN, result.summary
    assert "events are slow" in result.summary and "budget 200 ms" in result.summary
    assert min(result.metrics.values()) > 200


async def test_auth_refused_is_error_explained(ecc_lab: Lab) -> None:
    await ecc_lab.fault("ecc-auth")
    for module in (ecc_api, ecc_roundtrip):
        result = await run_one(module, ecc_lab.config)
        assert result.status is Status.ERROR, result.summary
        assert "401 Unauthorized" in result.summary
        assert "whitelist" in result.summary and "token" in result.summary
        no_traceback(result)


async def test_restart_in_a_dashboard_loop(ecc_lab: Lab) -> None:
    """run, fault, run, heal, run within one lab and one process."""
    config = ecc_lab.config
    assert (await run_one(ecc_roundtrip, config)).status is Status.PASS
    await ecc_lab.fault("ecc-restart")
    for module in (ecc_api, ecc_roundtrip, ecc_trunk):
        down = await run_one(module, config)
        assert down.status is Status.ERROR, down.summary
        assert "HTTP 503" in down.summary and "restarting" in down.summary
        no_traceback(down)
    await ecc_lab.heal("ecc-restart")
    for module in (ecc_api, ecc_roundtrip, ecc_trunk):
        up = await run_one(module, config)
        assert up.status is Status.PASS, up.summary


async def test_network_flap_is_error_then_recovers(ecc_lab: Lab) -> None:
    await ecc_lab.fault("network-flap")
    down = await run_one(ecc_roundtrip, ecc_lab.config)
    assert down.status is Status.ERROR
    assert "connection refused" in down.summary
    await ecc_lab.heal("network-flap")
    assert (await run_one(ecc_roundtrip, ecc_lab.config)).status is Status.PASS


async def test_duplicate_events_warn(ecc_lab: Lab) -> None:
    await ecc_lab.fault("ecc-duplicate-events")
    result = await run_one(ecc_roundtrip, ecc_lab.config)
    assert result.status is Status.WARN, result.summary
    assert "delivered" in result.summary and "twice (same eventId)" in result.summary


async def test_out_of_order_events_fail(ecc_lab: Lab) -> None:
    await ecc_lab.fault("ecc-out-of-order-events")
    result = await run_one(ecc_roundtrip, ecc_lab.config)
    assert result.status is Status.FAIL, result.summary
    assert "out of order" in result.summary
    assert result.summary.startswith("step retrieve:") or result.summary.startswith("step hold:")


async def test_events_of_other_calls_are_ignored(ecc_lab: Lab) -> None:
    await ecc_lab.fault("ecc-foreign-events")
    result = await run_one(ecc_roundtrip, ecc_lab.config)
    assert result.status is Status.PASS, result.summary
    assert "5 events of other calls ignored" in result.details[0]


async def test_unreadable_events_fail_naming_the_step(ecc_lab: Lab) -> None:
    await ecc_lab.fault("ecc-garbage-events")
    config = with_ecc(ecc_lab.config, event_timeout=0.5)
    result = await run_one(ecc_roundtrip, config)
    assert result.status is Status.FAIL, result.summary
    assert result.summary.startswith("step alerting: no ALERTING event for call")
    assert "last event seen for this call: none" in result.summary
    assert "unreadable (last: not JSON" in result.summary


async def test_lab_lists_its_ecc_faults(ecc_lab: Lab) -> None:
    for fault in ("ecc-restart", "ecc-no-established-on-trunk", "ecc-slow-events", "ecc-auth"):
        assert fault in ecc_lab.faults


async def test_trunk_check_does_not_blame_the_app_note_when_no_event_arrives(ecc_lab: Lab) -> None:
    await ecc_lab.fault("ecc-garbage-events")
    result = await run_one(ecc_trunk, with_ecc(ecc_lab.config, event_timeout=0.5))
    assert result.status is Status.ERROR, result.summary
    assert "no event at all arrived for the trunk call" in result.summary
    assert "unreadable" in result.summary


async def test_ecc_checks_run_concurrently_like_check_all(ecc_lab: Lab) -> None:
    """All three at once, as `check --all` runs them: no collision, every one PASS."""
    specs = [spec_of(m) for m in (ecc_api, ecc_roundtrip, ecc_trunk)]
    results = await run_checks(specs, ecc_lab.config)
    assert [r.status for r in results] == [Status.PASS] * 3, [r.summary for r in results]


async def test_alerting_that_does_not_concern_b_does_not_pass_the_step() -> None:
    """The lab's ALERTING event names only the caller A: B was never reported ringing."""
    async with clean_ecc_lab(alert_caller_only=True) as lab:
        result = await run_one(ecc_roundtrip, with_ecc(lab.config, event_timeout=0.5))
    assert result.status is Status.FAIL, result.summary
    assert result.summary.startswith("step alerting: no ALERTING event for call ")
    assert "concerning 3302 within" in result.summary
    assert "last event seen for this call: ALERTING for call" in result.summary
    assert "at 3301)" in result.summary


async def test_error_mid_call_keeps_the_latencies_measured_so_far(ecc_lab: Lab) -> None:
    """ECC restarts (and comes back) after ALERTING arrived: ERROR, with the alerting latency."""
    await ecc_lab.fault("ecc-slow-events")  # each event takes 0.4 s: time to restart mid-call
    config = with_ecc(ecc_lab.config, event_timeout=1.0)
    task = asyncio.create_task(run_one(ecc_roundtrip, config))
    for _ in range(500):  # until the ALERTING event is on its way to the check
        if ecc_lab.status()["ecc"]["deliveries"] >= 1 or task.done():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # delivered; the check answers at B and waits for ACTIVE
    await ecc_lab.fault("ecc-restart")
    await ecc_lab.heal("ecc-restart")
    result = await task
    assert result.status is Status.ERROR, result.summary
    assert result.summary.startswith(
        "step answer: the Eventing Connector had lost our subscription"
    )
    assert "step.alerting_ms" in result.metrics
    table = next(e for e in result.evidence if e.title == "call steps")
    assert [row[0] for row in table.rows] == ["alerting", "answer"]
    assert table.rows[0][3].startswith("ALERTING for call")


async def test_api_without_an_extension_does_not_pass_on_a_404(ecc_lab: Lab) -> None:
    # the base path answering 404 does not show ECC is there: a misspelt ecc_path answers
    # the same (QA 4b #5); with a monitored station, Get Connections proves it
    for path in ("/services/EngagementCallControl/", "/services/EngagementCalControl/"):
        config = with_ecc(ecc_lab.config, extension_a="", extension_b="", ecc_path=path)
        result = await run_one(ecc_api, config)
        assert result.status is Status.WARN, result.summary
        assert result.summary.endswith(
            f"but {path} answered 404, which does not show that the ECC service is deployed "
            "there: set ecc.extension_a (a monitored station) to verify it"
        )
    result = await run_one(ecc_api, ecc_lab.config)
    assert result.status is Status.PASS and "connection(s) at" in result.summary
