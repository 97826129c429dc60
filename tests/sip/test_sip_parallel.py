"""``analyze --jobs N``: the shards of a capture analysed in N processes add up to exactly
what one process finds, and no worker process outlives the analysis on any path (success,
an unreadable file, a worker that dies, --time-limit, Ctrl-C, the parent killed)."""

from __future__ import annotations

import contextvars
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner
from tests.conftest import FIXTURES, PUBLIC_CAPTURES, require_shared
from tests.pcapwrite import UDP, A, B, ipv4_frame, write_pcap

from ecc_doctor import cancel
from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.sip import analyze as sip_analyze
from ecc_doctor.captures.sip import parallel
from ecc_doctor.captures.sip.analyze import SipAnalysis, analyze_file
from ecc_doctor.cli import cli
from ecc_doctor.errors import CaptureError, ConfigError
from ecc_doctor.models import Status

SRC = Path(__file__).resolve().parents[2] / "src"
PASSWORDS = dict(
    line.split(":", 1) for line in (FIXTURES / "sip" / "passwords.txt").read_text().split()
)
COMMITTED = sorted(FIXTURES.rglob("*.pcap*"))
PUBLIC = [
    "heplify-FAX-Call-t38-CA-TDM-SIP-FB-1.pcap",
    "heplify-sip_ipv4_tcp.pcap",
    "heplify-sip_ipv4_tcp_fragmented.pcap",
    "heplify-sip_ipv4_tcp_retrans.pcap",
    "heplify-sip_ipv6_udp.pcap",
    "sipnab-rtp-protocol.pcap",
    "sipnab-sip-auth-failure.pcapng",
    "sipnab-sip-routing-error.pcapng",
    "sngrep-ipv6frag.pcap",
    "zeek-sip-wireshark.pcap",
]
PORTS = (5060, 5061, 5062)


def _everything(analysis: SipAnalysis) -> dict[str, object]:
    """to_dict() and the ladders (their order too: the dashboard lists them so)."""
    return {**analysis.to_dict(), "ladders": [[k, v] for k, v in analysis.ladders.items()]}


def _same_in_every_job_count(path: Path) -> None:
    one = _everything(analyze_file(path, ports=PORTS, passwords=PASSWORDS, jobs=1))
    for jobs in (2, 3):
        many = analyze_file(path, ports=PORTS, passwords=PASSWORDS, jobs=jobs)
        assert _everything(many) == one, f"jobs={jobs}"
        assert len(many.workers_peak_kib) == jobs


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_committed_captures_same_result_in_2_and_3_processes(path: Path) -> None:
    _same_in_every_job_count(path)


@pytest.mark.parametrize("name", PUBLIC)
def test_public_captures_same_result_in_2_and_3_processes(name: str) -> None:
    _same_in_every_job_count(require_shared(PUBLIC_CAPTURES / name))


def _udp(payload: bytes, src: bytes = A, dst: bytes = B) -> bytes:
    return ipv4_frame(UDP, payload, src=src, dst=dst, sport=5060, dport=5060)


def _options(i: int) -> bytes:
    """An OPTIONS without CSeq/From/To: a 'sip.parse' note each."""
    return _udp(f"OPTIONS sip:b@b SIP/2.0\r\nCall-ID: n{i}\r\nContent-Length: 0\r\n\r\n".encode())


def _call(n: int) -> list[bytes]:
    """INVITE, reliable 183, PRACK, 200 PRACK, 200 INVITE, ACK: a passing call."""
    cid = f"call-{n}"

    def msg(start: str, cseq: str, extra: str = "", to_tag: str = ";tag=b") -> bytes:
        return (
            f"{start}\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{cseq[:1]}{cseq[-3:]}{n}\r\n"
            f"Call-ID: {cid}\r\nCSeq: {cseq}\r\nFrom: <sip:a@b>;tag=a\r\n"
            f"To: <sip:b@b>{to_tag}\r\n{extra}Content-Length: 0\r\n\r\n"
        ).encode()

    return [
        _udp(msg("INVITE sip:b@b SIP/2.0", "1 INVITE",
                 "Supported: 100rel\r\nContact: <sip:a@10.0.0.1>\r\n", to_tag="")),
        _udp(msg("SIP/2.0 183 Session Progress", "1 INVITE",
                 "Require: 100rel\r\nRSeq: 1\r\nContact: <sip:b@10.0.0.2>\r\n"), B, A),
        _udp(msg("PRACK sip:b@10.0.0.2 SIP/2.0", "2 PRACK", "RAck: 1 1 INVITE\r\n")),
        _udp(msg("SIP/2.0 200 OK", "2 PRACK"), B, A),
        _udp(msg("SIP/2.0 200 OK", "1 INVITE", "Contact: <sip:b@10.0.0.2>\r\n"), B, A),
        _udp(msg("ACK sip:b@10.0.0.2 SIP/2.0", "1 ACK")),
    ]  # fmt: skip


def test_notes_beyond_the_cap_and_duplicates_merge_as_in_one_process(tmp_path: Path) -> None:
    """45 'sip.parse' notes spread over the shards: the first 20 in frame order, then the
    marker; copies of messages: one 'capture.duplicates' note from the summed count."""
    frames = []
    for i in range(45):
        frames.append(_options(i))
        if i % 7 == 0:
            frames.append(_options(i))  # the same bytes on the same hop 1 ms later
        frames += _call(i)
    path = write_pcap(tmp_path / "notes.pcap", frames)
    one = analyze_file(path, jobs=1)
    assert [n.rule for n in one.notes].count("sip.parse") == 21
    assert one.notes[-1].rule == "capture.duplicates" and one.duplicates == 7
    assert one.flows_total == 45
    for jobs in (2, 3):
        assert _everything(analyze_file(path, jobs=jobs)) == _everything(one)


def _flow(n: int, status: Status) -> Flow:
    return Flow("invite", f"c{n}", status, "", call_id=f"c{n}", frames=(n, n + 1))


def _shard(flows: list[Flow]) -> SipAnalysis:
    part = SipAnalysis(flows=list(flows), flows_total=len(flows))
    for f in flows:
        key = f"{f.kind}.{f.status.value}"
        part.counts[key] = part.counts.get(key, 0) + 1
    return part


def test_merge_recaps_flows_and_keeps_the_worst_verdict_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sip_analyze, "MAX_BAD_FLOWS", 4)
    monkeypatch.setattr(sip_analyze, "MAX_GOOD_FLOWS", 2)
    # each shard is within the caps on its own; together they are not
    first = _shard([_flow(n, Status.WARN) for n in (10, 20, 30, 40)] + [_flow(5, Status.PASS)])
    second = _shard(
        [_flow(n, Status.WARN) for n in (15, 25)]
        + [_flow(90, Status.FAIL)]
        + [_flow(n, Status.PASS) for n in (1, 3)]
    )
    merged = parallel.merge([first, second])
    statuses = sorted(f.status.value for f in merged.flows)
    assert statuses == ["FAIL", "PASS", "PASS", "WARN", "WARN", "WARN"]
    # the earliest-ending passing flows are listed, as one process lists them
    assert [f.key for f in merged.flows if f.status is Status.PASS] == ["c1", "c3"]
    assert merged.not_listed == {"PASS": 1, "WARN": 3}
    assert merged.flows_total == 10 == len(merged.flows) + merged.flows_not_listed
    assert merged.counts == {"invite.WARN": 6, "invite.PASS": 3, "invite.FAIL": 1}
    assert merged.status is Status.FAIL
    # sorted as finish() sorts them: by first frame
    assert [f.frames[0] for f in merged.flows] == sorted(f.frames[0] for f in merged.flows)


def test_merge_adds_flows_the_shards_did_not_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sip_analyze, "MAX_BAD_FLOWS", 2)
    first = _shard([_flow(n, Status.WARN) for n in (1, 2)])
    first.flows_total += 3  # three more WARN flows this shard did not list
    first.counts["invite.WARN"] += 3
    first.flows_not_listed, first.not_listed = 3, {"WARN": 3}
    second = _shard([_flow(7, Status.ERROR)])
    merged = parallel.merge([first, second])
    assert sorted(f.status.value for f in merged.flows) == ["ERROR", "WARN"]
    assert merged.not_listed == {"WARN": 4} and merged.flows_not_listed == 4
    assert merged.flows_total == 6 == len(merged.flows) + merged.flows_not_listed


# --- how many processes ------------------------------------------------------------------


def test_job_count(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    small = write_pcap(tmp_path / "small.pcap", [_options(1)])
    cpus = min(parallel.usable_cpus(), parallel.AUTO_MAX_JOBS)
    assert parallel.job_count(None, small, "scapy", None) == 1
    assert parallel.job_count(3, small, "scapy", None) == 3
    assert parallel.job_count("2", small, "scapy", None) == 2
    monkeypatch.setattr(parallel, "AUTO_MIN_BYTES", 0)
    assert parallel.job_count(None, small, "scapy", None) == cpus
    assert parallel.job_count("auto", small, "scapy", None) == cpus
    # tshark reads the file itself; one Call-ID's ladder lives in one process anyway
    assert parallel.job_count(4, small, "tshark", None) == 1
    assert parallel.job_count(4, small, "scapy", "call-1") == 1
    for bad in (0, "x", "-1"):
        with pytest.raises(ConfigError, match="jobs: expected"):
            parallel.job_count(bad, small, "scapy", None)


def test_auto_uses_several_processes_on_a_big_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(parallel, "AUTO_MIN_BYTES", 0)
    path = write_pcap(tmp_path / "calls.pcap", [f for n in range(30) for f in _call(n)])
    auto = analyze_file(path)
    assert len(auto.workers_peak_kib) == min(parallel.usable_cpus(), 4)
    assert auto.to_dict() == analyze_file(path, jobs=1).to_dict()


# --- the CLI -------------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_cli_jobs_2_json_is_the_same_as_jobs_1() -> None:
    files = [str(FIXTURES / "captures" / "zeek-sip-wireshark.pcap")]
    files.append(str(FIXTURES / "sip" / "prack-bad-rack-tcp.pcap"))
    code1, out1, _ = _cli("analyze", *files, "--format", "json", "--jobs", "1")
    code2, out2, _ = _cli("analyze", *files, "--format", "json", "--jobs", "2")
    assert code1 == code2 == 1  # prack-bad-rack-tcp: a FAIL
    assert json.loads(out2) == json.loads(out1)
    assert json.loads(out2)["files"][0]["messages"] > 0


def test_cli_jobs_rejects_nonsense() -> None:
    code, _, err = _cli("analyze", str(FIXTURES / "sip" / "register-udp.pcap"), "--jobs", "0")
    assert code == 2 and "--jobs: expected a number of processes" in err


def test_cli_not_a_capture_and_truncated_same_with_jobs_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture at all\n" * 10)
    whole = (FIXTURES / "sip" / "register-udp.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[: len(whole) - 40])
    for args in ([str(junk)], [str(cut), "--format", "json"], [str(junk), str(cut)]):
        assert _cli("analyze", *args, "--jobs", "2") == _cli("analyze", *args, "--jobs", "1")
    code, out, _ = _cli("analyze", str(junk), "--jobs", "2")
    assert code == 1 and "not a pcap or pcapng file" in out
    doc = json.loads(_cli("analyze", str(cut), "--format", "json", "--jobs", "2")[1])
    assert "capture.truncated" in {n["rule"] for n in doc["files"][0]["notes"]}


# --- no process outlives the analysis ---------------------------------------------------


@pytest.fixture(scope="module")
def big_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 60,000 SIP messages (20 MB): a few seconds of analysis."""
    frames = [f for n in range(10_000) for f in _call(n)]
    return write_pcap(tmp_path_factory.mktemp("big") / "big.pcap", frames)


def _workers(of: int | None = None) -> set[int]:
    """The spawned worker processes under *of* (default: this process).

    Not multiprocessing's resource tracker: one per parent process, it lives as long as
    the parent (whatever starts spawn processes has one)."""
    proc = psutil.Process(of) if of is not None else psutil.Process()
    return {p.pid for p in proc.children(recursive=True) if "spawn_main" in " ".join(_cmd(p))}


def _cmd(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _wait_for_workers(of: int | None = None) -> set[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _workers(of)
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("no worker process was started")


def test_all_processes_end_after_success(big_capture: Path) -> None:
    before = _workers()
    seen: set[int] = set()
    watcher = threading.Thread(target=lambda: seen.update(_wait_for_workers()), daemon=True)
    watcher.start()
    result = analyze_file(big_capture, jobs=2)
    watcher.join(5)
    assert result.flows_total == 10_000 and result.status is Status.PASS
    assert seen, "the analysis ran in one process only"
    assert not _alive(_workers() - before) and not _alive(seen)


def test_a_worker_that_dies_is_an_error_and_nothing_survives(big_capture: Path) -> None:
    before = _workers()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            analyze_file(big_capture, jobs=2)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    workers = _wait_for_workers()
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], CaptureError)
    # both were killed: the reader notices the first one it sends to
    assert outcome[0].message in (
        "analysis process 1 of 2 died (exit code -9)",
        "analysis process 2 of 2 died (exit code -9)",
    )
    assert not _alive(_workers() - before)


def test_time_limit_stops_every_process(big_capture: Path) -> None:
    before = _workers()
    code, out, _ = _cli(
        "analyze", str(big_capture), "--jobs", "2", "--time-limit", "0.5", "--format", "json"
    )
    doc = json.loads(out)
    assert code == 1
    assert doc["files"][0]["error"] == f"{big_capture}: analysis stopped after 0.5 s (--time-limit)"
    assert not _alive(_workers() - before)


def test_a_stopped_check_stops_the_workers_too(big_capture: Path) -> None:
    """WorkStopped (the check runner's timeout) raised while waiting for a worker."""
    before = _workers()
    with cancel.scope() as stop, pytest.raises(cancel.WorkStopped):
        threading.Timer(0.3, stop.set).start()
        analyze_file(big_capture, jobs=3)
    assert not _alive(_workers() - before)


def test_a_stopped_check_ends_while_a_stuck_worker_blocks_the_reader(big_capture: Path) -> None:
    """A worker that stops reading (SIGSTOP here) fills its pipe; the reader waits for room
    but still sees the check's stop, and every process ends (the stopped one killed)."""
    before = _workers()
    outcome: list[BaseException] = []
    with cancel.scope() as stop:

        def run() -> None:
            try:
                analyze_file(big_capture, jobs=2)
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                outcome.append(exc)

        # the check's context, as asyncio.to_thread gives it
        thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True)
        thread.start()
        workers = _wait_for_workers()
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(1.0)  # the pipes fill; the reader waits
        assert thread.is_alive()
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], cancel.WorkStopped), outcome
    assert not _alive(_workers() - before) and not _alive(workers)


def _cli_process(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-m", "ecc_doctor", "analyze", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )


def test_ctrl_c_stops_every_process(big_capture: Path) -> None:
    proc = _cli_process(str(big_capture), "--jobs", "2")
    try:
        workers = _wait_for_workers(of=proc.pid)
        # the parent ignores Ctrl-C only while it starts a worker (which then ignores it);
        # bounded, and never reading a pid the system may have given to another process
        # once the analysis has ended (a loaded CI runner once looped here until the timeout)
        deadline = time.monotonic() + 30
        while _ignores_sigint(proc.pid) or not all(map(_ignores_sigint, workers)):
            assert proc.poll() is None, "the analysis ended before it could be interrupted"
            assert time.monotonic() < deadline, "the workers never all ignored Ctrl-C"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err
    psutil.wait_procs([p for p in map(_process, workers) if p], timeout=10)
    assert not _alive(workers)


def test_workers_exit_when_their_parent_is_killed(big_capture: Path) -> None:
    proc = _cli_process(str(big_capture), "--jobs", "3")
    try:
        workers = _wait_for_workers(of=proc.pid)
        proc.kill()  # SIGKILL: the parent cannot stop anything itself
        proc.communicate(timeout=30)
        gone, alive = psutil.wait_procs([p for p in map(_process, workers) if p], timeout=10)
    finally:
        proc.kill()
    assert not alive and not _alive(workers)


def _ignores_sigint(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    raise AssertionError(f"no SigIgn in /proc/{pid}/status")


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


# --- errors from a worker ------------------------------------------------------------------


def test_a_worker_error_keeps_its_type_and_message() -> None:
    """A worker whose reader goes away before the end of the capture says so, and the
    error reaches the caller with its own type and message."""
    ctx = multiprocessing.get_context("spawn")
    inbox, feed = ctx.Pipe(duplex=False)
    results, outbox = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=parallel._worker,
        args=(inbox, outbox, (1, 2), ("register", "prack")),
        kwargs={"passwords": {}, "max_contacts": 5},
        daemon=True,
    )
    proc.start()
    inbox.close()
    outbox.close()
    worker = parallel._Worker(proc, feed, results, 1, 2)
    worker.send([])  # an empty batch, then the reader is gone without its end mark
    feed.close()
    try:
        with pytest.raises(CaptureError) as caught:
            worker.result()
    finally:
        results.close()
        proc.join(10)
    assert caught.value.message == "analysis process 2 of 2: the reading process has gone"
    assert "in the analysis process" in str(caught.value.__cause__)


class _Unpicklable(Exception):
    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} {b}")


def test_an_exception_that_does_not_pickle_becomes_text() -> None:
    assert parallel._portable(_Unpicklable("x", "y")) is None
    assert isinstance(parallel._portable(CaptureError("f: bad")), CaptureError)


def test_a_script_without_a_main_guard_can_use_jobs(tmp_path: Path) -> None:
    """Workers do not re-run the caller's __main__ script (spawn would, by default)."""
    script = tmp_path / "unguarded.py"
    path = FIXTURES / "sip" / "prack-ok-udp.pcap"
    script.write_text(
        "from ecc_doctor.captures.sip.analyze import analyze_file\n"
        "print('run', flush=True)\n"
        f"a = analyze_file({str(path)!r}, jobs=2)\n"
        "print(a.status.value, len(a.workers_peak_kib))\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=60,
        check=True,
    ).stdout
    assert out == "run\nPASS 2\n"


def test_jobs_are_checked_and_capped(tmp_path: Path) -> None:
    """Non-ASCII digits are a usage error; --jobs 500 does not start 499 processes."""
    path = tmp_path / "x.pcap"
    path.write_bytes(b"")
    with pytest.raises(ConfigError):
        parallel.job_count("²", path, "scapy", None)
    cap = max(parallel.AUTO_MAX_JOBS, parallel.MAX_JOBS_PER_CPU * parallel.usable_cpus())
    assert parallel.job_count(500, path, "scapy", None) == cap
    assert parallel.job_count("3", path, "scapy", None) == min(3, cap)


def test_worker_starts_from_two_threads_restore_main() -> None:
    """Two checks starting workers at once must leave __main__ as it was (review finding):
    A enters, B tries to enter, A leaves, B leaves."""
    main = sys.modules["__main__"]
    a_inside = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with parallel._starting_worker():
                a_inside.set()
                time.sleep(0.3)  # B tries to enter meanwhile
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def second() -> None:
        a_inside.wait(5)
        try:
            with parallel._starting_worker():
                time.sleep(0.5)  # still inside when A leaves, unless the lock kept B out
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert sys.modules["__main__"] is main
