"""[mgc]: an H.248 gateway's MGC list and recovery timers (and how to judge a capture of it).

Values marked *uncertain* come from recall, not from a vendor document (PROTOCOLS.md §6):
the reset-times defaults, the ports 2945/1039 and the 10 s retry interval. Verify them on the
gateway (``show mgc list``) and set them here. ``link_loss_delay_min`` is CM's Link Loss Delay
Timer (documented: 1-30 min, default 5), set on CM, not on the gateway.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.config.schema import setting

MAX_CONTROLLERS = 4


def split_entry(item: str) -> tuple[str, str]:
    """``"PE=10.0.0.10"`` -> ("PE", "10.0.0.10"); a bare address has no name."""
    name, sep, address = item.partition("=")
    if not sep:
        return "", item.strip()
    return name.strip(), address.strip()


def is_address(text: str) -> bool:
    """True for an IPv4/IPv6 address (an MGC list holds addresses, not host names)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class MgcConfig:
    """[mgc]: the gateway's controller list and reset-times, and a capture to judge."""

    controllers: list[str] = setting(
        factory=list,
        doc="MGC list in order (first is the primary), at most 4; 'name=address' labels an entry",
        example=["PE=10.0.0.10", "CLAN=10.0.0.11", "ESS=10.0.1.10", "LSP=10.0.2.10"],
    )
    transition_point: int = setting(
        1,
        doc="entries 1..N are searched first, the rest after primary-search (default uncertain)",
        min=1,
        max=4,
    )
    primary_search_min: int = setting(
        1, doc="primary-search timer, minutes (default uncertain)", min=1, max=60
    )
    total_search_min: int = setting(
        30,
        doc="total-search timer, minutes; then the gateway resets (default uncertain)",
        min=1,
        max=60,
    )
    link_loss_delay_min: int = setting(
        5,
        doc="CM's Link Loss Delay Timer, minutes: how long CM keeps the gateway's calls after "
        "it detects the link loss (a CM setting, not in the gateway text; documented default 5)",
        min=1,
        max=30,
    )
    capture: Path | None = setting(
        None, doc="capture file with the gateway's traffic (mgc.failover)"
    )
    gateway_text: Path | None = setting(
        None,
        doc="file with the gateway's 'show mgc list' output or 'set mgc list'/'set reset-times' "
        "commands; overrides controllers and the timers",
    )
    gateway: str = setting(
        "", doc="the gateway's IP address in captures (empty: inferred from the capture)"
    )
    sls: bool = setting(
        False, doc="G450 Standard Local Survivability enabled (the 5th, in-gateway entry)"
    )
    retry_interval_s: float = setting(
        10.0, doc="seconds between registration attempts (uncertain: 'about 10 s')", min=1, max=120
    )
    tolerance_s: float = setting(
        3.0,
        doc="allowed deviation of attempt times from the expected timeline, seconds",
        min=0,
        max=60,
    )
    port: int = setting(
        2945, doc="H.248 signalling port, unencrypted (uncertain)", min=1, max=65535
    )
    tls_port: int = setting(1039, doc="H.248 signalling port, TLS (uncertain)", min=1, max=65535)
    udp_port: int = setting(2944, doc="text MEGACO port over UDP/TCP (H.248.1)", min=1, max=65535)
    detection_min_s: float = setting(
        40.0, doc="earliest detection of a silent H.248 link loss, seconds", min=0, max=600
    )
    detection_max_s: float = setting(
        60.0, doc="latest detection of a silent H.248 link loss, seconds", min=0, max=600
    )
    reset_gap_s: float = setting(
        60.0,
        doc="silence after total-search that counts as the gateway's reset (uncertain)",
        min=1,
        max=3600,
    )
    engine: str = setting("scapy", doc="capture engine", choices=("scapy", "tshark"))

    def validate(self) -> str | None:
        """Cross-field rules; one 'key: expected ..., got ...' line or None."""
        return (
            validate_values(
                [split_entry(c)[1] for c in self.controllers],
                self.transition_point,
                self.primary_search_min,
                self.total_search_min,
                need_list=self.gateway_text is None,
            )
            or self._validate_misc()
        )

    def _validate_misc(self) -> str | None:
        if self.gateway and not is_address(self.gateway):
            return f"gateway: expected an IPv4/IPv6 address, got {self.gateway!r}"
        if self.detection_min_s > self.detection_max_s:
            return (
                f"detection_min_s: expected at most detection_max_s ({self.detection_max_s:g}), "
                f"got {self.detection_min_s:g}"
            )
        return None


def validate_values(
    addresses: list[str], tp: int, primary: int, total: int, *, need_list: bool = True
) -> str | None:
    """The MGC-list rules shared by [mgc] and the gateway-text parser."""
    if need_list and not addresses:
        return "controllers: expected 1 to 4 addresses (or gateway_text), got none"
    if len(addresses) > MAX_CONTROLLERS:
        return (
            f"controllers: expected at most {MAX_CONTROLLERS} entries (the G450's 5th slot is "
            f"SLS: set sls = true), got {len(addresses)}"
        )
    for i, address in enumerate(addresses):
        if not is_address(address):
            return f"controllers[{i}]: expected an IPv4/IPv6 address, got {address!r}"
    if len(set(addresses)) != len(addresses):
        return "controllers: expected distinct addresses, got a duplicate"
    if addresses and tp > len(addresses):
        return f"transition_point: expected 1 to {len(addresses)} (the list length), got {tp}"
    if total < primary:
        return f"total_search_min: expected at least primary_search_min ({primary}), got {total}"
    return None
