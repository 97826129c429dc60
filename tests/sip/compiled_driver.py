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

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout, for tests.*

from tests.sip.test_sip_parse_equivalence import mutate  # noqa: E402

from ecc_doctor.captures.mgc.analyze import analyze_file as mgc_analyze
from ecc_doctor.captures.reader import PcapEngine
from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sip.analyze import SipAnalysis, analyze_file, analyze_records
from ecc_doctor.captures.sip.message import ParseFailure, SipMsg, parse
from ecc_doctor.errors import CaptureError

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
    """Deterministic mutations of *recs* (the parse equivalence test's, see mutate())."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    out = []
    for i in range(min(len(recs), 100) * 5):
        rec = recs[rng.randrange(len(recs))]
        data = mutate(rec.data, rng)
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
