"""Results and their parts: Status, Result, Evidence, Finding."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class Status(enum.StrEnum):
    """Outcome of one check. Order matters: later is worse (used for roll-ups)."""

    PASS = "PASS"
    SKIP = "SKIP"
    WARN = "WARN"
    FAIL = "FAIL"
    ERROR = "ERROR"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def symbol(self) -> str:
        """A marker readable without colour."""
        return _SYMBOL[self]

    @classmethod
    def worst(cls, statuses: Sequence[Status]) -> Status:
        """The worst of several statuses (PASS for none)."""
        return max(statuses, key=lambda s: s.severity, default=cls.PASS)


_SEVERITY = {Status.PASS: 0, Status.SKIP: 1, Status.WARN: 2, Status.FAIL: 3, Status.ERROR: 4}
_SYMBOL = {
    Status.PASS: "✓",
    Status.SKIP: "-",
    Status.WARN: "!",
    Status.FAIL: "✗",
    Status.ERROR: "E",
}


@dataclass(frozen=True)
class Evidence:
    """Something a result shows as proof: a transcript, a table, a ladder or plain text.

    ``kind`` is one of ``transcript``, ``table``, ``text``, ``ladder``. For tables, ``columns``
    names the columns and ``rows`` holds the cells; the others use ``lines``.
    """

    title: str
    kind: str = "text"
    lines: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"title": self.title, "kind": self.kind}
        if self.kind == "table":
            data["columns"] = list(self.columns)
            data["rows"] = [list(r) for r in self.rows]
        else:
            data["lines"] = list(self.lines)
        return data

    @classmethod
    def table(
        cls, title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
    ) -> Evidence:
        return cls(
            title=title,
            kind="table",
            columns=tuple(columns),
            rows=tuple(tuple(str(c) for c in r) for r in rows),
        )

    @classmethod
    def text(cls, title: str, lines: Sequence[str] | str) -> Evidence:
        seq = lines.splitlines() if isinstance(lines, str) else lines
        return cls(title=title, kind="text", lines=tuple(seq))


@dataclass(frozen=True)
class Finding:
    """One verdict of a capture analyzer: a rule broken (or noted) at some frames."""

    rule: str
    severity: Status
    message: str
    frames: tuple[int, ...] = ()
    reference: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "frames": list(self.frames),
            "message": self.message,
            "reference": self.reference,
        }


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Result:
    """What one check found.

    >>> Result("net.reachability", Status.PASS, "3 endpoints answer").status
    <Status.PASS: 'PASS'>
    """

    check_id: str
    status: Status
    summary: str
    details: tuple[str, ...] = ()
    duration_s: float = 0.0
    metrics: Mapping[str, float] = field(default_factory=dict)
    evidence: tuple[Evidence, ...] = ()
    started_at: datetime = field(default_factory=_now)
    title: str = ""
    source: str = ""

    @property
    def area(self) -> str:
        """The system the check belongs to: the part of the id before the first dot."""
        return self.check_id.split(".", 1)[0]

    def replace(self, **changes: Any) -> Result:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.check_id,
            "title": self.title,
            "source": self.source,
            "status": self.status.value,
            "summary": self.summary,
            "details": list(self.details),
            "duration_s": round(self.duration_s, 3),
            "started_at": self.started_at.isoformat(),
            "metrics": dict(self.metrics),
            "evidence": [e.to_dict() for e in self.evidence],
        }
