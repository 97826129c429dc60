"""Instructions per SIP message for ecc-doctor's reader and analyzer, counted by callgrind.

Wall time on a shared or virtual machine drifts by a quarter from run to run, which hides
the 2-5 % a single speed change is worth. An instruction count does not drift: valgrind's
callgrind counts the instructions the interpreter executes, the same for the same code,
input and hash seed, whatever else the machine does. This script counts, on the first
``--packets`` packets of a capture (cut in its own format with ``editcap -F``), in separate
processes under ``valgrind --tool=callgrind`` with ``PYTHONHASHSEED=0``:

- ``start``: the interpreter starting and importing the analyzer (subtracted from the rest);
- ``reader``: ``PcapEngine().sip(...)`` over the slice (reading, framing, duplicates);
- ``analyze``: ``analyze_file(..., jobs=1, ladders=False)``, what ``ecc-doctor analyze``
  runs in one process (reading, parsing, the REGISTER and PRACK rules);

and prints instructions per SIP message for reading and for parsing + rules. Run it before
and after a change (``--src`` points at another checkout's ``src``) to see what the change
is worth. About a minute per stage for 60,000 packets.

Usage: ``.venv/bin/python benchmarks/bench_instructions.py --input /tmp/eccbench/sip-rtp.pcap``
``[--packets 60000] [--ports 5060,5062] [--src OTHER/src]``. Needs valgrind and editcap.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

STAGE = r"""
import sys
from pathlib import Path
stage, path, ports = sys.argv[1], Path(sys.argv[2]), tuple(int(p) for p in sys.argv[3].split(","))
from ecc_doctor.captures.reader import PcapEngine
from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sip.analyze import analyze_file
if stage == "reader":
    n = sum(1 for r in PcapEngine().sip(path, ports) if type(r) is SipMessage)
    print("messages", n)
elif stage == "analyze":
    a = analyze_file(path, rules=("register", "prack"), ports=ports, jobs=1, ladders=False)
    print("messages", a.messages)
"""


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        sys.exit(f"bench_instructions: {tool} is not installed (Debian: valgrind, tshark)")
    return found


def count(stage: str, capture: Path, ports: str, src: Path) -> tuple[int, int]:
    """(instructions, SIP messages) of one stage in its own process under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                need("valgrind"),
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                "-c",
                STAGE,
                stage,
                str(capture),
                ports,
            ],
            env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(src)},
            capture_output=True,
            text=True,
            check=False,
        )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        sys.exit(f"bench_instructions: the {stage} stage failed:\n{proc.stderr[-2000:]}")
    messages = re.search(r"messages (\d+)", proc.stdout)
    return int(found.group(1)), int(messages.group(1)) if messages else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, required=True, help="the capture to slice")
    parser.add_argument("--packets", type=int, default=60_000, help="packets in the slice")
    parser.add_argument("--ports", default="5060,5062", help="SIP ports (comma list)")
    parser.add_argument("--src", type=Path, default=SRC, help="the src folder to measure")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        capture = Path(tmp) / ("slice" + "".join(opts.input.suffixes[-1:]))
        fmt = "pcapng" if opts.input.read_bytes()[:4] == b"\n\r\r\n" else "pcap"
        subprocess.run(
            [need("editcap"), "-F", fmt, "-r", str(opts.input), str(capture), f"1-{opts.packets}"],
            check=True,
        )
        start, _ = count("start", capture, opts.ports, opts.src)
        reader, messages = count("reader", capture, opts.ports, opts.src)
        analyze, analysed = count("analyze", capture, opts.ports, opts.src)
    if not messages or messages != analysed:
        sys.exit(f"bench_instructions: {messages} SIP messages read but {analysed} analysed")
    read = (reader - start) / messages
    total = (analyze - start) / messages
    print(f"{opts.input.name}, first {opts.packets:,} packets ({fmt}): {messages:,} SIP messages")
    print(f"src: {opts.src}\n")
    print("| stage | instructions | per SIP message |")
    print("|---|---:|---:|")
    print(f"| start-up and imports | {start:,} | |")
    print(f"| reading (PcapEngine.sip) | {reader - start:,} | {read:,.0f} |")
    print(f"| parsing + rules | {analyze - reader:,} | {total - read:,.0f} |")
    print(f"| analyze, jobs=1 | {analyze - start:,} | {total:,.0f} |")


if __name__ == "__main__":
    main()
