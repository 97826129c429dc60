"""ecc.event-roundtrip: a call A->B driven through ECC; every state change comes back as an event.

The app note's Verification Step 9.3 ("place a call to the monitored extension ... verify call
states are synchronized"), made automatic: subscribe; Make Call A->B; ALERTING; Answer at B;
ACTIVE; Hold; HELD; Retrieve; ACTIVE; Drop; the call ends. Each step's latency is a metric.
"""

from __future__ import annotations

from ecc_doctor.checks.ecc_steps import CallSteps, StepFailed, stations
from ecc_doctor.context import CheckContext
from ecc_doctor.errors import ProbeError, ProtocolError
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.probes.ecc_events import event_session, shielded

ID = "ecc.event-roundtrip"
TITLE = "A call placed, answered, held, retrieved and dropped via ECC comes back as events"
SOURCE = "ECC app note 9.3"
NEEDS: tuple[str, ...] = ("ecc",)

COLUMNS = ("step", "request", "expected event", "received", "latency")


async def check(ctx: CheckContext) -> Result:
    cfg = ctx.section("ecc")
    if not (cfg.extension_a and cfg.extension_b):
        return ctx.result(
            Status.SKIP,
            "set ecc.extension_a and ecc.extension_b (two monitored stations) to place a test call",
        )
    timeout = max(ctx.connect_timeout, 1.0)
    rest_log, event_log = ctx.transcript("ECC REST"), ctx.transcript("ECC events")
    async with (
        stations(ctx, cfg.extension_a, cfg.extension_b) as waited,
        event_session(cfg, rest_log, event_log, timeout=timeout) as (rest, receiver, sub),
    ):
        steps = CallSteps(cfg, rest, receiver, sub)
        try:
            failure = await _drive(steps)
        finally:  # drop the call, delete the subscription: what fails is reported
            await shielded(steps.cleanup(), steps.cleanup_limit())
        result = steps.finish(_verdict(ctx, steps, failure))
    return result.replace(details=(*result.details, *waited.details()))


async def _drive(steps: CallSteps) -> StepFailed | ProbeError | None:
    cfg, rest = steps.cfg, steps.rest
    a, b = cfg.extension_a, cfg.extension_b
    conn = ""

    async def find_b() -> str:
        found = await rest.connection_id(b, steps.call_id)
        if not found and steps.last is not None and steps.last.address == b:
            found = steps.last.connection_id
        if not found:
            raise ProtocolError(
                f"ECC lists no connection of {b} in call {steps.call_id} (GET addresses/{b}/"
                f"connections): is {b} monitored (AES/ECC only know monitored stations)?"
            )
        return found

    steps.start()
    await steps.snapshot_calls(a)  # before the step's clock starts: not part of its latency
    try:
        await steps.run(
            "alerting",
            f"Make Call {a}->{b}",
            lambda: steps.make_call(a, b),
            {cfg.event_alerting},
            party=b,  # B rings: the event must say so, not only that A is calling
        )
        conn = await find_b()
        # each action goes where the newest event of B's connection links to, if any
        await steps.run(
            "answer",
            f"Answer at {b}",
            lambda: rest.answer(steps.call_id, conn, steps.links_at(b)),
            {cfg.event_active},
        )
        await steps.run(
            "hold",
            f"Hold at {b}",
            lambda: rest.hold(steps.call_id, conn, steps.links_at(b)),
            {cfg.event_held},
        )
        await steps.run(
            "retrieve",
            f"Retrieve at {b}",
            lambda: rest.retrieve(steps.call_id, conn, steps.links_at(b)),
            {cfg.event_active},
        )
        await steps.run(
            "drop",
            f"Drop {b}",
            lambda: rest.drop_connection(steps.call_id, conn, steps.links_at(b)),
            set(cfg.event_ended),
        )
    except (StepFailed, ProbeError) as failed:
        return failed  # a ProbeError mid-call is still ERROR, with the steps measured so far
    return None


def _verdict(
    ctx: CheckContext, steps: CallSteps, failure: StepFailed | ProbeError | None
) -> Result:
    cfg, rx = steps.cfg, steps.receiver
    metrics = steps.latencies()
    table = Evidence.table("call steps", COLUMNS, steps.table_rows())
    others = sum(1 for e in rx.events if e.call_id != steps.call_id)
    details = [
        f"callback {rx.url}; {rx.deliveries} deliveries, {others} events of other calls ignored"
    ]
    if rx.unreadable:
        details.append(f"{rx.unreadable} deliveries unreadable (last: {rx.last_unreadable})")
    if rx.foreign:
        details.append(f"{rx.foreign} events of a subscription that is not ours ignored")
    if isinstance(failure, ProbeError):  # could not find out: ERROR, as the runner would say
        return ctx.result(
            Status.ERROR, failure.message, details=details, metrics=metrics, evidence=[table]
        )
    if failure is not None:
        return ctx.result(
            Status.FAIL, failure.summary, details=details, metrics=metrics, evidence=[table]
        )
    a, b = cfg.extension_a, cfg.extension_b
    slow = steps.slow_steps()
    if slow:
        names = ", ".join(f"{s.name} {s.latency_ms:.0f} ms" for s in slow)
        summary = (
            f"call {a}->{b} states synchronized, but events are slow: {names} "
            f"(budget {cfg.event_budget_ms:.0f} ms, ecc.event_budget_ms)"
        )
        return ctx.result(Status.WARN, summary, details=details, metrics=metrics, evidence=[table])
    if rx.duplicates:
        summary = (
            f"call {a}->{b} states synchronized, but the Eventing Connector delivered "
            f"{rx.duplicates} event(s) twice (same eventId): a client without de-duplication acts twice"
        )
        return ctx.result(Status.WARN, summary, details=details, metrics=metrics, evidence=[table])
    worst = max(steps.steps, key=lambda s: s.latency_ms or 0.0)
    summary = (
        f"call {a}->{b}: ALERTING, ACTIVE, HELD, ACTIVE and end events arrived in order "
        f"(slowest step {worst.name}: {worst.latency_ms or 0:.0f} ms)"
    )
    return ctx.result(Status.PASS, summary, details=details, metrics=metrics, evidence=[table])
