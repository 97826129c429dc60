"""The least work a pure-Python SIP analyzer does per message, measured on one capture.

Issue #6 asks for 150,000 packets/s on its SIP-heavy benchmark file (about 5.8 s for 870,000
packets). This script measures, in one process on the same file, how much of that budget
the least conceivable pure-Python work already takes, level by level, each level on top of
the previous one:

0. the file reader's loop with the RTP skip (ecc-doctor's own ``open_capture`` fast lane),
   each plain IPv4/UDP SIP datagram handed to a callback that does nothing;
1. the datagram's payload copied out of the read buffer;
2. its header block split into lines and a dict of header values built through a memo of
   whole lines (the trick ecc-doctor's parser uses), nothing checked;
3. Call-ID, CSeq and the top Via read from that dict, and one update of a per-call table.

A real analysis does much more per message than level 3: start lines, tags and Via
parameters parsed, malformations noted, duplicates and Content-Length checked, the REGISTER
and PRACK state machines, findings and flows. ``--analyze`` also times
``analyze_file(jobs=1)`` in the same run, so the levels and the real thing are compared on
the same machine state (the speed of a virtual machine drifts from run to run).

Usage: ``.venv/bin/python benchmarks/bench_floor.py --input /tmp/eccbench/sip-rtp.pcap``
``[--ports 5060,5062] [--analyze]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

LEVEL = r"""
import sys, time
from pathlib import Path
from ecc_doctor.captures.pcapfile import TAKEN, open_capture
from ecc_doctor.captures.sipframing import SIP_FIRST_BYTES

level, path = int(sys.argv[1]), Path(sys.argv[2])
ports = frozenset(int(p) for p in sys.argv[3].split(","))


class Lines(dict):
    def __missing__(self, line):
        name, _, value = line.partition(":")
        pair = self[line] = (name.strip().lower(), (value.strip(),))
        return pair


lines_memo = Lines()
get_line = lines_memo.__getitem__
calls = {}
count = 0


def take(buf, ip, end, frame, ts):
    global count
    count += 1
    if level == 0:
        return TAKEN
    data = buf[ip + 28 : end]
    if level == 1:
        return TAKEN
    head = data.partition(b"\r\n\r\n")[0]
    headers = dict(map(get_line, head.decode("utf-8", "replace").split("\r\n")[1:]))
    if level == 2:
        return TAKEN
    call_id = headers.get("call-id", ("",))[0]
    key = (headers.get("via", ("",))[0], headers.get("cseq", ("",))[0])
    state = calls.get(call_id)
    if state is None:
        if len(calls) > 20_000:
            calls.clear()
        state = calls[call_id] = set()
    state.add(key)
    return TAKEN


start = time.process_time()
for _ in open_capture(path, None, (ports, SIP_FIRST_BYTES), take):
    pass
print(count, time.process_time() - start)
"""

ANALYZE = r"""
import sys, time
from pathlib import Path
from ecc_doctor.captures.sip.analyze import analyze_file
ports = tuple(int(p) for p in sys.argv[2].split(","))
start = time.process_time()
result = analyze_file(Path(sys.argv[1]), rules=("register", "prack"), ports=ports, jobs=1, ladders=False)
print(result.messages, time.process_time() - start)
"""

NAMES = (
    "0: reader loop + RTP skip, SIP datagram to a no-op callback",
    "1: + payload copied",
    "2: + header lines -> dict (memo of whole lines)",
    "3: + Call-ID/CSeq/Via read, one per-call table update",
)


def run(code: str, *args: str) -> tuple[int, float]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), float(out[1])


def packets(path: Path) -> int:
    sys.path.insert(0, str(SRC))
    from ecc_doctor.captures.pcapfile import open_capture

    return sum(1 for rec in open_capture(path) if type(rec) is tuple)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--input", type=Path, required=True, help="the capture to measure")
    parser.add_argument("--ports", default="5060,5062", help="SIP ports (default 5060,5062)")
    parser.add_argument("--analyze", action="store_true", help="also time analyze_file(jobs=1)")
    args = parser.parse_args()
    if not args.input.is_file():
        sys.exit(f"bench_floor: {args.input} is not a file")
    total = packets(args.input)
    print(f"{args.input}: {total:,} packets; CPU seconds in one process (time.process_time)\n")
    print("| level | SIP messages | CPU s | packets/s |")
    print("|---|---:|---:|---:|")
    for level, name in enumerate(NAMES):
        messages, cpu = run(LEVEL, str(level), str(args.input), args.ports)
        print(f"| {name} | {messages:,} | {cpu:.2f} | {total / cpu:,.0f} |")
    if args.analyze:
        messages, cpu = run(ANALYZE, str(args.input), args.ports)
        print(f"| analyze_file(jobs=1), register + prack rules | {messages:,} | {cpu:.2f} | {total / cpu:,.0f} |")  # fmt: skip
    print(f"\nThe 150,000 packets/s target is {total / 150_000:.1f} s for this file.")


if __name__ == "__main__":
    main()
