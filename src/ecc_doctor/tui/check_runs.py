"""Check runs: the runner in async workers, and the handlers of the messages they post."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from textual import work

from ecc_doctor.checks import CheckSpec
from ecc_doctor.config import SiteConfig
from ecc_doctor.models import Result, Status
from ecc_doctor.runner import RunEvent, run_checks
from ecc_doctor.tui.base import DashboardBase
from ecc_doctor.tui.checks_table import ChecksTable
from ecc_doctor.tui.messages import CheckDone, CheckFinished, CheckStarted, RunFinished


class CheckRuns(DashboardBase):
    """Start runs (all, periodic, one row), each in a worker; record what they report."""

    def _tick(self) -> None:
        if self.config is not None:  # quietly wait while the lab is starting
            self.start_run(self.specs)

    def action_rerun_all(self) -> None:
        """Re-run every check that is not running already."""
        self.start_run(self.specs)

    def start_run(self, specs: Sequence[CheckSpec]) -> bool:
        """Start a run of *specs* (those not running already); False if nothing started."""
        if self.config is None:
            if self.lab is not None and not self.lab_ready:
                self.say_lab_not_ready()
            return False
        todo = [s for s in specs if s.id not in self.running]
        if not todo:
            return False
        self.running.update(s.id for s in todo)
        self.runs_started += 1
        self._run_worker(self.runs_started, todo, self.config)
        return True

    @work(group="checks", exit_on_error=False)
    async def _run_worker(self, run: int, specs: list[CheckSpec], config: SiteConfig) -> None:
        async def one(spec: CheckSpec) -> None:
            def listen(event: RunEvent) -> None:
                if event.kind == "started":
                    self.post_message(CheckStarted(spec.id))
                elif event.result is not None:
                    self.post_message(CheckFinished(spec.id, event.result))

            try:
                await run_checks([spec], config, listener=listen)
            except Exception as exc:  # the runner turns check errors into ERROR already
                msg = f"internal error running {spec.id}: {type(exc).__name__}: {exc}"
                self.post_message(CheckFinished(spec.id, Result(spec.id, Status.ERROR, msg)))
            finally:
                self.post_message(CheckDone(spec.id))

        await asyncio.gather(*(one(s) for s in specs))
        self.post_message(RunFinished(run, tuple(s.id for s in specs)))

    def on_check_started(self, message: CheckStarted) -> None:
        now = self.clock()
        for check_id in self._rows_of(message.spec_id):
            self.history.mark_running(check_id, at=now)
        self.refresh_views(message.spec_id)

    def on_check_finished(self, message: CheckFinished) -> None:
        result = message.result
        owned = self.owned.setdefault(message.spec_id, [])
        if result.check_id not in owned:
            owned.append(result.check_id)
            placeholder = self.history.checks.get(message.spec_id)
            if (
                result.check_id != message.spec_id
                and placeholder is not None
                and placeholder.last is None
            ):
                del self.history.checks[message.spec_id]
        self.history.record(result, self.clock())
        self.refresh_views(result.check_id)
        self._signal()

    def on_check_done(self, message: CheckDone) -> None:
        self.running.discard(message.spec_id)
        for check_id in self._rows_of(message.spec_id):
            if check_id in self.history.checks:
                self.history.mark_running(check_id, False)
        self.refresh_views(message.spec_id)
        self._signal()

    def on_run_finished(self, message: RunFinished) -> None:
        self.finished_runs.add(message.run)
        self.runs_completed = len(self.finished_runs)
        self.last_run_at = self.clock()
        self.refresh_views()
        self._signal()

    def on_checks_table_rerun_requested(self, message: ChecksTable.RerunRequested) -> None:
        spec = next(
            (s for s in self.specs if message.check_id in self._rows_of(s.id)),
            None,
        )
        if spec is None:
            self.say(f"{message.check_id} is not a registered check", severity="warning")
        elif not self.start_run([spec]):
            self.say(f"{spec.id} is running already", timeout=2)
