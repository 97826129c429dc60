"""ECC test helpers: a lab with only the Breeze/ECC emulator, asserted clean after each test."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest

from ecc_doctor.checks import spec_of
from ecc_doctor.config import SiteConfig
from ecc_doctor.lab import Lab
from ecc_doctor.lab.ecc import EccEmulator
from ecc_doctor.models import Result
from ecc_doctor.runner import run_checks


@contextlib.asynccontextmanager
async def clean_ecc_lab(**options: Any) -> AsyncIterator[Lab]:
    """An ECC lab with emulator *options*; on leaving: no call, no subscription left."""
    settings: dict[str, Any] = {"budget_ms": 1000.0, "slow_delay": 0.4, "trunk_answer_delay": 0.1}
    settings.update(options)
    async with Lab([EccEmulator(**settings)]) as lab:
        yield lab
        status = lab.status()["ecc"]
        assert status["active_calls"] == 0, f"a call was left up: {status}"
        assert status["subscriptions"] == 0, f"a subscription was left behind: {status}"


@pytest.fixture
async def ecc_lab() -> AsyncIterator[Lab]:
    """The ECC lab (slow-events delay shortened); after the test: no call, no subscription."""
    async with clean_ecc_lab() as lab:
        yield lab


def with_ecc(config: SiteConfig, **changes: Any) -> SiteConfig:
    """*config* with some [ecc] keys changed."""
    return dataclasses.replace(config, ecc=dataclasses.replace(config.ecc, **changes))


def with_connect_timeout(config: SiteConfig, seconds: float) -> SiteConfig:
    """*config* with timeouts.connect set to *seconds*."""
    return dataclasses.replace(
        config, timeouts=dataclasses.replace(config.timeouts, connect=seconds)
    )


async def run_one(module: ModuleType, config: SiteConfig, **kwargs: Any) -> Result:
    """Run one check module through the runner (timeouts and error handling included)."""
    (result,) = await run_checks([spec_of(module)], config, **kwargs)
    return result


def no_traceback(result: Result) -> None:
    text = result.summary + " ".join(result.details)
    assert "Traceback" not in text and "internal error" not in text, result.summary
