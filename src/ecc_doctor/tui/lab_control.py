"""Lab control (``dashboard --lab``): start the lab, inject and heal its faults in workers."""

from __future__ import annotations

from textual import work

from ecc_doctor.errors import EccDoctorError
from ecc_doctor.tui.base import DashboardBase
from ecc_doctor.tui.lab_screen import LabScreen
from ecc_doctor.tui.messages import LabFailed, LabFaultChanged, LabReady


class LabControl(DashboardBase):
    """Start and stop the lab; the fault picker (x) and the fault toggles."""

    async def on_unmount(self) -> None:
        if self.lab is not None:
            await self.lab.stop()

    @work(group="lab", exit_on_error=False)
    async def _start_lab(self) -> None:
        assert self.lab is not None
        try:
            await self.lab.start()
            for fault in self.lab_faults:
                await self.lab.fault(fault)
        except (EccDoctorError, OSError) as exc:
            self.post_message(LabFailed(f"the lab did not start: {exc}"))
            return
        except Exception as exc:  # a bug in an emulator must not take the dashboard down
            self.post_message(
                LabFailed(f"the lab did not start: internal error: {type(exc).__name__}: {exc}")
            )
            return
        self.post_message(LabReady())

    def on_lab_failed(self, message: LabFailed) -> None:
        if message.starting:
            self.lab_failed = True
            self.state = message.error
        self.say(message.error, severity="error", timeout=10)
        self.refresh_views()
        self._signal()

    def action_lab_control(self) -> None:
        if self.lab is None:
            self.say("lab control needs `ecc-doctor dashboard --lab`", severity="warning")
            return
        if not self.lab_ready:
            self.say_lab_not_ready()
            return

        def chosen(fault: str | None) -> None:
            if fault:
                self.toggle_fault(fault)

        self.push_screen(LabScreen(self.lab.faults, self.lab.active), chosen)

    def toggle_fault(self, fault: str, active: bool | None = None) -> None:
        """Inject (or heal, if active) *fault* in a worker, then re-run the checks."""
        if self.lab is None or not self.lab_ready:
            return
        if active is None:
            active = fault not in self.lab.active
        self._toggle_fault(fault, active)

    @work(group="lab", exit_on_error=False)
    async def _toggle_fault(self, fault: str, active: bool) -> None:
        assert self.lab is not None
        try:
            if active:
                await self.lab.fault(fault)
            else:
                await self.lab.heal(fault)
        except Exception as exc:  # shown in one line; the dashboard keeps running
            msg = f"lab fault {fault}: {type(exc).__name__}: {exc}"
            self.post_message(LabFailed(msg, starting=False))
            return
        self.post_message(LabFaultChanged(fault, active))
