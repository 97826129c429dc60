"""Captures for the lab site: the traffic sip.register, sip.prack and mgc.failover judge.

A real site points ``[sip] captures`` and ``[mgc] capture`` at files taken on its own network;
the lab serves small captures made with real SIP software (SIPp, Kamailio) and the H.248
failover model, and its faults swap in a defective capture at the same path.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from ecc_doctor.lab.base import LabEnv

#: fault -> (file in the lab site, defective capture that replaces it)
_FAULTS = {
    "sip-wrong-password": ("sip-register.pcap", "sip-register-wrong-password.pcap"),
    "sip-bad-prack": ("sip-prack.pcap", "sip-prack-bad-rack.pcap"),
    "mgc-early-crossing": ("mgc-failover.pcap", "mgc-early-crossing.pcap"),
}
_GOOD = ("sip-register.pcap", "sip-prack.pcap", "mgc-failover.pcap")

#: The gateway of mgc-failover.pcap: the SIP Adventures example (documentation addresses).
MGC_SECTION: dict[str, Any] = {
    "controllers": ["PE=192.0.2.10", "CLAN=192.0.2.11", "ESS=198.51.100.20", "LSP=203.0.113.30"],
    "transition_point": 2,
    "primary_search_min": 10,
    "total_search_min": 15,
    "gateway": "192.0.2.50",
}


def _copy(name: str, dest: Path) -> None:
    source = resources.files("ecc_doctor.lab").joinpath("data", name)
    with resources.as_file(source) as path:
        shutil.copyfile(path, dest)


class CaptureEmulator:
    """Writes the lab captures into the lab directory and points [sip] and [mgc] at them."""

    name = "captures"
    faults: tuple[str, ...] = tuple(_FAULTS)

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._active: set[str] = set()

    async def start(self, env: LabEnv) -> dict[str, Any]:
        self._dir = env.directory / "captures"
        self._dir.mkdir(mode=0o700)
        for name in _GOOD:
            _copy(name, self._dir / name)
        return {
            "sip": {
                "captures": [
                    str(self._dir / "sip-register.pcap"),
                    str(self._dir / "sip-prack.pcap"),
                ],
                "password_file": str(self._password_file(env)),
            },
            "mgc": {**MGC_SECTION, "capture": str(self._dir / "mgc-failover.pcap")},
        }

    def _password_file(self, env: LabEnv) -> Path:
        # the lab registrar's test user (a lab value, as in tests/fixtures/sip/passwords.txt)
        source = resources.files("ecc_doctor.lab").joinpath("data", "sip-passwords.txt")
        dest = env.directory / "sip-passwords.txt"
        with resources.as_file(source) as path:
            shutil.copyfile(path, dest)
        dest.chmod(0o600)
        return dest

    async def stop(self) -> None:
        self._dir = None

    async def set_fault(self, fault: str, active: bool) -> None:
        if fault not in _FAULTS or self._dir is None:
            raise KeyError(fault)
        target, defective = _FAULTS[fault]
        _copy(defective if active else target, self._dir / target)
        (self._active.add if active else self._active.discard)(fault)

    async def set_network(self, up: bool) -> None:
        """Captures are files: a network fault does not touch them."""

    def status(self) -> dict[str, Any]:
        return {"faults": sorted(self._active)}
