"""The SAT probe against the lab CM over real SSH on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest

from ecc_doctor.config import from_mapping
from ecc_doctor.config.cm import CmConfig
from ecc_doctor.errors import AuthError, ConnectError, ProbeTimeout, ProtocolError
from ecc_doctor.lab.base import LabEnv
from ecc_doctor.lab.cm_sat import (
    NEXT_PAGE,
    TERMTYPE_PROMPT,
    USERNAME,
    VT_MORE,
    VT_PROMPT,
    CmSatEmulator,
)
from ecc_doctor.probes.sat import CommandRejected, open_sat
from ecc_doctor.probes.sat_records import CtiLinkStatus, IpServices
from ecc_doctor.probes.sat_screens import parse_screen
from ecc_doctor.transcript import Transcript

pytestmark = pytest.mark.anyio


@dataclasses.dataclass
class Cm:
    emu: CmSatEmulator
    cfg: CmConfig
    env: LabEnv


async def start_cm(tmp_path: Path, **kwargs: object) -> Cm:
    env = LabEnv(tmp_path)
    emu = CmSatEmulator(**kwargs)  # type: ignore[arg-type]
    data = await emu.start(env)
    return Cm(emu, from_mapping(data, source="<test>").cm, env)


async def no_open_sessions(emu: CmSatEmulator) -> int:
    for _ in range(100):  # the server notices a closed connection a moment later
        if emu.status()["open_sessions"] == 0:
            break
        await asyncio.sleep(0.02)
    return int(emu.status()["open_sessions"])


@pytest.fixture
async def cm(tmp_path: Path) -> AsyncIterator[Cm]:
    running = await start_cm(tmp_path)
    yield running
    assert await no_open_sessions(running.emu) == 0
    await running.emu.stop()


def fast(cfg: CmConfig, **changes: object) -> CmConfig:
    limits: dict[str, object] = {"prompt_timeout": 2.0, "command_timeout": 3.0, **changes}
    return dataclasses.replace(cfg, **limits)  # type: ignore[arg-type]


async def test_login_ossi_queries_and_logoff(cm: Cm) -> None:
    transcript = Transcript("sat")
    async with open_sat(cm.cfg, transcript, connect_timeout=5) as sat:
        status = await sat.cti_status()
        services = await sat.ip_services()
        features = await sat.form("display system-parameters features")
    assert isinstance(status, CtiLinkStatus)
    assert status.rows[0].state == "established"
    assert status.rows[0].aes_server == "aes70"
    assert services.aes_servers[0].status == "in use"
    assert features.get("UCID Network Node ID") == "01"
    assert cm.emu.status()["logoffs"] == 1
    text = "\n".join(transcript.lines)
    assert "Terminal Type (513, 715, 4410, 4425, VT220, NTT, W2KTT, SUNT): [513]" in text
    assert "> ossi" in text
    assert "> c status aesvcs cti-link" in text
    assert "Proceed With Logoff" in text
    assert cm.emu.password not in text
    assert cm.emu.aes_password not in text  # the OSSI password column is masked


async def test_unknown_link_is_a_command_rejected_with_cm_message(cm: Cm) -> None:
    async with open_sat(cm.cfg, Transcript("sat"), connect_timeout=5) as sat:
        with pytest.raises(CommandRejected) as info:
            await sat.form("display cti-link 9")
        assert info.value.cm_message == "Identifier not assigned"
        # the session is still usable after an error line
        assert (await sat.form("display cti-link 1")).get("Extension") == "3332"


@pytest.mark.parametrize("method", ["password", "keyboard-interactive"])
async def test_each_auth_method_logs_in(tmp_path: Path, method: str) -> None:
    only = await start_cm(tmp_path, auth=(method,))
    try:
        async with open_sat(only.cfg, Transcript("sat"), connect_timeout=5) as sat:
            assert (await sat.cti_status()).link(1) is not None
    finally:
        assert await no_open_sessions(only.emu) == 0
        await only.emu.stop()


@pytest.mark.parametrize("good", [True, False])
async def test_inband_login_prompts_are_answered_once(tmp_path: Path, good: bool) -> None:
    inband = await start_cm(tmp_path, inband_login=True)
    try:
        if good:
            async with open_sat(inband.cfg, Transcript("s"), connect_timeout=5) as sat:
                assert (await sat.cti_status()).link(1) is not None
        else:
            inband.emu.password = "changed-on-cm"
            with pytest.raises(AuthError, match="asked for the password again"):
                async with open_sat(inband.cfg, Transcript("s"), connect_timeout=5):
                    pass
    finally:
        assert await no_open_sessions(inband.emu) == 0
        await inband.emu.stop()


async def test_wrong_password_is_auth_error(cm: Cm, tmp_path: Path) -> None:
    _, ref = cm.env.secret("wrong", "not-the-password")
    cfg = dataclasses.replace(cm.cfg, password=type(cm.cfg.password)(ref))
    with pytest.raises(AuthError) as info:
        async with open_sat(cfg, Transcript("sat"), connect_timeout=5):
            pass
    assert "CM refused the login for user 'ecc-doctor'" in info.value.message
    assert "not-the-password" not in info.value.message


async def test_host_key_mismatch_is_connect_error(cm: Cm, tmp_path: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    known = tmp_path / "other_known_hosts"
    known.write_text(f"[127.0.0.1]:{cm.emu.port} {other}")
    with pytest.raises(ConnectError) as info:
        async with open_sat(
            dataclasses.replace(cm.cfg, known_hosts=known), Transcript("s"), connect_timeout=5
        ):
            pass
    assert f"host key for 127.0.0.1:{cm.emu.port} does not match known_hosts" in info.value.message


async def test_unknown_host_key_needs_explicit_trust(cm: Cm, tmp_path: Path) -> None:
    known = tmp_path / "empty_known_hosts"
    known.touch()
    cfg = dataclasses.replace(cm.cfg, known_hosts=known)
    with pytest.raises(ConnectError, match="is not in known_hosts"):
        async with open_sat(cfg, Transcript("s"), connect_timeout=5):
            pass
    transcript = Transcript("s")
    async with open_sat(
        dataclasses.replace(cfg, accept_new_host_key=True), transcript, connect_timeout=5
    ):
        pass
    assert f"[127.0.0.1]:{cm.emu.port} ssh-ed25519 " in known.read_text()
    # the record says which key was trusted (QA 4b #8): compare it with CM's console
    assert cm.emu._key is not None
    fingerprint = cm.emu._key.get_fingerprint()
    assert any(
        f"new host key ssh-ed25519 {fingerprint} for 127.0.0.1:{cm.emu.port} trusted" in line
        for line in transcript.lines
    )
    async with open_sat(cfg, Transcript("s"), connect_timeout=5) as sat:  # now known
        assert (await sat.cti_status()).link(1) is not None


async def test_sat_that_never_prompts_is_probe_timeout(cm: Cm) -> None:
    await cm.emu.set_fault("sat-hang", True)
    with pytest.raises(ProbeTimeout) as info:
        async with open_sat(fast(cm.cfg, prompt_timeout=0.5), Transcript("s"), connect_timeout=5):
            pass
    assert "Terminal Type" in info.value.message
    assert "0.5 s" in info.value.message


async def test_garbled_ossi_is_protocol_error(cm: Cm) -> None:
    await cm.emu.set_fault("ossi-garbled", True)
    async with open_sat(fast(cm.cfg), Transcript("s"), connect_timeout=5) as sat:
        with pytest.raises(ProtocolError, match="1 value for 3 field IDs"):
            await sat.cti_status()


async def test_network_loss_mid_session_is_connect_error_then_recovers(cm: Cm) -> None:
    with pytest.raises(
        ConnectError,
        match="(connection lost|closed the SAT session) during .status aesvcs cti-link.",
    ):
        async with open_sat(fast(cm.cfg), Transcript("s"), connect_timeout=5) as sat:
            await cm.emu.set_network(False)
            await sat.cti_status()
    with pytest.raises(ConnectError, match="connection refused"):
        async with open_sat(fast(cm.cfg), Transcript("s"), connect_timeout=5):
            pass
    await cm.emu.set_network(True)
    async with open_sat(fast(cm.cfg), Transcript("s"), connect_timeout=5) as sat:
        assert (await sat.cti_status()).link(1) is not None


async def test_cancelled_probe_closes_its_connection(cm: Cm) -> None:
    await cm.emu.set_fault("sat-hang", True)

    async def stuck() -> None:
        async with open_sat(fast(cm.cfg, prompt_timeout=60), Transcript("s"), connect_timeout=5):
            pass

    task = asyncio.create_task(stuck())
    for _ in range(200):
        if cm.emu.status()["open_sessions"]:
            break
        await asyncio.sleep(0.01)
    assert cm.emu.status()["open_sessions"] == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await no_open_sessions(cm.emu) == 0


async def test_port_that_never_speaks_ssh_is_probe_timeout(cm: Cm) -> None:
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()  # never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ProbeTimeout, match="no SSH login"):
            async with open_sat(
                dataclasses.replace(cm.cfg, port=port), Transcript("s"), connect_timeout=0.5
            ):
                pass
    finally:
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        server.close()
        await server.wait_closed()


async def test_vt220_screens_of_the_lab_parse_like_the_app_note(cm: Cm) -> None:
    """The lab's screen mode (termtype vt220) gives screens our screen parser reads."""
    password = cm.emu.password
    async with asyncssh.connect(
        "127.0.0.1",
        cm.emu.port,
        username=USERNAME,
        password=password,
        known_hosts=str(cm.env.known_hosts),
        client_keys=None,
        agent_path=None,
        config=None,
    ) as conn:
        process = await conn.create_process(term_type="vt100", encoding="utf-8")
        screens = {}
        out = await asyncio.wait_for(process.stdout.readuntil(TERMTYPE_PROMPT), 5)
        process.stdin.write("vt220\n")
        await asyncio.wait_for(process.stdout.readuntil(VT_PROMPT), 5)
        for command in ("status aesvcs cti-link", "display ip-services"):
            process.stdin.write(command + "\n")
            screens[command] = ""
            if command == "display ip-services":  # two pages: NEXT PAGE between them
                screens[command] = await asyncio.wait_for(process.stdout.readuntil(VT_MORE), 5)
                process.stdin.write(NEXT_PAGE)
            screens[command] += await asyncio.wait_for(process.stdout.readuntil(VT_PROMPT), 5)
        process.stdin.write("logoff\n")
        await asyncio.wait_for(process.stdout.readuntil("Proceed With Logoff"), 5)
        process.stdin.write("y\n")
    assert "Terminal Type" in out
    status = parse_screen(screens["status aesvcs cti-link"])
    assert isinstance(status, CtiLinkStatus)
    assert status.rows[0].state == "established"
    assert status.rows[0].version == "7"
    services = parse_screen(screens["display ip-services"])
    assert isinstance(services, IpServices)
    assert services.services[0].local_port == "8765"
    assert services.aes_servers[0].name == "aes70"


async def test_ossit_pager_is_answered(cm: Cm) -> None:
    """ossit stops at ``more..y.`` every few lines; the probe answers ``y`` and reads on."""
    transcript = Transcript("sat")
    async with open_sat(fast(cm.cfg, termtype="ossit"), transcript, connect_timeout=5) as sat:
        status = await sat.cti_status()
        services = await sat.ip_services()
    assert status.rows[0].state == "established"
    assert services.aes_servers[0].name == "aes70"
    assert cm.emu.status()["pages"] >= 3
    assert "\n".join(transcript.lines).count("> y") >= 3


async def _raw_ossi(cm: Cm, command: str) -> list[str]:
    """What the lab CM sends for *command* in termtype ossi, read without our probe."""
    async with asyncssh.connect(
        "127.0.0.1",
        cm.emu.port,
        username=USERNAME,
        password=cm.emu.password,
        known_hosts=str(cm.env.known_hosts),
        client_keys=None,
        agent_path=None,
        config=None,
    ) as conn:
        process = await conn.create_process(encoding="utf-8")
        await asyncio.wait_for(process.stdout.readuntil(TERMTYPE_PROMPT), 5)
        process.stdin.write("ossi\n")
        await asyncio.wait_for(process.stdout.readuntil("t\n"), 5)
        process.stdin.write(f"c{command}\nt\n")
        out = await asyncio.wait_for(process.stdout.readuntil("\nt\n"), 5)
        process.stdin.write("clogoff\nt\n")
        await asyncio.wait_for(process.stdout.readuntil("Proceed With Logoff"), 5)
        process.stdin.write("y\n")
    return out.splitlines()


async def test_lab_echoes_c_space_command_as_protocols_shows(cm: Cm) -> None:
    lines = await _raw_ossi(cm, "disp cti 9")
    assert lines == ["c disp cti 9", "e1 c001ff00 0 Identifier not assigned", "t"]
    lines = await _raw_ossi(cm, "stat aesvcs cti")
    assert lines[0] == "c stat aesvcs cti"
    assert lines[1].startswith("f0001ff00\t")
    assert lines[-1] == "t"


@pytest.mark.parametrize(
    "content",
    ["[127.0.0.1]:{port}\n", "@cert-authority\n"],
    ids=["no-key", "marker-only"],
)
async def test_corrupt_known_hosts_is_connect_error_naming_the_file(
    cm: Cm, tmp_path: Path, content: str
) -> None:
    known = tmp_path / "corrupt_known_hosts"
    known.write_text(content.format(port=cm.emu.port), encoding="utf-8")
    cfg = dataclasses.replace(cm.cfg, known_hosts=known)
    with pytest.raises(ConnectError) as info:
        async with open_sat(fast(cfg), Transcript("s"), connect_timeout=5):
            pass
    assert f"known_hosts file {known} is unreadable" in info.value.message


async def test_bad_host_name_is_not_blamed_on_known_hosts(cm: Cm) -> None:
    # a 70-character DNS label: IDNA encoding raises UnicodeError (a ValueError) in connect
    cfg = dataclasses.replace(cm.cfg, host="a" * 70 + ".example")
    with pytest.raises(ConnectError) as info:
        async with open_sat(fast(cfg), Transcript("s"), connect_timeout=5):
            pass
    message = info.value.message
    assert "known_hosts" not in message
    assert message.startswith(f"CM {cfg.host}:{cfg.port}: ")
    assert "label empty or too long" in message


@pytest.mark.parametrize("command", ["change cti-link 1", "add station next", "ch system", "x", ""])
async def test_only_read_only_commands_are_ever_sent(cm: Cm, command: str) -> None:
    # nothing on CM is changed (QA 4a): a plugin's or a typo's command is refused unsent
    transcript = Transcript("s")
    async with open_sat(cm.cfg, transcript, connect_timeout=5) as sat:
        sent_before = cm.emu.counters["commands"]
        with pytest.raises(ProtocolError, match="sends CM only display, status, list commands"):
            await sat.ossi(command)
        assert cm.emu.counters["commands"] == sent_before
        assert (await sat.cti_status()).link(1) is not None  # the session still works


async def test_a_missing_known_hosts_file_says_how_to_get_one(cm: Cm, tmp_path: Path) -> None:
    cfg = dataclasses.replace(cm.cfg, known_hosts=tmp_path / "none")
    with pytest.raises(ConnectError) as info:
        async with open_sat(cfg, Transcript("s"), connect_timeout=5):
            pass
    assert info.value.message.endswith(
        f"(set cm.known_hosts to a file with CM's key, e.g. from ssh-keyscan -p {cm.emu.port} "
        "127.0.0.1, or accept_new_host_key = true)"
    ), info.value.message


async def test_an_ipv6_cm_is_named_with_brackets(cm: Cm) -> None:
    # QA 4b #6: "CM ::1:5022" read as a malformed address
    cfg = dataclasses.replace(cm.cfg, host="::1", port=1)
    with pytest.raises(ConnectError) as info:
        async with open_sat(cfg, Transcript("s"), connect_timeout=5):
            pass
    assert info.value.message.startswith("CM [::1]:1: "), info.value.message


@pytest.mark.parametrize("command", ["dis cti-link 1", "di system", "display cti-link 1\nchange x"])
async def test_abbreviations_and_second_lines_are_refused(cm: Cm, command: str) -> None:
    # review s6b: "dis" is also "disable"; a newline would start a second command
    async with open_sat(cm.cfg, Transcript("s"), connect_timeout=5) as sat:
        with pytest.raises(ProtocolError, match="sends CM only display, status, list commands"):
            await sat.ossi(command)


def test_a_trusted_ipv6_host_key_names_the_host_bracketed(tmp_path: Path) -> None:
    """Review s7 #6: '2001:db8::5:22' is itself an address; the record says [2001:db8::5]:22."""
    from ecc_doctor.probes import sat

    known = tmp_path / "known_hosts"
    known.write_text("")
    transcript = Transcript("s")
    key = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    client = sat._SatClient(sat._Auth("pw"), known, True, transcript.host_key_trusted)
    assert client.validate_host_public_key("2001:db8::5", "2001:db8::5", 22, key)
    (line,) = transcript.trusted_keys
    assert f"{key.get_fingerprint()} for [2001:db8::5]:22 trusted" in line
