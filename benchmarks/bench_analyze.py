"""Benchmark: ecc-doctor analyze vs tshark/pyshark on one large SIP+RTP capture.

Builds the capture the issue describes from real SIP traffic (SIPp UAC and UAS with
100rel/PRACK on loopback at about 1000 calls/s for 60 s, captured by tcpdump), interleaves
synthetic RTP frames (G.711-like, 20 ms packets on 500 media streams) as noise until the file
reaches the target packet count and size (870k packets, 375 MB; no RTP is added when the SIP
alone reaches the count), then measures on that same file, each tool in its own process:

- ``ecc-doctor analyze`` (``analyze_file`` with the register and prack rules, no ladders, as
  the command runs it), packets/s
  and peak RSS, once per ``--jobs`` value (default ``1,auto``: one process, and as many as
  ``analyze`` picks by itself); the command itself as typed, with its JSON report (start-up
  and report writing included); also the reader alone (``PcapEngine.sip``);
- ``tshark -r FILE -Y sip``;
- pyshark on a slice (it is far slower, so the whole file would take too long);
- memory flatness: ecc-doctor analyze on the first 1/4, 1/2 and the whole file (the parts
  are cut with ``editcap -F`` in the file's own format, so the same reader code runs).

Peak RSS is each process's own VmHWM; with ``--jobs`` it is the SUM of the analysing
processes' peaks (each worker reports its own VmHWM to the parent), and CPU time includes
the workers'. For the Python children, wall and CPU time cover the same work (from the
import of ecc_doctor to the result, measured inside the child); for tshark, CPU time is the
child's rusage (user + system) and wall time includes its start-up.
With ``--repeat N`` every measurement is taken N times and the fastest run is reported
(on a shared machine the slower runs measure the other load, not the tool).

Needs root (tcpdump on lo), sipp, tcpdump, tshark/editcap; pyshark is optional.
Usage: ``sudo .venv/bin/python benchmarks/bench_analyze.py [--seconds 60] [--keep DIR]``,
``.venv/bin/python benchmarks/bench_analyze.py --input FILE [--repeat 3] [--jobs 1,2]``.
Results go to stdout as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
UAS_PORT, UAC_PORT = 5060, 5062
PORTS = (UAS_PORT, UAC_PORT)
TARGET_PACKETS = 870_000  # the file: about 870k packets
TARGET_BYTES = 375_000_000  # and about 375 MB
MAC_A, MAC_B = bytes.fromhex("00005e005301"), bytes.fromhex("00005e005302")


# --- building the capture ---------------------------------------------------------------


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        sys.exit(f"bench_analyze: {tool} is not installed")
    return found


def capture_sip(out: Path, seconds: float, rate: int) -> None:
    """Real SIP: SIPp UAC -> UAS with 100rel over UDP on 127.0.0.1, captured by tcpdump."""
    sipp, tcpdump = need("sipp"), need("tcpdump")
    calls = max(int(seconds * rate), 1)
    dump = subprocess.Popen(
        [tcpdump, "-i", "lo", "--immediate-mode", "-U", "-w", str(out), "-s", "0",
         f"udp port {UAS_PORT} or udp port {UAC_PORT}"],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_listening(dump)
        uas = subprocess.Popen(
            [sipp, "-sf", str(HERE / "sipp_uas_100rel.xml"), "-i", "127.0.0.1",
             "-p", str(UAS_PORT), "-nostdin"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(0.5)
            subprocess.run(
                [sipp, "-sf", str(HERE / "sipp_uac_100rel.xml"), f"127.0.0.1:{UAS_PORT}",
                 "-i", "127.0.0.1", "-p", str(UAC_PORT), "-r", str(rate), "-m", str(calls),
                 "-l", str(rate * 4), "-nostdin", "-timeout", f"{int(seconds * 3 + 30)}s"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
            )  # fmt: skip
            time.sleep(1.0)  # the last 200 OK (BYE)
        finally:
            uas.terminate()
            uas.wait(timeout=10)
    finally:
        dump.send_signal(signal.SIGTERM)
        dump.wait(timeout=10)


def _wait_listening(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stderr is not None
    line = proc.stderr.readline().decode(errors="replace")
    if "listening" not in line:
        proc.kill()
        sys.exit(f"bench_analyze: tcpdump did not start: {line.strip()} (root needed)")


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class RtpFlows:
    """Pre-built Ethernet/IPv4/UDP/RTP headers for 500 media streams."""

    def __init__(self, payload: int, flows: int = 500) -> None:
        self.payload = bytes([0xFF]) * payload
        self.heads: list[bytes] = []
        self.state = [[i * 7, i * 160] for i in range(flows)]
        ulen = 8 + 12 + payload
        for i in range(flows):
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xB8, 20 + ulen, 0, 0x4000, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))  # fmt: skip
            ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
            udp = struct.pack("!HHHH", 20000 + 2 * i, 30000 + 2 * i, ulen, 0)
            self.heads.append(MAC_B + MAC_A + b"\x08\x00" + ip + udp)
        self.next = 0

    def frame(self) -> bytes:
        i = self.next
        self.next = (i + 1) % len(self.heads)
        seq_ts = self.state[i]
        seq_ts[0] = (seq_ts[0] + 1) & 0xFFFF
        seq_ts[1] = (seq_ts[1] + 160) & 0xFFFFFFFF
        rtp = struct.pack("!BBHII", 0x80, 0, seq_ts[0], seq_ts[1], 0x1000 + i)
        return self.heads[i] + rtp + self.payload


def mix_rtp(sip_file: Path, out: Path, packets: int, size: int) -> tuple[int, int, int]:
    """Interleave RTP frames into the SIP capture; returns (sip, rtp, bytes)."""
    records = list(_pcap_records(sip_file))
    sip_bytes = sum(len(d) + 16 for _, d in records)
    rtp_count = max(packets - len(records), 0)
    per_rtp = (size - sip_bytes - 24) / rtp_count if rtp_count else 0
    flows = RtpFlows(payload=max(int(per_rtp) - 16 - 42 - 12, 20))
    written = 0
    with open(out, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        budget = 0.0
        per_sip = rtp_count / max(len(records), 1)
        for n, (ts, data) in enumerate(records):
            fh.write(struct.pack("<IIII", int(ts), int(ts % 1 * 1e6), len(data), len(data)) + data)
            nxt = records[n + 1][0] if n + 1 < len(records) else ts + 0.001
            budget += per_sip
            k = int(budget)
            budget -= k
            for j in range(k):
                t = ts + (nxt - ts) * (j + 1) / (k + 1)
                frame = flows.frame()
                fh.write(struct.pack("<IIII", int(t), int(t % 1 * 1e6), len(frame), len(frame)))
                fh.write(frame)
                written += 1
    return len(records), written, out.stat().st_size


def _pcap_records(path: Path) -> list[tuple[float, bytes]]:
    data = path.read_bytes()
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    scale = 1e-6
    if data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        scale = 1e-9
    pos, out = 24, []
    while pos + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack_from(endian + "IIII", data, pos)
        out.append((sec + frac * scale, data[pos + 16 : pos + 16 + caplen]))
        pos += 16 + caplen
    return out


# --- measuring --------------------------------------------------------------------------

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, path = sys.argv[1], sys.argv[2]
jobs = sys.argv[3] if len(sys.argv) > 3 else "1"
ports = (5060, 5062)
t, c = time.perf_counter(), time.process_time()
workers_kib = 0
if mode == "analyze":
    from ecc_doctor.captures.sip.analyze import analyze_file
    result = analyze_file(
        path, engine="scapy", rules=("register", "prack"), ports=ports,
        jobs=jobs if jobs == "auto" else int(jobs),
        ladders=False,  # as the analyze command runs it (it shows no ladders)
    )
    info = {"messages": result.to_dict().get("messages"), "status": str(result.status),
            "jobs": 1 + len(result.workers_peak_kib)}
    workers_kib = sum(result.workers_peak_kib)
elif mode == "reader":
    from ecc_doctor.captures.reader import PcapEngine
    info = {"records": sum(1 for _ in PcapEngine().sip(Path(path), ports))}
elif mode == "pyshark":
    import pyshark
    cap = pyshark.FileCapture(path, display_filter="sip", keep_packets=False)
    info = {"sip": sum(1 for _ in cap)}
    cap.close()
seconds, cpu = time.perf_counter() - t, time.process_time() - c
kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the --jobs workers, joined by now
cpu += kids.ru_utime + kids.ru_stime
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"seconds": seconds, "cpu": cpu, "hwm_kib": hwm + workers_kib, **info}))
"""


#: the interpreter that runs ecc-doctor's measured children (--python)
PYTHON = sys.executable


def interpreter(python: str) -> str:
    """*python*'s version and build, as far as it tells: CPython's speed depends on
    profile-guided and link-time optimisation (configure --enable-optimizations,
    --with-lto) and on libpython being part of the executable (a shared libpython costs an
    indirection per C call). pyenv builds neither optimisation unless asked to
    (PYTHON_CONFIGURE_OPTS), and links libpython as a shared library with --enable-shared;
    a distribution's python3 is usually built with PGO by its own build scripts, which
    ``CONFIG_ARGS`` does not show."""
    probe = (
        "import sys, sysconfig\n"
        "a = sysconfig.get_config_var('CONFIG_ARGS') or ''\n"
        "maps = open('/proc/self/maps').read()\n"
        "print(sys.version.split()[0], sys.executable,\n"
        "      'shared' if 'libpython' in maps else 'static',\n"
        "      '--enable-optimizations' in a, '--with-lto' in a)\n"
    )
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    version, path, libpython, pgo, lto = out.stdout.split()
    return (
        f"Python {version} ({path}; libpython {libpython}; configure "
        f"--enable-optimizations: {pgo}, --with-lto: {lto})"
    )


def package_build(python: str) -> str:
    """Which ecc-doctor build *python* runs: compiled by mypyc (a ``pip install .`` wheel,
    see hatch_build.py) or the Python source (an editable install, or ECC_DOCTOR_COMPILE=0)."""
    probe = "import ecc_doctor.captures.sip.message as m; print(m.__file__)"
    where = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    kind = "Python source" if where.endswith(".py") else "compiled by mypyc"
    return f"{kind} ({Path(where).parent.parent.parent})"


def run_measured(
    args: list[str], ok_codes: tuple[int, ...] = (0,)
) -> tuple[float, float, str, float]:
    """(wall seconds, peak RSS MiB, stdout, CPU seconds) of a child process.

    The peak is the child's own VmHWM, polled from /proc while it runs: ``ru_maxrss`` from
    ``wait4`` would include the parent's size, which Linux carries over fork+exec.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _hwm_kib(proc.pid))
        time.sleep(0.05)
    reader.join()
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # only this child: children waited for earlier (sipp, tcpdump, editcap) are subtracted
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    if proc.returncode not in ok_codes:
        raise RuntimeError(f"{args[0]} {args[1:3]} failed with {proc.returncode}")
    return wall, peak / 1024, b"".join(chunks).decode(), cpu


def _hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def python_child(
    mode: str, path: Path, repeat: int = 1, jobs: str = "1"
) -> tuple[float, float, dict[str, object], float]:
    """(seconds of work, peak RSS MiB, info, CPU seconds of the same work): the fastest of
    *repeat* runs (peak RSS: the largest; with *jobs*, the sum over the processes)."""
    best: tuple[float, float, dict[str, object], float] | None = None
    peak = 0.0
    for _ in range(max(repeat, 1)):
        _, rss, out, _ = run_measured([PYTHON, "-c", CHILD, mode, str(path), jobs])
        info = json.loads(out.strip().splitlines()[-1])
        rss = max(rss, int(info.pop("hwm_kib")) / 1024)
        peak = max(peak, rss)
        run = (float(info.pop("seconds")), rss, info, float(info.pop("cpu")))
        if best is None or run[0] < best[0]:
            best = run
    assert best is not None
    return best[0], peak, best[2], best[3]


def command_child(path: Path, report: Path, repeat: int = 1) -> tuple[float, float, float]:
    """The command as a user types it, JSON report included: (wall seconds incl. start-up,
    peak RSS MiB of the command's own process, CPU seconds incl. its --jobs workers), the
    fastest run. Exit 1 is a verdict (the file has FAIL flows), not a failure."""
    args = [
        PYTHON, "-m", "ecc_doctor", "analyze", str(path), "--ports", "5060,5062",
        "--format", "json", "--json", str(report),
    ]  # fmt: skip
    runs = [run_measured(args, ok_codes=(0, 1)) for _ in range(max(repeat, 1))]
    wall, _, _, cpu = min(runs, key=lambda r: r[0])
    return wall, max(r[1] for r in runs), cpu


def tshark_child(path: Path, repeat: int = 1) -> tuple[float, float, str, float]:
    """(wall seconds incl. start-up, peak RSS MiB, stdout, CPU seconds): the fastest run."""
    runs = [
        run_measured([need("tshark"), "-n", "-r", str(path), "-Y", "sip"])
        for _ in range(max(repeat, 1))
    ]
    wall, _, out, cpu = min(runs, key=lambda r: r[0])
    return wall, max(r[1] for r in runs), out, cpu


def count_packets(path: Path) -> int:
    return len(_pcap_records(path)) if path.stat().st_size < 50_000_000 else _count_fast(path)


def _count_fast(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        fh.read(24)
        while True:
            head = fh.read(16)
            if len(head) < 16:
                return n
            fh.seek(struct.unpack("<IIII", head)[2], 1)
            n += 1


def slice_capture(src: Path, dst: Path, packets: int) -> None:
    """The first *packets* of *src*, in its own format (editcap writes pcapng by default,
    and the reader takes another code path for pcapng)."""
    with open(src, "rb") as fh:
        fmt = "pcapng" if fh.read(4) == b"\x0a\x0d\x0d\x0a" else "pcap"
    subprocess.run(
        [need("editcap"), "-F", fmt, "-r", str(src), str(dst), f"1-{packets}"], check=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="seconds of SIPp traffic (default 60)"
    )
    parser.add_argument(
        "--packets", type=int, default=TARGET_PACKETS, help="pad with RTP up to this many packets"
    )
    parser.add_argument(
        "--bytes", type=int, default=TARGET_BYTES, help="and about this many bytes (RTP size)"
    )
    parser.add_argument("--rate", type=int, default=1000, help="calls per second (default 1000)")
    parser.add_argument("--input", type=Path, help="measure this capture instead of building one")
    parser.add_argument("--keep", type=Path, help="keep the built capture in this directory")
    parser.add_argument("--pyshark-slice", type=int, default=20000, help="packets for pyshark")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per measurement, the fastest is reported"
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter that runs ecc-doctor (default: this one); it must have "
        "ecc-doctor installed, e.g. a venv made with it and pip install -e .",
    )
    parser.add_argument(
        "--jobs",
        default="1,auto",
        help="analyze --jobs values to measure, comma list of numbers or auto (default 1,auto)",
    )
    opts = parser.parse_args()
    global PYTHON
    PYTHON = opts.python
    work = Path(tempfile.mkdtemp(prefix="ecc-bench-"))
    os.chmod(work, 0o777)  # tcpdump drops privileges before writing
    try:
        path = opts.input or build(work, opts)
        report(path, work, opts)
        if opts.keep and not opts.input:
            opts.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, opts.keep / path.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build(work: Path, opts: argparse.Namespace) -> Path:
    sip_file, mixed = work / "sip.pcap", work / "sip-rtp.pcap"
    t = time.perf_counter()
    capture_sip(sip_file, opts.seconds, opts.rate)
    sip, rtp, size = mix_rtp(sip_file, mixed, opts.packets, opts.bytes)
    print(
        f"built {mixed.name}: {sip} SIP + {rtp} RTP frames, {size / 1e6:.0f} MB "
        f"in {time.perf_counter() - t:.0f} s ({opts.rate} calls/s for {opts.seconds:g} s)",
        file=sys.stderr,
    )
    return mixed


def machine() -> str:
    """CPU model, count and the load average (others' work on a shared machine)."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} CPUs, Linux {os.uname().release}, load average {load}"


def byte_compile(python: str) -> str:
    """Byte-compile the ecc_doctor package *python* imports, as ``pip install`` does: every
    measured process (and each ``--jobs`` worker) would otherwise compile its modules from
    source when no up-to-date ``__pycache__`` can be written (an editable install run with
    PYTHONDONTWRITEBYTECODE, as on some CI and sandbox machines), about 0.1 s of CPU each."""
    probe = "import ecc_doctor, os; print(os.path.dirname(ecc_doctor.__file__))"
    package = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run([python, "-m", "compileall", "-q", package], check=True)
    return package


def report(path: Path, work: Path, opts: argparse.Namespace) -> None:
    print(f"byte-compiled {byte_compile(PYTHON)}", file=sys.stderr)
    before = machine()
    total = count_packets(path)
    size = path.stat().st_size / 1e6
    rows: list[tuple[str, str, str, str, str]] = []

    def rate(n: int, seconds: float) -> str:
        return f"{n / seconds:,.0f}"

    n = opts.repeat
    job_values = [j.strip() for j in opts.jobs.split(",") if j.strip()]
    analyze_rss: list[float] = []
    for jobs in job_values:
        sec, rss, info, cpu = python_child("analyze", path, n, jobs)
        analyze_rss.append(rss)
        rows.append((f"ecc-doctor analyze --jobs {jobs} (register+prack rules)", rate(total, sec), rate(total, cpu), f"{rss:.0f}", f"{sec:.1f} s wall, {cpu:.1f} s CPU, {info.get('messages')} SIP messages, {info.get('jobs')} process(es)"))  # fmt: skip
    wall, rss, cpu = command_child(path, work / "report.json", n)
    rows.append(("`ecc-doctor analyze FILE --format json --json F` (the command, --jobs auto)", rate(total, wall), rate(total, cpu), f"{rss:.0f} (main process)", f"{wall:.1f} s wall incl. start-up and the JSON report"))  # fmt: skip
    sec, rss, info, cpu = python_child("reader", path, n)
    reader_rss = rss
    rows.append(("ecc-doctor reader only (PcapEngine.sip)", rate(total, sec), rate(total, cpu), f"{rss:.0f}", f"{sec:.1f} s wall, {cpu:.1f} s CPU, {info.get('records')} records"))  # fmt: skip

    wall, rss, out, cpu = tshark_child(path, n)
    rows.append(("tshark -r FILE -Y sip", rate(total, wall), rate(total, cpu), f"{rss:.0f}", f"{wall:.1f} s wall incl. start-up, {out.count(chr(10))} SIP packets"))  # fmt: skip

    try:
        import pyshark  # noqa: F401

        piece = work / "slice.pcap"
        k = min(opts.pyshark_slice, total)
        slice_capture(path, piece, k)
        sec, rss, info, cpu = python_child("pyshark", piece)
        rows.append((f"pyshark FileCapture(display_filter='sip'), first {k:,} packets", rate(k, sec), "(tshark child)", f"{rss:.0f}", f"{sec:.1f} s, {info.get('sip')} SIP packets; RSS without its tshark child"))  # fmt: skip
    except ImportError:
        rows.append(("pyshark", "not installed", "", "", ""))

    flat: list[str] = []
    for label, part in (("1/4", 4), ("1/2", 2)):
        piece = work / f"part{part}.pcap"
        slice_capture(path, piece, total // part)
        a_rss = [python_child("analyze", piece, n, jobs)[1] for jobs in job_values]
        r_rss = python_child("reader", piece, n)[1]
        flat.append(f"| {label} | {total // part:,} | {' | '.join(f'{r:.0f}' for r in a_rss)} | {r_rss:.0f} |")  # fmt: skip
        piece.unlink()
    flat.append(f"| full | {total:,} | {' | '.join(f'{r:.0f}' for r in analyze_rss)} | {reader_rss:.0f} |")  # fmt: skip

    print(f"\nCapture: {total:,} packets, {size:.0f} MB ({path.name}); best of {n} run(s)")  # fmt: skip
    print(f"Interpreter: {interpreter(PYTHON)}")
    print(f"ecc-doctor: {package_build(PYTHON)}")
    print(f"Machine at the start: {before}")
    print(f"Machine at the end: {machine()}\n")
    print("| tool | packets/s (wall) | packets/s (CPU time) | peak RSS (MiB) | notes |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\nMemory flatness (peak RSS in MiB on the first part of the same file):\n")
    print("| part | packets | " + " | ".join(f"analyze --jobs {j}" for j in job_values) + " | reader only |")  # fmt: skip
    print("|---|---:|" + "---:|" * len(job_values) + "---:|")
    print("\n".join(flat))


if __name__ == "__main__":
    main()
