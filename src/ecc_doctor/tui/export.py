"""Export from the dashboard: the latest results as JSON and JUnit (the CLI's reporters).

The reporters are imported when first used.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path

from ecc_doctor.models import Result, Status
from ecc_doctor.tui.base import DashboardBase
from ecc_doctor.tui.export_dir import why_not_written
from ecc_doctor.tui.history import CheckHistory, clock_time, format_duration
from ecc_doctor.tui.messages import Exported


def export_view(
    rows: Sequence[CheckHistory], now: datetime, tz: tzinfo | None = None
) -> tuple[list[Result], int]:
    """What an export holds: every check, and how many of them were unfinished (pure).

    The export is evidence, so a check still running is never left out. One rule for all:
    a check that has a verdict keeps it, whatever it is, with its summary marked "[verdict
    of HH:MM:SS; re-running since HH:MM:SS ...]" (a FAIL stays a FAIL, a PASS says it may be
    stale); one that never finished is ERROR "still running after N s (exported during the
    run)", so the report's exit code is not 0 while a check hangs or never answered.
    """
    results: list[Result] = []
    unfinished = 0
    for h in rows:
        last = h.last
        if not h.running:
            if last is not None:
                results.append(last)
            else:
                results.append(
                    Result(h.check_id, Status.ERROR, "not run yet in this dashboard session")
                )
                unfinished += 1
            continue
        unfinished += 1
        started = h.running_since or now
        note = (
            f"still running since {clock_time(started, tz)} "
            f"(after {format_duration(now - started)}; exported during the run)"
        )
        if last is not None:
            mark = (
                f" [verdict of {clock_time(last.started_at, tz)}; re-running since "
                f"{clock_time(started, tz)}, {format_duration(now - started)} at the export]"
            )
            results.append(
                last.replace(summary=last.summary + mark, details=(*last.details, f"re-run {note}"))
            )
            continue
        summary = f"still running after {format_duration(now - started)} (exported during the run)"
        results.append(
            Result(h.check_id, Status.ERROR, summary, details=(note,), started_at=started)
        )
    return results, unfinished


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
        if not self.history.results():
            self.say("nothing to export yet: no results", severity="warning")
            return
        now = self.clock()
        rows = [self.history.checks[c] for c in self.row_order() if c in self.history.checks]
        results, unfinished = export_view(rows, now, self.tz)
        site = self.config.site.name if self.config is not None else ""
        try:
            paths = export_results(results, self.export_dir, site=site, now=now)
        except OSError as exc:
            why = f"cannot write into {self.export_dir}: {why_not_written(exc, self.export_dir)}"
            self.post_message(Exported("JSON/JUnit", str(self.export_dir), why))
            return
        except ImportError as exc:
            why = f"the report writers are not available in this build ({exc})"
            self.post_message(Exported("JSON/JUnit", str(self.export_dir), why))
            return
        saved = ", ".join(str(p) for p in paths)
        if unfinished:
            saved += f" ({unfinished} check(s) still running: marked so in the report)"
        self.post_message(Exported("JSON/JUnit results", saved))

    def action_save_svg(self) -> None:
        stamp = self.clock().strftime("%Y%m%d-%H%M%S")
        try:
            self.export_dir.mkdir(parents=True, exist_ok=True)
            path = self.save_screenshot(f"ecc-doctor-{stamp}.svg", str(self.export_dir))
        except OSError as exc:
            why = f"cannot write into {self.export_dir}: {why_not_written(exc, self.export_dir)}"
            self.post_message(Exported("screenshot", str(self.export_dir), why))
            return
        self.post_message(Exported("screenshot", path))

    def on_exported(self, message: Exported) -> None:
        if message.error:
            self.say(
                f"{message.what} export failed: {message.error} (start with --export-dir DIR)",
                severity="error",
                timeout=8,
            )
        else:
            self.say(f"saved {message.what}: {message.path}", timeout=6)
        self._signal()
