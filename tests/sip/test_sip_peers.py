"""Real SIP traffic from third-party software, captured during the test and analyzed.

Kamailio is the registrar (digest auth from htable, no database), SIPp the UAC/UAS (REGISTER,
refresh, de-register, wrong password; INVITE with 100rel/PRACK and injected defects), tcpdump
captures loopback. Every process is started here with its own config on free ports and
stopped by PID.

Run as a script to regenerate the committed captures in tests/fixtures/sip/:
``.venv/bin/python -m tests.sip.test_sip_peers write-fixtures`` (from the repository root)
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import require_tool

from ecc_doctor.captures.sip.analyze import SipAnalysis, analyze_file
from ecc_doctor.models import Status

HERE = Path(__file__).resolve().parent
SCEN = HERE.parent / "fixtures" / "sip" / "scenarios"
ALICE_PW = "alice-Lab-pw1"

pytestmark = [pytest.mark.peer, pytest.mark.timeout(120)]


def _tool(name: str) -> str:
    return str(require_tool(name))


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (and the next one too)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
        if port > 64000:
            continue
        try:
            for p in (port, port + 1):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(socket.AF_INET, kind) as s:
                        s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


def _bound(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _wait_listening(
    proc: subprocess.Popen[bytes],
    port: int,
    kinds: tuple[int, ...],
    log: Path,
    what: str,
    seconds: float,
) -> None:
    """Until the peer listens on *port* for every socket kind; its log if it dies first."""
    deadline = time.monotonic() + seconds
    while not all(_bound(port, kind) for kind in kinds):
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        assert time.monotonic() < deadline, f"{what} did not start"
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal the peer's whole process group (Kamailio forks workers), SIGKILL if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # workers whose parent is gone


@contextlib.contextmanager
def tcpdump(out: Path, ports: list[int], log: Path) -> Iterator[None]:
    exe = _tool("tcpdump")
    expr = " or ".join(f"udp port {p} or tcp port {p}" for p in ports)
    with log.open("wb") as logf:
        proc = subprocess.Popen(
            [exe, "-i", "lo", "--immediate-mode", "-U", "-w", str(out), expr],
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 10
        while b"listening on" not in log.read_bytes():
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "tcpdump did not start"
            time.sleep(0.05)
        yield
        time.sleep(0.3)  # let the last packets reach the file
    finally:
        _stop(proc, signal.SIGINT)  # INT flushes the capture


@contextlib.contextmanager
def kamailio(tmp: Path, port: int, config: str = "kamailio.cfg", uas: int = 0) -> Iterator[None]:
    """Kamailio with *config* from the scenarios: the registrar, or the proxy to *uas*."""
    exe = _tool("kamailio")
    cfg = (SCEN / config).read_text()
    cfg = cfg.replace("@PORT@", str(port)).replace("@ALICE_PW@", ALICE_PW)
    cfg = cfg.replace("@BOB_PW@", "bob-Lab-pw2").replace("@UAS@", str(uas))
    (tmp / "kamailio.cfg").write_text(cfg)
    rundir = tmp / "kamrun"
    rundir.mkdir(exist_ok=True)
    log = tmp / "kamailio.log"
    with log.open("wb") as logf:
        proc = subprocess.Popen(
            [exe, "-DD", "-E", "-f", str(tmp / "kamailio.cfg"), "-Y", str(rundir)],
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: _stop reaches the workers too
        )
    try:
        _wait_listening(proc, port, (socket.SOCK_DGRAM, socket.SOCK_STREAM), log, "kamailio", 15)
        yield
    finally:
        _stop(proc)


def sipp(
    scenario: str, local: int, remote: int | None, transport: str, *extra: str, tmp: Path
) -> subprocess.CompletedProcess[bytes]:
    exe = _tool("sipp")
    args = [
        "timeout",
        "45",
        exe,
        "-sf",
        str(SCEN / scenario),
        "-m",
        "1",
        "-timeout",
        "30",
        "-timeout_error",
        "-nostdin",
        "-i",
        "127.0.0.1",
        "-p",
        str(local),
        "-t",
        transport,
        *extra,
    ]
    if remote is not None:
        args.append(f"127.0.0.1:{remote}")
    return subprocess.run(args, cwd=tmp, capture_output=True, timeout=60, check=False)


@contextlib.contextmanager
def sipp_server(scenario: str, port: int, transport: str, tmp: Path) -> Iterator[None]:
    exe = _tool("sipp")
    log = tmp / "uas.log"
    with log.open("wb") as logf:
        proc = subprocess.Popen(
            [
                exe,
                "-sf",
                str(SCEN / scenario),
                "-m",
                "1",
                "-timeout",
                "30",
                "-nostdin",
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "-t",
                transport,
            ],
            cwd=tmp,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        kind = socket.SOCK_DGRAM if transport == "u1" else socket.SOCK_STREAM
        _wait_listening(proc, port, (kind,), log, "sipp UAS", 10)
        yield
    finally:
        _stop(proc)


def register_capture(
    tmp: Path, out: Path, scenario: str, transport: str, password: str
) -> tuple[int, subprocess.CompletedProcess[bytes]]:
    port = free_port()
    with kamailio(tmp, port), tcpdump(out, [port, port + 1], tmp / "tcpdump.log"):
        done = sipp(
            scenario,
            port + 1,
            port,
            transport,
            "-s",
            "alice",
            "-au",
            "alice",
            "-ap",
            password,
            "-auth_uri",
            "lab.example",
            tmp=tmp,
        )
    return port, done


def prack_capture(
    tmp: Path, out: Path, uas: str, uac: str, transport: str
) -> tuple[int, subprocess.CompletedProcess[bytes]]:
    port = free_port()
    with (
        tcpdump(out, [port, port + 1], tmp / "tcpdump.log"),
        sipp_server(uas, port, transport, tmp),
    ):
        done = sipp(uac, port + 1, port, transport, "-s", "bob", tmp=tmp)
    return port, done


def proxied_capture(
    tmp: Path, out: Path, uas: str, uac: str
) -> tuple[list[int], subprocess.CompletedProcess[bytes]]:
    """SIPp UAC -> Kamailio proxy -> SIPp UAS, all on 127.0.0.1 (ports differ), both legs
    captured."""
    proxy, uas_port, uac_port = free_port(), free_port(), free_port()
    ports = [proxy, uas_port, uac_port]
    with (
        tcpdump(out, ports, tmp / "tcpdump.log"),
        sipp_server(uas, uas_port, "u1", tmp),
        kamailio(tmp, proxy, "kamailio_proxy.cfg", uas_port),
    ):
        done = sipp(uac, uac_port, proxy, "u1", "-s", "bob", tmp=tmp)
    return ports, done


def rules_of(analysis: SipAnalysis, severity: Status) -> set[str]:
    return {f.rule for fl in analysis.flows for f in fl.findings if f.severity == severity}


# --- REGISTER against Kamailio -----------------------------------------------------------


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_register_refresh_deregister_with_kamailio(tmp_path: Path, transport: str) -> None:
    out = tmp_path / "reg.pcap"
    port, done = register_capture(tmp_path, out, "reg_full.xml", transport, ALICE_PW)
    assert done.returncode == 0, done.stdout[-2000:]
    analysis = analyze_file(out, ports=(port,), passwords={"alice": ALICE_PW})
    (flow,) = analysis.flows_of("register")
    assert flow.status is Status.PASS, [f.message for f in flow.findings]
    assert flow.aor == "sip:alice@lab.example"
    assert "2 registration(s) accepted, 1 de-registration(s)" in flow.summary
    rules = [f.rule for f in flow.findings]
    assert rules.count("sip.digest") == 3  # every Authorization matches the password
    assert "sip.register.deregister" in rules
    # Kamailio's max_expires 600 lowers the 3600 asked for
    assert any("lowered Expires from 3600 to 600" in f.message for f in flow.findings)


def test_wrong_password_named_with_kamailio(tmp_path: Path) -> None:
    out = tmp_path / "wrong.pcap"
    port, done = register_capture(tmp_path, out, "reg.xml", "u1", "not-the-password")
    assert done.returncode != 0  # SIPp expected 200 and got 403
    analysis = analyze_file(out, ports=(port,), passwords={"alice": ALICE_PW})
    (flow,) = analysis.flows_of("register")
    assert flow.status is Status.FAIL
    digest = [f for f in flow.findings if f.rule == "sip.digest"]
    assert digest[0].severity is Status.FAIL
    assert digest[0].message == (
        "digest response does not match the password for user alice: wrong password"
    )
    rejected = [f for f in flow.findings if f.rule == "sip.register.rejected"]
    assert "403" in rejected[0].message and rejected[0].severity is Status.FAIL
    assert ALICE_PW not in repr(analysis.to_dict())


# --- INVITE / 100rel / PRACK between two SIPp instances ---------------------------------


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_prack_correct_with_sipp(tmp_path: Path, transport: str) -> None:
    out = tmp_path / "prack.pcap"
    port, done = prack_capture(tmp_path, out, "uas_ok.xml", "uac_ok.xml", transport)
    assert done.returncode == 0, done.stdout[-2000:]
    analysis = analyze_file(out, ports=(port, port + 1))
    (flow,) = analysis.flows_of("invite")
    assert flow.status is Status.PASS, [f.message for f in flow.findings]
    assert "1 reliable 1xx, 1 PRACK" in flow.summary
    assert "final 200 OK" in flow.summary


def test_prack_through_a_proxy_on_the_same_address_passes(tmp_path: Path) -> None:
    """QA 5a #3: both legs of a proxied call differ only by port; each PRACK belongs to the
    reliable 1xx of its own leg (no false duplicate, order or "never PRACKed" finding)."""
    out = tmp_path / "proxied.pcap"
    ports, done = proxied_capture(tmp_path, out, "uas_proxied_sdp.xml", "uac_two.xml")
    assert done.returncode == 0, done.stdout[-2000:]
    analysis = analyze_file(out, ports=ports)
    (flow,) = analysis.flows_of("invite")
    assert flow.status is Status.PASS, [f.message for f in flow.findings]
    # both legs seen: two INVITE transactions, each with its two reliable 1xx PRACKed
    assert "4 reliable 1xx, 4 PRACK" in flow.summary, flow.summary


def test_prack_wrong_rack_fails_naming_frames(tmp_path: Path) -> None:
    out = tmp_path / "badrack.pcap"
    port, done = prack_capture(tmp_path, out, "uas_ok.xml", "uac_badrack.xml", "t1")
    assert done.returncode == 0, done.stdout[-2000:]
    analysis = analyze_file(out, ports=(port, port + 1))
    (flow,) = analysis.flows_of("invite")
    assert flow.status is Status.FAIL
    (rack,) = [f for f in flow.findings if f.rule == "sip.prack.rack"]
    assert "RAck '1 2 INVITE'" in rack.message
    assert "expected '1 1 INVITE', for 183 f" in rack.message
    assert len(rack.frames) == 3  # the PRACK, the reliable 183 and the INVITE


def test_prack_rseq_jump_fails(tmp_path: Path) -> None:
    out = tmp_path / "jump.pcap"
    port, done = prack_capture(tmp_path, out, "uas_jump.xml", "uac_two.xml", "u1")
    assert done.returncode == 0, done.stdout[-2000:]
    analysis = analyze_file(out, ports=(port, port + 1))
    (flow,) = analysis.flows_of("invite")
    (jump,) = [f for f in flow.findings if f.rule == "sip.prack.rseq"]
    assert jump.severity is Status.FAIL
    assert "RSeq jumped from 1" in jump.message and "to 3" in jump.message
    assert len(jump.frames) == 2


def test_reliable_1xx_retransmitted_until_prack(tmp_path: Path) -> None:
    out = tmp_path / "slow.pcap"
    port, done = prack_capture(tmp_path, out, "uas_ok.xml", "uac_slow.xml", "u1")
    assert done.returncode == 0, done.stdout[-2000:]
    analysis = analyze_file(out, ports=(port, port + 1))
    (flow,) = analysis.flows_of("invite")
    assert flow.status is Status.PASS
    (retrans,) = [f for f in flow.findings if f.rule == "sip.prack.retransmit"]
    assert "reliable 183 RSeq 1 sent" in retrans.message and "until PRACKed" in retrans.message


# --- the committed captures (script mode) ------------------------------------------------

FIXTURE_RECIPES = {
    "register-udp.pcap": ("register", "reg_full.xml", "u1", ALICE_PW),
    "register-tcp.pcap": ("register", "reg_full.xml", "t1", ALICE_PW),
    "register-wrong-password.pcap": ("register", "reg.xml", "u1", "not-the-password"),
    "prack-ok-udp.pcap": ("prack", "uas_ok.xml", "uac_ok.xml", "u1"),
    "prack-ok-tcp.pcap": ("prack", "uas_ok.xml", "uac_ok.xml", "t1"),
    "prack-bad-rack-tcp.pcap": ("prack", "uas_ok.xml", "uac_badrack.xml", "t1"),
    "prack-rseq-jump-udp.pcap": ("prack", "uas_jump.xml", "uac_two.xml", "u1"),
    "prack-retrans-udp.pcap": ("prack", "uas_ok.xml", "uac_slow.xml", "u1"),
}


def write_fixtures(dest: Path) -> None:
    import tempfile

    for name, recipe in FIXTURE_RECIPES.items():
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            out = tmp / name
            if recipe[0] == "register":
                port, _ = register_capture(tmp, out, recipe[1], recipe[2], recipe[3])
            else:
                port, _ = prack_capture(tmp, out, recipe[1], recipe[2], recipe[3])
            shutil.copy(out, dest / name)
            print(f"{name}: ports {port},{port + 1}")


if __name__ == "__main__":
    if sys.argv[1:] != ["write-fixtures"]:
        sys.exit("usage: python -m tests.sip.test_sip_peers write-fixtures")
    write_fixtures(HERE.parent / "fixtures" / "sip")
