"""Run by test_compiled_build.py, once on the compiled build and once on the source.

Prints one JSON document: which file each hot module was loaded from, and for every capture
given on the command line what ``analyze_file`` makes of it (flows, verdicts, notes, ladders;
the error for a file that is not a capture), with one and two analysis processes, plus the
parse of every SIP message in it and of deterministic mutations of those messages (folded,
duplicated, cut, re-cased and odd header lines), so that the two builds can be compared
value by value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import random
import sys
from pathlib import Path
from typing import Any

from ecc_doctor.captures.mgc.analyze import analyze_file as mgc_analyze
from ecc_doctor.captures.reader import PcapEngine
from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sip.analyze import SipAnalysis, analyze_file, analyze_records
from ecc_doctor.captures.sip.message import ParseFailure, SipMsg, parse
from ecc_doctor.errors import CaptureError

#: header lines put into mutated messages: compact forms, lists, quoting, odd values
ODD_LINES = (
    b"v: SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx, SIP/2.0/TCP fe80::1:5060",
    b"f: <sip:a@h>;tag=1;tag=2",
    b"t: sip:b@h;tag=q",
    b"m: *",
    b"m: <sip:x@[2001:db8::1]>;expires=0, sip:y@h;expires=60",
    b"l: 5",
    b"Content-Length: x",
    b"CSeq: 9 REGISTER",
    b"CSeq: 2147483648 INVITE",
    b"Expires: 0",
    b"Require: 100rel, timer",
    b"k: 100rel",
    b"RSeq: 5",
    b"RAck: 5 1 INVITE",
    b"i: other",
    b'WWW-Authenticate: Digest realm="r, x", nonce="n", stale=TRUE',
    b'Authorization: Digest username="alice", realm="r", nonce="n", uri="sip:r", response="00"',
    b'From: "a\\"b" <sip:a@h>;tag=x',
    b"To:",
    b":x",
    b"X Y: z",
    b'Contact: <sip:a@h>;q=0.5;expires="30"',
    b" \tfolded, more",
)


#: (rules, analysis processes) of each analyze_file run
RUNS = ((("register", "prack"), 1), (("register", "prack"), 2), (("prack",), 1))


def analysis(a: SipAnalysis) -> dict[str, Any]:
    out = a.to_dict()
    out["ladders"] = [[k, [dataclasses.astuple(m) for m in v]] for k, v in a.ladders.items()]
    return out


def message(m: SipMsg | ParseFailure) -> list[Any]:
    if type(m) is ParseFailure:
        return ["unparsed", m.reason]
    assert type(m) is SipMsg
    return [
        m.is_request, m.method, m.status, m.reason, m.ruri,
        {k: m.all(k) for k in sorted(m.headers)}, m.body.hex(), m.problems, m.cseq,
        m.cseq_method, m.call_id, repr(m.from_), repr(m.to), repr(m.top_via),
        repr(m.contacts), m.expires, m.label, m.is_final, m.body_fits,
        sorted(m.options("supported")), sorted(m.options("require")),
    ]  # fmt: skip


def mutated(recs: list[SipMessage], seed: str) -> list[SipMessage]:
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    out = []
    for i in range(min(len(recs), 100) * 5):
        rec = recs[rng.randrange(len(recs))]
        lines = rec.data.split(b"\r\n")
        for _ in range(rng.randint(1, 4)):
            j = rng.randrange(len(lines))
            kind = rng.randrange(8)
            if kind == 0:
                lines.insert(j, lines[rng.randrange(len(lines))])
            elif kind == 1 and len(lines) > 2:
                del lines[j]
            elif kind == 2:
                lines[j] = lines[j].replace(b":", b" :", 1)
            elif kind == 3:
                lines[j] = lines[j] + rng.choice([b',"x,y"', b", <sip:a@b;c=d,e>", b";;", b"<"])
            elif kind == 4:
                lines[j] = rng.choice([lines[j].lower(), lines[j].upper()])
            elif kind == 5:
                lines[j] = rng.choice(ODD_LINES)
            elif kind == 6:
                lines[j] = lines[j][: rng.randrange(len(lines[j]) + 1)]
            else:
                lines[j] = lines[j].replace(b";", b" ; ")
        data = b"\r\n".join(lines)
        if rng.random() < 0.1:
            data = data.replace(b"\r\n", b"\n")
        transport = rng.choice(["UDP", "TCP"])
        out.append(rec._replace(ts=rec.ts + i * 0.001, transport=transport, data=data))
    return out


def main() -> None:
    passwords = dict(line.split(":", 1) for line in Path(sys.argv[1]).read_text().split())
    report: dict[str, Any] = {"modules": {}, "captures": {}}
    for name in sys.argv[2].split(","):
        report["modules"][name] = importlib.import_module(name).__file__
    for path in map(Path, sys.argv[3:]):
        done: dict[str, Any] = {}
        for rules, jobs in RUNS:
            key = f"{'+'.join(rules)} jobs={jobs}"
            try:
                done[key] = analysis(
                    analyze_file(path, rules=rules, passwords=passwords, jobs=jobs)
                )
            except CaptureError as exc:
                done[key] = f"CaptureError: {exc}"
        try:
            done["mgc"] = [repr(flow) for flow in mgc_analyze(path)]
        except CaptureError as exc:
            done["mgc"] = f"CaptureError: {exc}"
        try:
            recs = [r for r in PcapEngine().sip(path, (5060, 5061)) if type(r) is SipMessage]
        except CaptureError:
            recs = []
        if recs:
            done["messages"] = [message(parse(r)) for r in recs]
            odd = mutated(recs, path.name)
            done["mutated messages"] = [message(parse(r)) for r in odd]
            done["mutated analysis"] = analysis(analyze_records(odd, passwords=passwords))
        report["captures"][path.name] = done
    json.dump(report, sys.stdout, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
