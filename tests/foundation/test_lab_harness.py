"""The lab harness: faults by name, network-flap on every emulator, cleanup."""

from __future__ import annotations

import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.errors import ConfigError
from ecc_doctor.lab import Lab
from ecc_doctor.models import Status
from ecc_doctor.runner import run_checks

pytestmark = pytest.mark.anyio


async def test_network_flap_refuses_then_recovers(lab: Lab) -> None:
    specs = select(["net.reachability"], all_checks())
    assert (await run_checks(specs, lab.config))[0].status is Status.PASS
    await lab.fault("network-flap")
    down = (await run_checks(specs, lab.config))[0]
    assert down.status is Status.FAIL and "connection refused" in down.summary
    await lab.heal("network-flap")
    assert (await run_checks(specs, lab.config))[0].status is Status.PASS
    assert lab.active == set()


async def test_unknown_fault_names_the_known_ones(lab: Lab) -> None:
    with pytest.raises(ConfigError, match="unknown lab fault 'nope' \\(known: network-flap"):
        await lab.fault("nope")


async def test_lab_config_uses_secret_files_and_is_removed_on_stop() -> None:
    lab = Lab()
    await lab.start()
    directory = lab.env.directory if lab.env else None
    assert lab.config.is_lab and directory is not None and directory.exists()
    await lab.stop()
    assert not directory.exists()
