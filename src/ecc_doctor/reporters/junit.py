"""JUnit XML that Jenkins and GitLab accept.

``<testsuites>`` -> one ``<testsuite>`` per area (cm, aes, ecc, presence, sip, mgc, net) ->
``<testcase classname=area name=check-id>``. FAIL -> ``<failure>``, ERROR -> ``<error>``,
SKIP -> ``<skipped>`` (counted on each ``<testsuite>``; the root carries only the attributes
Jenkins' junit-10 schema allows there: name, tests, failures, errors, time); WARN is a passing case with ``WARN:`` in ``<system-out>`` unless
``warn_as`` says ``failure`` or ``skipped``. Evidence goes to ``<system-out>`` with characters
illegal in XML 1.0 removed. Every count attribute is present; ``time`` is ``%.3f``.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.secrets import redact
from ecc_doctor.textsafe import no_surrogates

WARN_AS = ("pass", "failure", "skipped")
_ILLEGAL = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    """Text safe for XML 1.0 (illegal characters removed, bytes of a name that was not
    UTF-8 shown as ``\xe9``) and without secrets."""
    return _ILLEGAL.sub("", no_surrogates(redact(text)))


def evidence_text(result: Result) -> str:
    """The result's details and evidence as plain text."""
    parts: list[str] = []
    if result.details:
        parts += ["details:", *(f"  {d}" for d in result.details)]
    if result.metrics:
        parts += ["metrics:", *(f"  {k} = {v:g}" for k, v in result.metrics.items())]
    for ev in result.evidence:
        parts += [f"--- {ev.title} ({ev.kind}) ---", *_evidence_lines(ev)]
    return "\n".join(parts)


def _evidence_lines(ev: Evidence) -> list[str]:
    if ev.kind != "table":
        return list(ev.lines)
    rows = [ev.columns, *ev.rows]
    widths = [max(len(r[i]) if i < len(r) else 0 for r in rows) for i in range(len(ev.columns))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows]


def _kind(result: Result, warn_as: str) -> str:
    if result.status == Status.WARN:
        return {"pass": "pass", "failure": "failure", "skipped": "skipped"}[warn_as]
    return {
        Status.PASS: "pass",
        Status.FAIL: "failure",
        Status.ERROR: "error",
        Status.SKIP: "skipped",
    }[result.status]


def _case(suite: ET.Element, result: Result, warn_as: str) -> str:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=clean(result.area),
        name=clean(result.check_id),
        time=f"{result.duration_s:.3f}",
    )
    kind = _kind(result, warn_as)
    message = clean(f"{result.status.value}: {result.summary}")
    if kind != "pass":
        child = ET.SubElement(case, kind, message=message)
        if kind != "skipped":
            child.set("type", result.status.value)
            child.text = clean(result.summary)
    out = evidence_text(result)
    if result.status == Status.WARN:
        out = f"WARN: {result.summary}\n{out}"
    if out:
        ET.SubElement(case, "system-out").text = clean(out)
    return kind


def render(
    results: Sequence[Result],
    *,
    warn_as: str = "pass",
    site: str = "",
    hostname: str | None = None,
    timestamp: datetime | None = None,
) -> str:
    """The JUnit XML document as text."""
    if warn_as not in WARN_AS:
        raise ValueError(f"warn_as must be one of {WARN_AS}")
    stamp = (timestamp or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    host = hostname if hostname is not None else socket.gethostname()
    name = site if site.lower().startswith("ecc-doctor") else f"ecc-doctor {site}".strip()
    root = ET.Element("testsuites", name=clean(name))
    areas: dict[str, list[Result]] = {}
    for r in results:
        areas.setdefault(r.area, []).append(r)
    if not areas:  # never an empty suite: say that nothing ran
        areas["ecc-doctor"] = [Result("ecc-doctor.none", Status.SKIP, "no checks were selected")]
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    total_time = 0.0
    for i, (area, group) in enumerate(areas.items()):
        suite = ET.SubElement(root, "testsuite", name=clean(area), id=str(i), package="ecc-doctor")
        suite.set("timestamp", stamp)
        suite.set("hostname", host)
        tally = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
        for r in group:
            kind = _case(suite, r, warn_as)
            tally["tests"] += 1
            if kind == "failure":
                tally["failures"] += 1
            elif kind == "error":
                tally["errors"] += 1
            elif kind == "skipped":
                tally["skipped"] += 1
        # children are written first; attribute order does not matter to consumers
        suite_time = max((r.duration_s for r in group), default=0.0)
        for key, value in tally.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", f"{suite_time:.3f}")
        total_time = max(total_time, suite_time)
    for key, value in totals.items():
        if key != "skipped":  # Jenkins' junit-10 schema allows no "skipped" on the root
            root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
