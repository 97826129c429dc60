"""AES test helpers: the lab with an assertion that no DMCC session is left open."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ecc_doctor.lab import Lab
from ecc_doctor.lab.aes import AesEmulator


def aes_of(lab: Lab) -> AesEmulator:
    """The lab's AES emulator."""
    for emu in lab.emulators:
        if isinstance(emu, AesEmulator):
            return emu
    raise AssertionError("the lab has no AES emulator")


@pytest.fixture
async def aes_lab(lab: Lab) -> AsyncIterator[Lab]:
    """The lab; after the test, the lab must report zero open DMCC sessions."""
    yield lab
    assert lab.status()["aes"]["open_sessions"] == 0, "a DMCC session was left open"
