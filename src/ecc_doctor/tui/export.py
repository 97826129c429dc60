"""Export from the dashboard: the latest results as JSON and JUnit (the CLI's reporters).

The reporters are imported when first used.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ecc_doctor.models import Result
from ecc_doctor.tui.base import DashboardBase
from ecc_doctor.tui.messages import Exported


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


class ExportActions(DashboardBase):
    """Export the latest results (e) and save a screenshot (s) into the export folder."""

    def action_export(self) -> None:
        results = self.history.results()
        if not results:
            self.say("nothing to export yet: no results", severity="warning")
            return
        site = self.config.site.name if self.config is not None else ""
        try:
            paths = export_results(results, self.export_dir, site=site, now=self.clock())
        except (OSError, ImportError) as exc:
            self.post_message(Exported("results", str(self.export_dir), str(exc)))
            return
        self.post_message(Exported("results", ", ".join(str(p) for p in paths)))

    def action_save_svg(self) -> None:
        stamp = self.clock().strftime("%Y%m%d-%H%M%S")
        try:
            self.export_dir.mkdir(parents=True, exist_ok=True)
            path = self.save_screenshot(f"ecc-doctor-{stamp}.svg", str(self.export_dir))
        except OSError as exc:
            self.post_message(Exported("screenshot", str(self.export_dir), str(exc)))
            return
        self.post_message(Exported("screenshot", path))

    def on_exported(self, message: Exported) -> None:
        if message.error:
            self.say(f"export failed: {message.error}", severity="error", timeout=8)
        else:
            self.say(f"saved {message.what}: {message.path}", timeout=6)
        self._signal()
