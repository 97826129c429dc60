"""A connection lost in the middle of a SAT session (the "pull the cable" case, QA 2 #1): the
check gives ERROR "CM host:port: connection lost during '<command>'", never an internal error,
and the cleanup (logoff, close) after it raises nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import asyncssh
import pytest

from ecc_doctor.checks import all_checks, select
from ecc_doctor.config import from_mapping
from ecc_doctor.errors import ConnectError, ProbeTimeout
from ecc_doctor.lab import Lab
from ecc_doctor.lab.base import LabEnv
from ecc_doctor.lab.cm_sat import TERMTYPE_PROMPT, CmSatEmulator
from ecc_doctor.models import Status
from ecc_doctor.probes.sat import open_sat
from ecc_doctor.runner import run_checks
from ecc_doctor.transcript import Transcript

from .conftest import cm_of

pytestmark = pytest.mark.anyio


async def test_write_after_the_connection_dropped_is_connect_error(tmp_path: Path) -> None:
    emu = CmSatEmulator()
    cfg = from_mapping(await emu.start(LabEnv(tmp_path)), source="<test>").cm
    cfg = dataclasses.replace(cfg, prompt_timeout=2.0, command_timeout=3.0)
    transcript = Transcript("sat")
    try:
        with pytest.raises(ConnectError) as info:
            async with open_sat(cfg, transcript, connect_timeout=5) as sat:
                await sat.cti_status()
                await emu.set_network(False)
                # the client has seen the drop: the channel is closed for sending
                await asyncio.wait_for(sat.process.wait_closed(), 5)
                await sat.cti_status()
        assert info.value.message == (
            f"CM 127.0.0.1:{emu.port}: connection lost during 'status aesvcs cti-link'"
        )
        assert transcript.lines[-1].endswith("SAT connection closed")
    finally:
        await emu.stop()


async def test_network_flap_between_two_samples_is_an_error_not_an_internal_error(
    lab: Lab,
) -> None:
    emu = cm_of(lab)
    # a long pause between cm.cti-link's two samples: the drop lands in it, at a known step
    cm = dataclasses.replace(lab.config.cm, cti_link_sample_s=2.0)
    config = dataclasses.replace(lab.config, cm=cm)
    task = asyncio.create_task(run_checks(select(["cm.cti-link"], all_checks()), config))
    for _ in range(500):  # bounded: the first sample is answered within a few seconds
        if emu.status()["commands"] >= 1:
            break
        await asyncio.sleep(0.01)
    assert emu.status()["commands"] == 1
    await lab.fault("network-flap")
    (result,) = await asyncio.wait_for(task, 30)
    assert result.status is Status.ERROR
    assert result.summary == (
        f"CM 127.0.0.1:{emu.port}: connection lost during 'status aesvcs cti-link'"
    )
    assert "internal error" not in json.dumps(result.to_dict())
    await lab.heal("network-flap")
    (again,) = await run_checks(select(["cm.cti-link"], all_checks()), lab.config)
    assert again.status is Status.PASS, again.summary


async def test_a_command_that_never_ends_says_so_in_plain_words(tmp_path: Path) -> None:
    """A SAT that logs in and then never finishes a command's output (QA 2 #20)."""
    key = asyncssh.generate_private_key("ssh-ed25519")

    async def sat(process: asyncssh.SSHServerProcess[str]) -> None:
        process.stdout.write(TERMTYPE_PROMPT)
        await process.stdin.readline()
        process.stdout.write("t\n")
        await process.stdin.readline()  # c status aesvcs cti-link
        process.stdout.write("cstatus aesvcs cti-link\n")  # ... and nothing more
        await asyncio.sleep(30)

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return True

    server = await asyncssh.create_server(
        Server, "127.0.0.1", 0, server_host_keys=[key], process_factory=sat, line_editor=False
    )
    port = server.sockets[0].getsockname()[1]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {key.export_public_key().decode()}")
    (tmp_path / "pw").write_text("pw\n")
    cfg = from_mapping(
        {
            "cm": {
                "host": "127.0.0.1",
                "port": port,
                "username": "u",
                "password": f"file:{tmp_path / 'pw'}",
                "known_hosts": str(known_hosts),
                "termtype": "ossi",
                "prompt_timeout": 1.0,
                "command_timeout": 0.5,
            }
        },
        source="<test>",
    ).cm
    try:
        with pytest.raises(ProbeTimeout) as info:
            async with open_sat(cfg, Transcript("sat"), connect_timeout=5) as session:
                await session.cti_status()
        assert info.value.message == (
            f"CM 127.0.0.1:{port}: 'status aesvcs cti-link' did not finish within 0.5 s "
            "(no end line 't')"
        )
    finally:
        server.close()
        await server.wait_closed()
