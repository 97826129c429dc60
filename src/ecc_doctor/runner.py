"""Runs checks concurrently, each under its own time limit; exceptions become ERROR results."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from ecc_doctor import cancel
from ecc_doctor.checks import CheckSpec
from ecc_doctor.config import SiteConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.errors import EccDoctorError
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.secrets import redact


@dataclass(frozen=True)
class RunEvent:
    """Progress of a run: ``started`` (result is None) or ``finished``."""

    kind: str
    check_id: str
    result: Result | None = None


Listener = Callable[[RunEvent], None]


async def run_checks(
    specs: Sequence[CheckSpec],
    config: SiteConfig,
    *,
    listener: Listener | None = None,
    debug: bool = False,
    timeout_override: float | None = None,
) -> list[Result]:
    """Run *specs* concurrently; results come back in the order of *specs*.

    A check that raises gives ERROR with a one-line reason; one that overruns its time limit
    is cancelled (its cleanup runs) and gives ERROR. Wall time is about the slowest check's.
    """
    tasks = [
        asyncio.create_task(
            _run_one(spec, config, listener, debug, timeout_override), name=f"check:{spec.id}"
        )
        for spec in specs
    ]
    try:
        nested = await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return [r for group in nested for r in group]


def _missing_sections(spec: CheckSpec, config: SiteConfig) -> list[str]:
    return [name for name in spec.needs if config.section(name) is None]


async def _run_one(
    spec: CheckSpec,
    config: SiteConfig,
    listener: Listener | None,
    debug: bool,
    timeout_override: float | None,
) -> list[Result]:
    limit = timeout_override or config.timeouts.for_check(spec.id)
    ctx = CheckContext(spec.id, config, limit, title=spec.title, source=spec.source)
    if listener:
        listener(RunEvent("started", spec.id))
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    missing = _missing_sections(spec, config)
    if missing:
        sections = ", ".join(f"[{m}]" for m in missing)
        results = [
            ctx.result(Status.SKIP, f"not configured: no {sections} section in {config.source}")
        ]
    else:
        results = await _guarded(spec, ctx, limit, debug, overridden=timeout_override is not None)
    duration = time.monotonic() - t0
    transcripts = tuple(t.to_evidence() for t in ctx.transcripts)
    # a host key trusted on first use is part of the record, not only of the transcript:
    # the engineer compares its fingerprint with the one read off the host's console
    trusted = tuple(key for t in ctx.transcripts for key in t.trusted_keys)
    final = [
        r.replace(
            details=r.details + tuple(k for k in trusted if k not in r.details),
            duration_s=duration,
            started_at=started_at,
            evidence=r.evidence + transcripts,
            title=r.title or spec.title,
            source=r.source or spec.source,
        )
        for r in results
    ]
    if listener:
        for r in final:
            listener(RunEvent("finished", r.check_id, r))
    return final


def _last_step(ctx: CheckContext) -> str:
    """Where a check that timed out was: its latest transcript's session and the last line
    recorded before the deadline (``; last: CM SAT 10.0.0.5:5022: > c status aesvcs
    cti-link``), not what the cancelled session's cleanup added after it; "" when the check
    opened no session. Transcripts are redacted already."""
    deadline = time.monotonic() + ctx.remaining()
    for transcript in reversed(ctx.transcripts):
        lines = transcript.lines_until(deadline)
        if not lines:
            return f"; last: {transcript.title}: nothing exchanged yet"
        last = lines[-1].split(" ", 1)[-1]  # without the "+1.234" stamp
        text = f"{transcript.title}: {last}"
        return "; last: " + (text if len(text) <= 120 else text[:119] + "…")
    return ""


async def _guarded(
    spec: CheckSpec, ctx: CheckContext, limit: float, debug: bool, *, overridden: bool = False
) -> list[Result]:
    try:
        # the scope tells threads the check started (capture analysis...) to stop when it ends
        with cancel.scope():
            async with asyncio.timeout(limit):
                outcome = await spec.fn(ctx)
    except TimeoutError:
        if overridden:
            key = "--timeout"
        elif spec.id in ctx.config.timeouts.checks:
            key = f'timeouts.checks."{spec.id}"'
        else:
            key = "timeouts.default"
        return [ctx.result(Status.ERROR, f"timed out after {limit:g} s ({key}){_last_step(ctx)}")]
    except EccDoctorError as exc:
        return [_error(ctx, exc.message or type(exc).__name__, exc, debug)]
    except Exception as exc:  # a bug in a check must not take the run down
        reason = f"internal error in {spec.id}: {type(exc).__name__}: {exc}"
        hint = "" if debug else " (run with --debug for the traceback)"
        return [_error(ctx, reason + hint, exc, debug)]
    results: list[object] = list(outcome) if isinstance(outcome, list) else [outcome]
    if not results:
        return [ctx.result(Status.ERROR, f"internal error in {spec.id}: no result returned")]
    for item in results:  # a plugin may return anything: keep the run (and its reports) alive
        if not isinstance(item, Result):
            kind = type(item).__name__
            return [ctx.result(Status.ERROR, f"{spec.id} returned {kind}, expected Result")]
    return cast(list[Result], results)  # every item was checked above


def _error(ctx: CheckContext, reason: str, exc: BaseException, debug: bool) -> Result:
    evidence: tuple[Evidence, ...] = ()
    if debug:
        tb = redact("".join(traceback.format_exception(exc)))
        evidence = (Evidence.text("traceback", tb),)
    return ctx.result(Status.ERROR, reason, evidence=evidence)
