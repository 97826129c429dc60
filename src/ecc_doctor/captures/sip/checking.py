"""The body shared by the sip.register and sip.prack checks: analyze [sip] captures."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.sip.analyze import SipAnalysis, analyze_file
from ecc_doctor.captures.sip.digest import load_passwords
from ecc_doctor.captures.sip.ladder import build_ladder, render_text
from ecc_doctor.captures.sip.report import finding_line, flows_table
from ecc_doctor.config.sip import SipConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.errors import CaptureError
from ecc_doctor.models import Evidence, Result, Status


def _analyze(
    cfg: SipConfig, rule: str, base: Path | None
) -> tuple[list[tuple[Path, SipAnalysis]], list[str]]:
    """The analyses of the [sip] captures that could be read, and why the others could not
    (one line each): one missing or damaged file does not hide the others' verdicts."""
    passwords = load_passwords(_resolve(cfg.password_file, base)) if cfg.password_file else None
    out = []
    errors = []
    for capture in cfg.captures:
        path = _resolve(capture, base)
        if not path.is_file():
            errors.append(f"[sip] captures: {path}: no such file")
            continue
        try:
            analysis = analyze_file(
                path,
                engine=cfg.engine,
                rules=(rule,),
                ports=tuple(cfg.ports),
                passwords=passwords,
                max_contacts=cfg.max_contacts,
                # sip.register and sip.prack run side by side in `check --all`: one
                # process each (`ecc-doctor analyze --jobs` is the fast way on big files)
                jobs=1,
            )
        except CaptureError as exc:
            errors.append(exc.message)
            continue
        out.append((path, analysis))
    return out, errors


def _ladders(analyses: list[tuple[Path, SipAnalysis]], flows: list[Flow]) -> list[Evidence]:
    """Ladder diagrams of (a few) flows that did not pass."""
    out = []
    for flow in flows:
        for _, analysis in analyses:
            if flow in analysis.flows and flow.call_id in analysis.ladders:
                lad = build_ladder(analysis, flow.call_id)
                lines = tuple(render_text(lad, width=110))
                out.append(Evidence(title=f"ladder {flow.call_id}", kind="ladder", lines=lines))
                break
    return out


def _unlisted_by_status(analyses: list[tuple[Path, SipAnalysis]]) -> dict[Status, int]:
    out = dict.fromkeys(Status, 0)
    for _, a in analyses:
        for value, n in a.not_listed.items():
            out[Status(value)] += n
    return out


def _resolve(path: Path, base: Path | None) -> Path:
    """Relative paths are relative to the site file's folder."""
    if path.is_absolute() or base is None:
        return path
    return base / path


async def run(ctx: CheckContext, *, rule: str, kind: str, noun: str) -> Result:
    cfg: SipConfig = ctx.section("sip")
    if not cfg.captures:
        return ctx.result(Status.SKIP, "no captures configured ([sip] captures is empty)")
    source = Path(ctx.config.source)
    base = source.parent if source.is_file() else None
    # CPU-bound: keep the event loop free for the other checks
    analyses, errors = await asyncio.to_thread(_analyze, cfg, rule, base)
    if not analyses:
        raise CaptureError("; ".join(errors))
    result = _judge(ctx, analyses, rule=rule, kind=kind, noun=noun)
    if not errors:
        return result
    # a capture that could not be read: ERROR (could not tell), with the verdicts of the
    # files that could be read kept in the details, metrics and evidence
    return ctx.result(
        Status.ERROR,
        "; ".join(errors) + f" (the other captures: {result.status.value}: {result.summary})",
        details=[*errors, *result.details][:200],
        metrics=dict(result.metrics),
        evidence=list(result.evidence),
    )


def _judge(
    ctx: CheckContext,
    analyses: list[tuple[Path, SipAnalysis]],
    *,
    rule: str,
    kind: str,
    noun: str,
) -> Result:
    """The check's result on the captures that could be read."""
    flows: list[Flow] = [f for _, a in analyses for f in a.flows if f.kind == kind]
    if rule == "prack":
        used = [
            f
            for f in flows
            if "reliable 1xx" in f.summary
            or any(x.rule.startswith("sip.prack") for x in f.findings)
        ]
    else:
        used = flows
    names = ", ".join(p.name for p, _ in analyses)
    messages = sum(a.messages for _, a in analyses)
    # every flow of this kind, also those beyond the listing caps (only counted)
    totals = dict.fromkeys(Status, 0)
    for _, a in analyses:
        for key, n in a.counts.items():
            of_kind, _, value = key.rpartition(".")
            if of_kind == kind:
                totals[Status(value)] += n
    # each analysis ran this rule only, so every flow (listed or not) is in totals
    by_status = _unlisted_by_status(analyses)
    unlisted = sum(by_status.values())
    metrics = {
        "messages": float(messages),
        "flows": float(sum(totals.values())),
        "failing": float(totals[Status.FAIL] + totals[Status.ERROR]),
        "not_listed": float(unlisted),
    }
    if not used:
        what = "REGISTER flows" if rule == "register" else "reliable provisional responses (100rel)"
        return ctx.result(
            Status.SKIP, f"no {what} in {names} ({messages} SIP messages)", metrics=metrics
        )
    if rule == "register":
        # every REGISTER flow is used: the unlisted ones count (a worse one is always listed)
        status = Status.worst([s for s, n in totals.items() if n])
    else:
        # only calls with a reliable 1xx are judged: an unlisted call is not known to be one
        status = Status.worst([f.status for f in used])
    bad = [f for f in used if f.status == status and status is not Status.PASS]
    if rule == "register":
        n_bad, n_used = totals[status], sum(totals.values())
    else:
        n_bad, n_used = len(bad), len(used)
    details = []
    for f in used:
        for finding in f.findings:
            if finding.severity not in (Status.PASS, Status.SKIP):
                details.append(f"{f.aor or f.call_id}: {finding_line(finding)}")
    if unlisted:
        counted = ", ".join(f"{n} {s.value}" for s, n in by_status.items() if n)
        details.insert(0, f"{unlisted} more {noun} flows not listed (counted: {counted})")
    notes = [n for _, a in analyses for n in a.notes if n.severity is not Status.PASS]
    evidence = [flows_table(used, f"{noun} flows")]
    if notes:
        evidence.append(Evidence.text("capture notes", [finding_line(n) for n in notes[:50]]))
    evidence.extend(_ladders(analyses, bad[:3]))
    if bad:
        first = bad[0]
        worst = next((x for x in first.findings if x.severity == status), None)
        reason = worst.message if worst else first.summary
        summary = (
            f"{n_bad} of {n_used} {noun} flows {status.value}: "
            f"{first.aor or first.call_id}: {reason}"
        )
    else:
        summary = f"{n_used} {noun} flow{'' if n_used == 1 else 's'} correct in {names}"
    return ctx.result(status, summary, details=details[:200], metrics=metrics, evidence=evidence)
