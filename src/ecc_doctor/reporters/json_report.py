"""JSON report, schema version 1 (documented in docs/REPORTS.md).

```
{
  "schema": "ecc-doctor/report",
  "schema_version": 1,
  "tool": {"name": "ecc-doctor", "version": "..."},
  "site": "...", "generated_at": "ISO-8601 UTC",
  "summary": {"total": N, "PASS": n, "WARN": n, "FAIL": n, "ERROR": n, "SKIP": n,
              "exit_code": 0|1, "duration_s": s},
  "results": [{"id", "title", "source", "status", "summary", "details": [..],
               "duration_s", "started_at", "metrics": {name: number | null},
               "evidence": [{"title", "kind", "lines"} | {"title", "kind": "table",
                             "columns", "rows"}]}]
}
```
Additive changes keep ``schema_version``; renaming or removing a field bumps it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ecc_doctor.models import Result, Status
from ecc_doctor.secrets import redact
from ecc_doctor.textsafe import json_text

SCHEMA = "ecc-doctor/report"
SCHEMA_VERSION = 1


def counts(results: Sequence[Result]) -> dict[str, int]:
    """Number of results per status, every status present."""
    out = {s.value: 0 for s in Status}
    for r in results:
        out[r.status.value] += 1
    return out


def exit_code(results: Sequence[Result], *, strict: bool = False) -> int:
    """0 when everything is PASS/WARN/SKIP (WARN counts with strict), else 1."""
    bad = {Status.FAIL, Status.ERROR} | ({Status.WARN} if strict else set())
    return 1 if any(r.status in bad for r in results) else 0


def document(
    results: Sequence[Result],
    *,
    site: str = "",
    strict: bool = False,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    from ecc_doctor import __version__

    stamp = (generated_at or datetime.now(UTC)).isoformat()
    summary: dict[str, Any] = {"total": len(results), **counts(results)}
    summary["exit_code"] = exit_code(results, strict=strict)
    summary["duration_s"] = round(max((r.duration_s for r in results), default=0.0), 3)
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "ecc-doctor", "version": __version__},
        "site": site,
        "generated_at": stamp,
        "summary": summary,
        "results": [r.to_dict() for r in results],
    }


def render(
    results: Sequence[Result],
    *,
    site: str = "",
    strict: bool = False,
    generated_at: datetime | None = None,
) -> str:
    """The JSON report as text (secrets redacted as a last safety net)."""
    doc = finite(document(results, site=site, strict=strict, generated_at=generated_at))
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
    return json_text(redact(text)) + "\n"


def finite(value: Any) -> Any:
    """*value* with every NaN or infinite float (a plugin's metric, say) as None: JSON has
    no such numbers, and strict parsers (JavaScript's ``JSON.parse``, jq 1.6) reject the
    ``NaN``/``Infinity`` that :func:`json.dumps` writes by default (docs/REPORTS.md)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
