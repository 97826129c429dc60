"""A refused SAT login is tried once per run: CM may lock an account after a few refusals."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
from pathlib import Path

import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.config import from_mapping
from ecc_doctor.errors import AuthError
from ecc_doctor.lab import Lab
from ecc_doctor.lab.base import LabEnv
from ecc_doctor.lab.cm_sat import CmSatEmulator
from ecc_doctor.models import Result, Status
from ecc_doctor.probes import ssh_common
from ecc_doctor.probes.sat import open_sat
from ecc_doctor.runner import run_checks
from ecc_doctor.secrets import Secret
from ecc_doctor.transcript import Transcript

from .conftest import CM_CHECKS, cm_of

pytestmark = pytest.mark.anyio


def wrong_password(lab: Lab) -> tuple[str, Path]:
    """Point [cm] password at a file holding a wrong password; return it and the file."""
    assert lab.env is not None
    value, ref = lab.env.secret("cm-wrong", "wrong-" + secrets.token_urlsafe(8))
    return value, Path(ref.removeprefix("file:"))


async def run(lab: Lab, secret_file: Path, *ids: str) -> list[Result]:
    cm = dataclasses.replace(lab.config.cm, password=Secret(f"file:{secret_file}"))
    return await run_checks(select(list(ids), all_checks()), dataclasses.replace(lab.config, cm=cm))


def refused(lab: Lab) -> int:
    return int(cm_of(lab).status()["refused"])


async def test_wrong_password_is_refused_once_and_not_tried_by_the_other_checks(
    lab: Lab,
) -> None:
    value, secret_file = wrong_password(lab)
    results = await run(lab, secret_file, "cm")
    assert [r.check_id for r in results] == CM_CHECKS
    assert {r.status for r in results} == {Status.ERROR}
    where = f"127.0.0.1:{cm_of(lab).port}"
    tried = [r for r in results if not r.summary.startswith("not tried")]
    assert len(tried) == 1
    assert tried[0].summary == (
        f"CM refused the login for user 'ecc-doctor' at {where} (password or account wrong)"
    )
    for r in results:
        if r is not tried[0]:
            assert r.summary == (
                f"not tried: CM refused the login for user 'ecc-doctor' at {where} moments ago "
                f"(in {tried[0].check_id}); trying again could lock the account "
                "(a corrected password is tried at once)"
            )
    assert refused(lab) == 1
    text = json.dumps([r.to_dict() for r in results])
    assert value not in text
    assert cm_of(lab).password not in text

    # a corrected password is tried at once
    secret_file.write_text(cm_of(lab).password + "\n", encoding="utf-8")
    (fixed,) = await run(lab, secret_file, "cm.license")
    assert fixed.status is Status.PASS, fixed.summary
    assert refused(lab) == 1


async def test_refusal_is_tried_again_once_the_memory_expires(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, secret_file = wrong_password(lab)
    (first,) = await run(lab, secret_file, "cm.ucid")
    (second,) = await run(lab, secret_file, "cm.ucid")
    assert second.summary.startswith("not tried: ")
    assert refused(lab) == 1
    monkeypatch.setattr(ssh_common, "REFUSAL_MEMORY_S", 0.0)
    (later,) = await run(lab, secret_file, "cm.ucid")
    assert later.summary == first.summary  # tried (and refused) again
    assert refused(lab) == 2


async def test_lab_fault_healed_is_tried_at_once(lab: Lab) -> None:
    await lab.fault("cm-auth-fail")
    results = await run_checks(select(["cm"], all_checks()), lab.config)
    assert {r.status for r in results} == {Status.ERROR}
    assert refused(lab) == 1
    await lab.heal("cm-auth-fail")
    (healed,) = await run_checks(select(["cm.license"], all_checks()), lab.config)
    assert healed.status is Status.PASS, healed.summary


@pytest.mark.parametrize(
    ("auth", "inband"),
    [
        (("keyboard-interactive", "password"), False),
        (("password", "keyboard-interactive"), False),
        (("password",), False),
        (("keyboard-interactive",), False),
        ((), True),
    ],
    ids=["kbdint+password", "password+kbdint", "password", "kbdint", "in-band"],
)
async def test_one_connection_sends_a_wrong_password_once(
    tmp_path: Path, auth: tuple[str, ...], inband: bool
) -> None:
    env = LabEnv(tmp_path)
    emu = CmSatEmulator(auth=auth or ("password",), inband_login=inband)
    cfg = from_mapping(await emu.start(env), source="<test>").cm
    try:
        _, ref = env.secret("wrong", "wrong-" + secrets.token_urlsafe(8))
        cfg = dataclasses.replace(cfg, password=Secret(ref), prompt_timeout=3.0)
        with pytest.raises(AuthError, match="CM refused the login"):
            async with open_sat(cfg, Transcript("sat"), connect_timeout=5):
                pass
        assert emu.status()["refused"] == 1
    finally:
        for _ in range(100):  # the server notices the closed connection a moment later
            if emu.status()["open_sessions"] == 0:
                break
            await asyncio.sleep(0.02)
        await emu.stop()
