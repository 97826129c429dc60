"""Flows as text, tables and Results (shared by ``ecc-doctor analyze`` and the sip checks)."""

from __future__ import annotations

from collections.abc import Sequence

from ecc_doctor.captures.flows import Flow
from ecc_doctor.models import Evidence, Finding, Result, Status

#: The check id a flow kind reports under.
CHECK_OF_KIND = {"register": "sip.register", "invite": "sip.prack", "mgc-failover": "mgc.failover"}


def check_id_of(flow: Flow) -> str:
    return CHECK_OF_KIND.get(flow.kind, f"mgc.{flow.kind}" if "mgc" in flow.kind else flow.kind)


def finding_line(f: Finding) -> str:
    frames = ",".join(str(n) for n in f.frames[:8])
    where = f" [f{frames}]" if frames else ""
    ref = f" ({f.reference})" if f.reference else ""
    return f"{f.severity.value} {f.rule}{where}: {f.message}{ref}"


def flow_lines(flow: Flow, *, verbose: bool = False) -> list[str]:
    """One header line and the findings worth showing (all of them with *verbose*)."""
    who = flow.aor or flow.call_id or flow.key
    lines = [f"{flow.status.symbol} {flow.status.value:<5} {flow.kind:<8} {who}: {flow.summary}"]
    if flow.aor and flow.call_id:
        lines.append(f"      Call-ID {flow.call_id}")
    for f in flow.findings:
        if verbose or f.severity not in (Status.PASS, Status.SKIP):
            lines.append(f"      {finding_line(f)}")
    return lines


def flows_table(flows: Sequence[Flow], title: str = "flows") -> Evidence:
    rows = []
    for fl in flows:
        worst = [f for f in fl.findings if f.severity == fl.status]
        rows.append(
            (
                fl.status.value,
                fl.kind,
                fl.aor or "",
                fl.call_id,
                fl.summary,
                worst[0].message if worst and fl.status is not Status.PASS else "",
            )
        )
    return Evidence.table(title, ("status", "kind", "aor", "call-id", "summary", "finding"), rows)


def flow_result(flow: Flow, *, source: str = "", file: str = "") -> Result:
    """A Result per flow (for JUnit): check id ``sip.register:<key>``."""
    base = check_id_of(flow)
    details = tuple(finding_line(f) for f in flow.findings)
    prefix = f"{file}: " if file else ""
    return Result(
        check_id=f"{base}:{flow.key}",
        status=flow.status,
        summary=f"{prefix}{flow.aor or flow.call_id or flow.key}: {flow.summary}",
        details=details,
        title=f"{flow.kind} flow {flow.key}",
        source=source,
    )
