"""The dashboard built from RECORDED results for snapshot tests: no network, fixed clock.

tests/fixtures/tui/results.json holds 17 runs of every check against the lab (see
record_snapshot_results.py); the app replays them into its history and never runs a check
(the specs' functions refuse to run). The clock is fixed at 10:48:20 UTC, so "since" and
durations are stable.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.sip.analyze import SipAnalysis
from ecc_doctor.checks import CheckSpec
from ecc_doctor.config import from_mapping
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Evidence, Finding, Result, Status
from ecc_doctor.tui.app import DashboardApp
from ecc_doctor.tui.ladder_screen import LadderScreen
from ecc_doctor.tui.messages import CaptureAnalyzed

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tui" / "results.json"
NOW = datetime(2026, 11, 21, 10, 48, 20, tzinfo=UTC)


def result_from_dict(data: dict[str, Any]) -> Result:
    """The inverse of ``Result.to_dict`` (for recorded results)."""
    evidence = tuple(
        Evidence(
            title=e["title"],
            kind=e["kind"],
            lines=tuple(e.get("lines", ())),
            columns=tuple(e.get("columns", ())),
            rows=tuple(tuple(r) for r in e.get("rows", ())),
        )
        for e in data.get("evidence", ())
    )
    return Result(
        check_id=data["id"],
        status=Status(data["status"]),
        summary=data["summary"],
        details=tuple(data.get("details", ())),
        duration_s=float(data.get("duration_s", 0.0)),
        metrics=dict(data.get("metrics", {})),
        evidence=evidence,
        started_at=datetime.fromisoformat(data["started_at"]),
        title=data.get("title", ""),
        source=data.get("source", ""),
    )


async def _never(ctx: CheckContext) -> Result:
    raise AssertionError("the snapshot app must not run checks")


def recorded() -> tuple[str, list[CheckSpec], list[tuple[datetime, Result]]]:
    data = json.loads(FIXTURE.read_text("utf-8"))
    specs = [CheckSpec(c["id"], c["title"], c["source"], (), _never) for c in data["checks"]]
    seen = [
        (datetime.fromisoformat(run["at"]), result_from_dict(r))
        for run in data["runs"]
        for r in run["results"]
    ]
    return str(data["site"]), specs, seen


def finding_from_dict(data: dict[str, Any]) -> Finding:
    return Finding(
        rule=data["rule"],
        severity=Status(data["severity"]),
        message=data["message"],
        frames=tuple(data.get("frames", ())),
        reference=data.get("reference", ""),
    )


def flow_from_dict(data: dict[str, Any]) -> Flow:
    return Flow(
        kind=data["kind"],
        key=data["key"],
        status=Status(data["status"]),
        summary=data["summary"],
        findings=tuple(finding_from_dict(f) for f in data.get("findings", ())),
        call_id=data.get("call_id", ""),
        aor=data.get("aor", ""),
        frames=tuple(data.get("frames", ())),
    )


def recorded_sip() -> tuple[str, SipAnalysis, LadderScreen]:
    """The recorded SIP analysis (flows, notes) and a ladder screen of its first dialog."""
    sip = json.loads(FIXTURE.read_text("utf-8"))["sip"]
    analysis = SipAnalysis(
        flows=[flow_from_dict(f) for f in sip["flows"]],
        notes=[finding_from_dict(n) for n in sip["notes"]],
    )
    ladder = sip["ladder"]
    screen = LadderScreen(
        f"ladder: {ladder['kind']} {ladder['call_id']}", "\n".join(ladder["lines"])
    )
    return sip["source"], analysis, screen


class SnapshotApp(DashboardApp):
    """The dashboard with the recorded SIP analysis shown as if a capture had been read."""

    def on_mount(self) -> None:
        source, analysis, _ = recorded_sip()
        self.post_message(CaptureAnalyzed(source, analysis))


def build_app() -> DashboardApp:
    site, specs, seen = recorded()
    config = from_mapping({"site": {"name": site}}, source="<recorded>", is_lab=True)
    app = SnapshotApp(
        config,
        specs=specs,
        interval=0,
        run_on_start=False,
        recorded=seen,
        clock=lambda: NOW,
        tz=UTC,
    )
    # The tab underline moves by an animation that starts on a 20 ms timer: under load the
    # screenshot could be taken before it began (CI once caught the Timeline underline
    # mid-way). Without animations it is placed at once, as in the recorded snapshots.
    app.animation_level = "none"
    return app


app = build_app()

if __name__ == "__main__":
    app.run()
