"""ecc.trunk-established: an outbound call over the PRI trunk is reported ACTIVE when answered.

The app note's one observation (section 2.2): for an outbound call from a deskphone over a PRI
T1 trunk, ECC gets no EstablishedEvent from AES when the external user answers, so ECC never
says ACTIVE and the client cannot control or monitor the call. This check dials
``ecc.trunk_number`` (a number that answers automatically) from ``ecc.trunk_extension`` (else
``ecc.extension_a``).
"""

from __future__ import annotations

from typing import Any

from ecc_doctor.checks.ecc_steps import CallSteps, StepFailed, stations
from ecc_doctor.config.ecc import EccConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.errors import CheckError, ProbeError
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.probes.ecc_events import event_session, shielded

ID = "ecc.trunk-established"
TITLE = "An outbound trunk call is reported ACTIVE (EstablishedEvent) when the far end answers"
SOURCE = "ECC app note 2.2 observation"
NEEDS: tuple[str, ...] = ("ecc",)

UP_STATES = {"ACTIVE", "CONNECTED", "ESTABLISHED", "ANSWERED"}
KNOWN_ISSUE = (
    "the known AES/ECC behaviour for outbound PRI trunk calls recorded in the ECC app note 2.2: "
    "AES sends ECC no EstablishedEvent when the external party answers, so ECC never reports "
    "the call ACTIVE and the client cannot control or monitor it"
)


async def check(ctx: CheckContext) -> Result:
    cfg = ctx.section("ecc")
    if not cfg.trunk_number:
        return ctx.result(
            Status.SKIP,
            "set ecc.trunk_number (an external number that answers automatically) to test outbound trunk calls",
        )
    if not _caller(cfg):
        return ctx.result(
            Status.SKIP,
            "set ecc.trunk_extension or ecc.extension_a (the station that dials the trunk number)",
        )
    timeout = max(ctx.connect_timeout, 1.0)
    rest_log, event_log = ctx.transcript("ECC REST"), ctx.transcript("ECC events")
    async with (
        stations(ctx, _caller(cfg)) as waited,
        event_session(cfg, rest_log, event_log, timeout=timeout) as (rest, receiver, sub),
    ):
        steps = CallSteps(cfg, rest, receiver, sub)
        try:
            try:
                result = await _scenario(ctx, steps)
            except (ProbeError, CheckError) as exc:  # ERROR, with what the cleanup finds
                result = ctx.result(Status.ERROR, exc.message, metrics=steps.latencies())
        finally:  # drop the call, delete the subscription: what fails is reported
            await shielded(steps.cleanup(), steps.cleanup_limit())
        result = steps.finish(result)
    return result.replace(details=(*waited.details(), *result.details))


async def _scenario(ctx: CheckContext, steps: CallSteps) -> Result:
    cfg = steps.cfg
    a, n = _caller(cfg), cfg.trunk_number

    steps.start()
    await steps.snapshot_calls(a)  # before the window opens: not part of the latency
    steps.state = cfg.event_alerting  # ALERTING before the answer is expected, not judged
    expected = {cfg.event_active, *cfg.event_ended}
    try:
        event = await steps.run(
            "answered",
            f"Make Call {a}->{n}",
            lambda: steps.make_call(a, n),
            expected,
            timeout=_window(cfg),
        )
    except StepFailed as failed:
        if failed.timed_out:
            return await _no_active(ctx, steps)
        return ctx.result(Status.FAIL, failed.summary, metrics=steps.latencies())
    if event.type != cfg.event_active:
        raise CheckError(
            f"the trunk call {a}->{n} ended ({event.type}) before it was answered: check that ecc.trunk_number answers automatically"
        )
    latency = steps.steps[-1].latency_ms or 0.0
    summary = f"outbound trunk call {a}->{n} reported ACTIVE {latency:.0f} ms after Make Call (EstablishedEvent reaches ECC)"
    return ctx.result(Status.PASS, summary, metrics=steps.latencies())


async def _no_active(ctx: CheckContext, steps: CallSteps) -> Result:
    cfg, rx = steps.cfg, steps.receiver
    a, n = _caller(cfg), cfg.trunk_number
    if steps.last is None:
        raise CheckError(
            f"no event at all arrived for the trunk call {a}->{n} within "
            f"{_window(cfg):g} s ({rx.deliveries} deliveries, {rx.unreadable} "
            "unreadable): event delivery itself is broken (see ecc.event-roundtrip), so the "
            "app note 2.2 observation cannot be judged"
        )
    try:
        call = await steps.rest.get_call(steps.call_id)
    except ProbeError as exc:
        raise CheckError(
            f"no ACTIVE event for the trunk call {a}->{n} within {_window(cfg):g} s, and its state cannot be read ({exc.message}): cannot tell whether the far end answered"
        ) from exc
    state = _far_end_state(call, n)
    last = steps.last.describe() if steps.last else "none"
    table = Evidence.table(
        "call state (GET call)",
        ("key", "value"),
        sorted((k, str(v)[:120]) for k, v in call.items()),
    )
    if state not in UP_STATES:
        return _not_answered(ctx, steps, state, last, table)
    summary = (
        f"outbound call {a}->{n} over the trunk: the far end answered (GET call: {state}) "
        f"but ECC sent no ACTIVE event: {KNOWN_ISSUE}"
    )
    details = [
        f"last event seen for the call: {last}",
        "App note 2.2: 'the Engagement Call Control snap-in does not get an EstablishedEvent from the AES when the external user answers the call'; it was under investigation by Avaya development.",
        "Effect: ECC clients (e.g. the Aura Alliance client) show the call as still ringing and cannot hold, transfer or monitor it.",
        "Compare station-to-station calls (ecc.event-roundtrip) and ask Avaya support for the AES/ECC fix for your releases.",
    ]
    return ctx.result(
        Status.FAIL, summary, details=details, metrics=steps.latencies(), evidence=[table]
    )


def _not_answered(
    ctx: CheckContext, steps: CallSteps, state: str, last: str, table: Evidence
) -> Result:
    """No ACTIVE event and ECC does not show the far end up either: two possible causes."""
    cfg = steps.cfg
    a, n = _caller(cfg), cfg.trunk_number
    summary = (
        f"outbound call {a}->{n} over the trunk: the far end was not seen answering within "
        f"{cfg.trunk_answer_timeout:g} s (ecc.trunk_answer_timeout; GET call: "
        f"{state or 'no state'}) and ECC sent no ACTIVE event: either ecc.trunk_number does "
        "not answer automatically (busy, rings out, no auto-answer), or this is the app note "
        "2.2 issue (ECC's own call state comes from the same AES events); confirm on CM with "
        "'status trunk' or 'list trace' whether the far end answered"
    )
    details = [
        f"last event seen for the call: {last}",
        "If CM shows the trunk call answered, ECC missed the EstablishedEvent (app note 2.2: "
        "the known AES/ECC behaviour for outbound PRI trunk calls).",
        f"If it was still ringing, give ecc.trunk_number a number that answers automatically "
        f"within {cfg.trunk_answer_timeout:g} s, or raise ecc.trunk_answer_timeout.",
    ]
    return ctx.result(
        Status.FAIL, summary, details=details, metrics=steps.latencies(), evidence=[table]
    )


def _caller(cfg: EccConfig) -> str:
    """The station that dials the trunk number: ecc.trunk_extension, else extension_a."""
    return str(cfg.trunk_extension or cfg.extension_a)


def _window(cfg: EccConfig) -> float:
    """How long ACTIVE may take: the far end answers, then the event is delivered."""
    return float(cfg.trunk_answer_timeout + cfg.event_timeout)


def _far_end_state(call: dict[str, Any], number: str) -> str:
    conns = call.get("connections")
    if isinstance(conns, list):
        for conn in conns:
            if isinstance(conn, dict) and str(conn.get("address", "")) == number:
                return str(conn.get("state", "")).upper()
    return str(call.get("state", "")).upper()
