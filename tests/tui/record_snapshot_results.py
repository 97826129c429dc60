"""Record the results the dashboard snapshots are built from (run by hand, not a test).

    .venv/bin/python tests/tui/record_snapshot_results.py

Runs every registered check against the lab every "30 s" of a fake clock while faults come
and go (ecc-restart 10:42-10:45; from 10:46:35 on cti-link-down, then DMCC licenses
exhausted, then SFTP refusing our login), and writes
tests/fixtures/tui/results.json: for each run its time and the results (evidence is kept for
each check's last result only, to keep the file small). Re-record when checks change what
they say, then look at the snapshot report before `--snapshot-update`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ecc_doctor.checks import all_checks
from ecc_doctor.lab import Lab
from ecc_doctor.runner import run_checks

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OUT = FIXTURES / "tui" / "results.json"
SIP_CAPTURE = FIXTURES / "sip" / "prack-bad-rack-tcp.pcap"
LADDER_WIDTH = 96
T0 = datetime(2026, 11, 21, 10, 40, 5, tzinfo=UTC)
STEP = timedelta(seconds=30)
#: run index -> (fault, inject?)
SCRIPT = {
    4: ("ecc-restart", True),
    10: ("ecc-restart", False),
    13: ("cti-link-down", True),
    14: ("dmcc-license-exhausted", True),
    15: ("sftp-auth", True),
}
RUNS = 17


async def record() -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    async with Lab() as lab:
        specs = all_checks()
        for i in range(RUNS):
            if i in SCRIPT:
                fault, inject = SCRIPT[i]
                await (lab.fault(fault) if inject else lab.heal(fault))
            at = T0 + i * STEP
            results = await run_checks(specs, lab.config)
            runs.append(
                {
                    "at": at.isoformat(),
                    "results": [r.replace(started_at=at).to_dict() for r in results],
                }
            )
    last_index: dict[str, int] = {}
    for i, run in enumerate(runs):
        for r in run["results"]:
            last_index[r["id"]] = i
    for i, run in enumerate(runs):
        for r in run["results"]:
            if last_index[r["id"]] != i:
                r["evidence"] = []
    return {
        "sip": record_sip(),
        "site": "Example Site (recorded from the lab)",
        "checks": [{"id": s.id, "title": s.title, "source": s.source} for s in specs],
        "runs": runs,
    }


def record_sip() -> dict[str, Any]:
    """The SIP analysis of a committed capture and the text ladder of its first dialog."""
    from ecc_doctor.captures.sip.analyze import analyze_file
    from ecc_doctor.captures.sip.ladder import build_ladder, render_text

    analysis = analyze_file(SIP_CAPTURE)
    call_id = analysis.flows[0].call_id
    lines = render_text(build_ladder(analysis, call_id), LADDER_WIDTH)
    flows = [{**f.to_dict(), "aor": f.aor} for f in analysis.flows]
    return {
        "source": SIP_CAPTURE.name,
        "flows": flows,
        "notes": [n.to_dict() for n in analysis.notes],
        "ladder": {"call_id": call_id, "kind": analysis.flows[0].kind, "lines": list(lines)},
    }


def main() -> None:
    data = asyncio.run(record())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
