"""The embedded lab: an emulated Aura site on loopback, with named faults.

>>> async def demo():                                   # doctest: +SKIP
...     async with Lab() as lab:
...         await lab.fault("cti-link-down")
...         results = await run_checks(all_checks(), lab.config)

Each emulator (see :class:`ecc_doctor.lab.base.Emulator`) binds ephemeral ports on
127.0.0.1 and contributes config sections. ``network-flap`` is handled here: every
emulator's ports refuse until it is healed.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from ecc_doctor.config import SiteConfig, from_mapping
from ecc_doctor.errors import ConfigError
from ecc_doctor.lab.aes import AesEmulator
from ecc_doctor.lab.base import Emulator, LabEnv
from ecc_doctor.lab.captures import CaptureEmulator
from ecc_doctor.lab.cm_sat import CmSatEmulator
from ecc_doctor.lab.ecc import EccEmulator
from ecc_doctor.lab.sftp import SftpEmulator
from ecc_doctor.lab.sm_edge import SmEdgeEmulator
from ecc_doctor.probes.sat import LOGINS as SAT_LOGINS

#: The emulators of the lab site, started in this order.
EMULATORS: list[Callable[[], Emulator]] = [
    SmEdgeEmulator,
    CmSatEmulator,
    AesEmulator,
    SftpEmulator,
    EccEmulator,
    CaptureEmulator,
]

NETWORK_FLAP = "network-flap"


def _merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, list) and isinstance(into.get(key), list):
            into[key] = into[key] + value
        else:
            into[key] = value


class Lab:
    """Starts the lab site; ``config`` points at it; ``fault``/``heal`` toggle named faults."""

    def __init__(self, emulators: list[Emulator] | None = None) -> None:
        self.emulators: list[Emulator] = emulators or [factory() for factory in EMULATORS]
        self._toggled: set[str] = set()  # injected and not healed (see ``active``)
        self._dir: Path | None = None
        self.env: LabEnv | None = None
        self.data: dict[str, Any] = {}
        self._config: SiteConfig | None = None

    @property
    def faults(self) -> list[str]:
        """Every fault name the lab knows."""
        names = [NETWORK_FLAP]
        for emu in self.emulators:
            names += [f for f in emu.faults if f not in names]
        return names

    @property
    def active(self) -> set[str]:
        """The faults in force now: injected, not healed, and not over by themselves (an
        ``aes-restart`` ends when AES is back: its emulator's ``fault_over()`` says so)."""
        return {f for f in self._toggled if not self._over(f)}

    def _over(self, fault: str) -> bool:
        owner = self._owner(fault)
        over = getattr(owner, "fault_over", None)
        return bool(over(fault)) if over is not None else False

    @property
    def config(self) -> SiteConfig:
        if self._config is None:
            raise RuntimeError("the lab is not started")
        return self._config

    async def start(self) -> Lab:
        self._dir = Path(tempfile.mkdtemp(prefix="ecc-doctor-lab-"))
        self._dir.chmod(0o700)
        self.env = LabEnv(self._dir)
        data: dict[str, Any] = {"site": {"name": "ecc-doctor lab"}}
        async with contextlib.AsyncExitStack() as undo:  # stop what started if one fails
            undo.push_async_callback(self.stop)
            for emu in self.emulators:
                _merge(data, await emu.start(self.env))
            undo.pop_all()
        self.data = data
        self._config = from_mapping(data, source="<lab>", is_lab=True)
        return self

    async def stop(self) -> None:
        for emu in reversed(self.emulators):
            try:
                await emu.stop()
            except Exception:  # noqa: S110 - stopping must reach every emulator
                continue
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _owner(self, fault: str) -> Emulator | None:
        for emu in self.emulators:
            if fault in emu.faults:
                return emu
        return None

    def validate_fault(self, fault: str) -> None:
        if fault != NETWORK_FLAP and self._owner(fault) is None:
            raise ConfigError(f"unknown lab fault {fault!r} (known: {', '.join(self.faults)})")

    async def fault(self, fault: str) -> None:
        """Inject *fault* (ConfigError if unknown)."""
        await self._toggle(fault, True)

    async def heal(self, fault: str) -> None:
        """Heal *fault*: the emulated system recovers."""
        await self._toggle(fault, False)

    async def _toggle(self, fault: str, active: bool) -> None:
        self.validate_fault(fault)
        if fault == NETWORK_FLAP:
            for emu in self.emulators:
                await emu.set_network(not active)
        else:
            owner = self._owner(fault)
            assert owner is not None
            await owner.set_fault(fault, active)
        if active:
            self._toggled.add(fault)
        else:
            self._toggled.discard(fault)
        # the emulated site changed (e.g. cm-auth-fail healed): a login CM refused before
        # is worth trying again at once, not only after the probe's refusal memory expires
        SAT_LOGINS.forget()

    def status(self) -> dict[str, dict[str, Any]]:
        """Each emulator's counters, e.g. open DMCC sessions, calls, subscriptions, and the
        faults in force (under "lab")."""
        out = {emu.name: emu.status() for emu in self.emulators}
        out["lab"] = {"active_faults": sorted(self.active)}
        return out

    async def __aenter__(self) -> Lab:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
