"""Export from the dashboard: the latest results as JSON and JUnit (the CLI's reporters)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ecc_doctor.models import Result


def export_results(
    results: Sequence[Result], directory: Path, *, site: str, now: datetime
) -> list[Path]:
    """Write ``ecc-doctor-<stamp>.json`` and ``.xml`` into *directory*; return their paths."""
    from ecc_doctor.reporters import json_report, junit

    stamp = now.strftime("%Y%m%d-%H%M%S")
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"ecc-doctor-{stamp}.json"
    xml_path = directory / f"ecc-doctor-{stamp}.xml"
    json_path.write_text(json_report.render(results, site=site, generated_at=now), "utf-8")
    xml_path.write_text(junit.render(results, site=site, timestamp=now), "utf-8")
    return [json_path, xml_path]
