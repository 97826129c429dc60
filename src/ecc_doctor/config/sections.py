"""Site-wide sections: [site], [net], [timeouts]. System sections live in their own modules."""

from __future__ import annotations

from dataclasses import dataclass

from ecc_doctor.config.schema import setting


@dataclass(frozen=True)
class SiteInfo:
    """[site]: who this site is."""

    name: str = setting("site", doc="site name shown in reports and the dashboard header")


@dataclass(frozen=True)
class NetConfig:
    """[net]: extra endpoints for net.reachability."""

    extra: list[str] = setting(
        factory=list,
        doc="extra endpoints to test, as 'host:port' or 'name=host:port'",
        example=["sm1=10.0.0.20:5061"],
    )

    def validate(self) -> str | None:
        for i, item in enumerate(self.extra):
            target = item.split("=", 1)[-1]
            host, sep, port = target.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                return f"extra[{i}]: expected 'host:port' or 'name=host:port', got {item!r}"
        return None


@dataclass(frozen=True)
class TimeoutsConfig:
    """[timeouts]: per-check time limits (seconds), enforced by the runner."""

    default: float = setting(30.0, doc="time limit for one check", min=0.1, max=3600)
    connect: float = setting(5.0, doc="time limit for one TCP/TLS/SSH connect", min=0.1, max=300)
    checks: dict[str, float] = setting(
        factory=dict,
        doc='per-check limits, e.g. "ecc.event-roundtrip" = 60',
        min=0.1,
        max=3600,
    )

    def for_check(self, check_id: str) -> float:
        return self.checks.get(check_id, self.default)
