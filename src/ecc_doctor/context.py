"""What a check receives: the site config, its time budget, and transcript/result helpers."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecc_doctor.config import SiteConfig
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.secrets import redact
from ecc_doctor.transcript import Transcript


@dataclass
class CheckContext:
    """Handed to ``check(ctx)``. Checks build results with :meth:`result`.

    Transcripts opened with :meth:`transcript` travel with the result, also when the check
    raises or times out, so an engineer can see what was said on the wire.
    """

    check_id: str
    config: SiteConfig
    timeout_s: float
    title: str = ""
    source: str = ""
    transcripts: list[Transcript] = field(default_factory=list)
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def section(self, name: str) -> Any:
        """The config section *name* (checks only run when their NEEDS are present)."""
        return self.config.section(name)

    @property
    def connect_timeout(self) -> float:
        return min(self.config.timeouts.connect, max(self.remaining(), 0.1))

    def remaining(self) -> float:
        """Seconds left before the runner cuts this check off."""
        return self._deadline - time.monotonic()

    def transcript(self, title: str) -> Transcript:
        """A new transcript for one probe session, attached to this check's result."""
        t = Transcript(title)
        self.transcripts.append(t)
        return t

    def result(
        self,
        status: Status,
        summary: str,
        *,
        details: Sequence[str] = (),
        metrics: Mapping[str, float] | None = None,
        evidence: Sequence[Evidence] = (),
        check_id: str | None = None,
    ) -> Result:
        """A Result for this check (duration, start time and transcripts filled by the runner)."""
        return Result(
            check_id=check_id or self.check_id,
            status=status,
            summary=redact(" ".join(summary.split())),
            details=tuple(redact(d) for d in details),
            metrics=dict(metrics or {}),
            evidence=tuple(evidence),
            title=self.title,
            source=self.source,
        )
