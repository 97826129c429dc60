"""What analyzers report: flows (a registration, a call, a gateway failover) with findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecc_doctor.models import Finding, Status


@dataclass(frozen=True)
class Flow:
    """One analyzed flow and its verdict.

    ``kind`` is ``register``, ``invite`` or ``mgc-failover``; ``key`` identifies the flow
    (Call-ID + AOR, or the gateway address); ``status`` is the worst finding's severity
    (PASS when there is none).
    """

    # FlowDraft.build (sip/common.py) passes the fields by position: keep it in step
    kind: str
    key: str
    status: Status
    summary: str
    findings: tuple[Finding, ...] = ()
    call_id: str = ""
    aor: str = ""
    frames: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "key": self.key,
            "status": self.status.value,
            "summary": self.summary,
            "call_id": self.call_id,
            "frames": list(self.frames),
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.aor:
            data["aor"] = self.aor
        return data
