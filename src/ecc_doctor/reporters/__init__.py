"""Reporters: pure functions of a list of Results, one module each, one registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ecc_doctor.models import Result
from ecc_doctor.reporters import console, json_report, junit

Renderer = Callable[[Sequence[Result]], str]

#: --format name -> renderer (all take the results and return the text to write).
REPORTERS: dict[str, Renderer] = {
    "table": console.render,
    "json": json_report.render,
    "junit": junit.render,
}
