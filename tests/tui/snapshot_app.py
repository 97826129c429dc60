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

from ecc_doctor.checks import CheckSpec
from ecc_doctor.config import from_mapping
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.tui.app import DashboardApp

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


def build_app(capture: Path | None = None) -> DashboardApp:
    site, specs, seen = recorded()
    config = from_mapping({"site": {"name": site}}, source="<recorded>", is_lab=True)
    return DashboardApp(
        config,
        specs=specs,
        interval=0,
        run_on_start=False,
        recorded=seen,
        clock=lambda: NOW,
        tz=UTC,
        capture=capture,
    )


app = build_app()

if __name__ == "__main__":
    app.run()
