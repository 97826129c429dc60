"""The runner: concurrency, time limits, exceptions as ERROR results, stable order, SKIP."""

from __future__ import annotations

import asyncio
import time

import pytest

from ecc_doctor.checks import CheckSpec
from ecc_doctor.config import from_mapping
from ecc_doctor.context import CheckContext
from ecc_doctor.errors import ConnectError
from ecc_doctor.models import Result, Status
from ecc_doctor.runner import RunEvent, run_checks

pytestmark = pytest.mark.anyio
CONFIG = from_mapping({"timeouts": {"default": 5}}, source="<test>")


def spec(check_id: str, fn, needs: tuple[str, ...] = ()) -> CheckSpec:
    return CheckSpec(check_id, f"title of {check_id}", "test", needs, fn)


def sleeper(seconds: float):
    async def fn(ctx: CheckContext) -> Result:
        await asyncio.sleep(seconds)
        return ctx.result(Status.PASS, f"slept {seconds}")

    return fn


async def test_checks_run_concurrently_and_keep_registry_order() -> None:
    specs = [spec(f"t.sleep{i}", sleeper(0.5 - i * 0.04)) for i in range(10)]
    t0 = time.monotonic()
    results = await run_checks(specs, CONFIG)
    wall = time.monotonic() - t0
    assert [r.check_id for r in results] == [s.id for s in specs]
    assert all(r.status is Status.PASS for r in results)
    # ten half-second checks: about one sleep, far from the 3.2 s sum
    assert wall < 2.0


async def test_hanging_check_is_cut_at_its_timeout_and_cleans_up() -> None:
    cleaned = asyncio.Event()

    async def hang(ctx: CheckContext) -> Result:
        t = ctx.transcript("session")
        t.sent("hello")
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()
        raise AssertionError("unreachable")

    cfg = from_mapping({"timeouts": {"default": 5, "checks": {"t.hang": 0.2}}}, source="<t>")
    (result,) = await run_checks([spec("t.hang", hang)], cfg)
    assert result.status is Status.ERROR
    assert (
        result.summary == 'timed out after 0.2 s (timeouts.checks."t.hang"); last: session: > hello'
    )
    assert cleaned.is_set()
    assert result.evidence and result.evidence[0].kind == "transcript"
    assert "hello" in result.evidence[0].lines[0]


async def test_probe_error_becomes_error_with_its_message() -> None:
    async def refused(ctx: CheckContext) -> Result:
        raise ConnectError("10.0.0.1:5022: connection refused")

    (result,) = await run_checks([spec("t.refused", refused)], CONFIG)
    assert result.status is Status.ERROR
    assert result.summary == "10.0.0.1:5022: connection refused"


async def test_bug_in_check_is_one_line_error_with_traceback_only_in_debug() -> None:
    async def buggy(ctx: CheckContext) -> Result:
        raise KeyError("oops")

    (plain,) = await run_checks([spec("t.buggy", buggy)], CONFIG)
    assert plain.status is Status.ERROR
    assert plain.summary.startswith("internal error in t.buggy: KeyError: 'oops'")
    assert "--debug" in plain.summary and "\n" not in plain.summary
    assert not any(e.title == "traceback" for e in plain.evidence)
    (debug,) = await run_checks([spec("t.buggy", buggy)], CONFIG, debug=True)
    tb = next(e for e in debug.evidence if e.title == "traceback")
    assert any("Traceback" in line for line in tb.lines)


async def test_missing_section_is_skip_with_reason() -> None:
    (result,) = await run_checks([spec("t.cm", sleeper(0), needs=("cm",))], CONFIG)
    assert result.status is Status.SKIP
    assert result.summary == "not configured: no [cm] section in <test>"


async def test_listener_sees_start_and_finish_of_every_check() -> None:
    events: list[RunEvent] = []
    await run_checks(
        [spec("t.a", sleeper(0)), spec("t.b", sleeper(0))], CONFIG, listener=events.append
    )
    assert sorted((e.kind, e.check_id) for e in events) == [
        ("finished", "t.a"),
        ("finished", "t.b"),
        ("started", "t.a"),
        ("started", "t.b"),
    ]


async def test_result_carries_duration_title_and_source() -> None:
    (result,) = await run_checks([spec("t.s", sleeper(0.05))], CONFIG)
    assert result.duration_s >= 0.05
    assert result.title == "title of t.s" and result.source == "test"


async def test_timeout_override_applies_to_every_check() -> None:
    (result,) = await run_checks([spec("t.slow", sleeper(5))], CONFIG, timeout_override=0.1)
    assert result.status is Status.ERROR and "timed out after 0.1 s" in result.summary


async def test_timeout_override_is_named_as_the_setting_that_applied() -> None:
    (result,) = await run_checks([spec("t.slow", sleeper(5))], CONFIG, timeout_override=0.1)
    assert result.summary == "timed out after 0.1 s (--timeout)"


@pytest.mark.parametrize("returned", [None, "PASS", [None], 42])
async def test_check_returning_something_else_than_a_result_is_error(returned) -> None:
    async def odd(ctx: CheckContext):
        return returned

    good, bad = await run_checks([spec("t.good", sleeper(0)), spec("t.odd", odd)], CONFIG)
    assert good.status is Status.PASS
    assert bad.status is Status.ERROR and bad.check_id == "t.odd"
    kind = type(returned[0] if isinstance(returned, list) else returned).__name__
    assert bad.summary == f"t.odd returned {kind}, expected Result"
