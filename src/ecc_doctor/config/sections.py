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
            if parse_endpoint(item) is None:
                target = item.partition("=")[2] or item
                if target.count(":") > 1 and not {"[", "]"} & set(target):
                    return (
                        f"extra[{i}]: an IPv6 address needs brackets, as '[addr]:port' "
                        f"(e.g. '[::1]:5061'), got {item!r}"
                    )
                return f"extra[{i}]: expected 'host:port' or 'name=host:port', got {item!r}"
        return None


def parse_endpoint(item: str) -> tuple[str, str, int] | None:
    """``name=host:port`` or ``host:port`` (IPv6 as ``[::1]:22``) -> (name or "", host, port);
    None when malformed: a host with ``[``/``]`` left over or an unbracketed ``:``, a port
    that is not 1-65535 in ASCII digits. The name ends at the first ``=``; a host never
    contains one."""
    name, sep, target = item.partition("=")
    if not sep:
        name, target = "", item
    host, colon, port = target.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    if not colon or not host or "=" in target or "[" in host or "]" in host:
        return None
    if ":" in host and not bracketed:  # "::1:22": the port is ambiguous, write "[::1]:22"
        return None
    if not (port.isascii() and port.isdigit()):  # str.isdigit also takes e.g. Arabic digits
        return None
    if not 0 < int(port) < 65536:
        return None
    return name, host, int(port)


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
