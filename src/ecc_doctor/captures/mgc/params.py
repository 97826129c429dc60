"""MgcParams: everything the failover model needs, from [mgc], the gateway's text, or both.

Uncertain defaults (PROTOCOLS.md §6, RECALL): transition-point 1, primary-search 1 min,
total-search 30 min, retry every 10 s, H.248 on TCP 2945 (TLS 1039). They are listed in
:data:`UNCERTAIN` and every output that relies on one says so.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecc_doctor.config.mgc import MgcConfig, split_entry, validate_values
from ecc_doctor.errors import ConfigError

#: Defaults taken from recall, not from a vendor document: key -> why it is uncertain.
UNCERTAIN: dict[str, str] = {
    "transition_point": "default 1 is RECALL (set reset-times transition-point)",
    "primary_search_min": "default 1 min is RECALL (set reset-times primary-search)",
    "total_search_min": "default 30 min is RECALL (set reset-times total-search)",
    "retry_interval_s": "10 s between attempts is from the SIP Adventures article ('about')",
    "port": "TCP 2945 for unencrypted H.248 is RECALL (CM port matrix not checked)",
    "tls_port": "TCP 1039 for H.248 over TLS is RECALL (CM port matrix not checked)",
    "reset_gap_s": "60 s of silence taken as the gateway's reset/reboot is INFERRED",
}

SLS_ADDRESS = "sls"


def normalize_address(text: str) -> str:
    """An IP address as captures print it (``2001:DB8:0::1`` -> ``2001:db8::1``); other text
    (a name, ``sls``) unchanged."""
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        return text


@dataclass(frozen=True)
class Controller:
    """One MGC-list entry. ``entry`` is its 1-based position; SLS lives inside the gateway."""

    entry: int
    address: str
    name: str = ""
    internal: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", normalize_address(self.address))

    @property
    def label(self) -> str:
        """``PE 10.0.0.10`` or ``#1 10.0.0.10``; SLS is ``SLS (in gateway)``."""
        if self.internal:
            return "SLS (in gateway)"
        return f"{self.name or f'#{self.entry}'} {self.address}"

    @property
    def short(self) -> str:
        return self.name or (self.address if not self.internal else "SLS")


@dataclass(frozen=True)
class MgcParams:
    """The gateway's MGC list, reset-times and how strictly to judge a capture.

    >>> p = MgcParams.of(["10.0.0.1", "10.0.0.2", "10.0.0.3"], transition_point=2)
    >>> [c.address for c in p.above], [c.address for c in p.below]
    (['10.0.0.1', '10.0.0.2'], ['10.0.0.3'])
    """

    controllers: tuple[Controller, ...]
    transition_point: int = 1
    primary_search_min: int = 1
    total_search_min: int = 30
    link_loss_delay_min: int = 5  # CM's Link Loss Delay Timer ([DOC] 1-30 min, default 5)
    retry_interval_s: float = 10.0
    tolerance_s: float = 3.0
    port: int = 2945
    tls_port: int = 1039
    udp_port: int = 2944
    gateway: str = ""
    sls: bool = False
    detection_min_s: float = 40.0
    detection_max_s: float = 60.0
    reset_gap_s: float = 60.0
    origin: str = "defaults"
    assumed: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.gateway:
            object.__setattr__(self, "gateway", normalize_address(self.gateway))

    @classmethod
    def of(cls, controllers: list[str], **kw: object) -> MgcParams:
        """Params from 'address' or 'name=address' strings (validated)."""
        entries = tuple(
            Controller(i + 1, addr, name)
            for i, (name, addr) in enumerate(split_entry(c) for c in controllers)
        )
        params = cls(controllers=entries, **kw)  # type: ignore[arg-type]
        params.check()
        return params

    def check(self, source: str = "mgc") -> None:
        """Raise ConfigError for an impossible list or timers."""
        if not 1 <= self.primary_search_min <= 60 or not 1 <= self.total_search_min <= 60:
            bad = (
                "primary_search_min"
                if not 1 <= self.primary_search_min <= 60
                else "total_search_min"
            )
            raise ConfigError(
                f"{source}: {bad}: expected minutes from 1 to 60, got {getattr(self, bad)}"
            )
        problem = validate_values(
            [c.address for c in self.wire_entries],
            self.transition_point,
            self.primary_search_min,
            self.total_search_min,
        )
        if problem:
            raise ConfigError(f"{source}: {problem}")
        if not 1 <= self.link_loss_delay_min <= 30:
            raise ConfigError(
                f"{source}: link_loss_delay_min: expected minutes from 1 to 30, "
                f"got {self.link_loss_delay_min}"
            )

    @property
    def wire_entries(self) -> tuple[Controller, ...]:
        """The controllers reached over the network (SLS excluded)."""
        return tuple(c for c in self.controllers if not c.internal)

    @property
    def entries(self) -> tuple[Controller, ...]:
        """The search order: the list, plus SLS as the last entry when enabled."""
        if self.sls and not any(c.internal for c in self.controllers):
            sls = Controller(len(self.controllers) + 1, SLS_ADDRESS, "SLS", internal=True)
            return (*self.controllers, sls)
        return self.controllers

    @property
    def above(self) -> tuple[Controller, ...]:
        return self.entries[: self.transition_point]

    @property
    def below(self) -> tuple[Controller, ...]:
        return self.entries[self.transition_point :]

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys((self.port, self.tls_port, self.udp_port)))

    @property
    def primary_search_s(self) -> float:
        return self.primary_search_min * 60.0

    @property
    def total_search_s(self) -> float:
        return self.total_search_min * 60.0

    @property
    def link_loss_delay_s(self) -> float:
        return self.link_loss_delay_min * 60.0

    def by_address(self, address: str) -> Controller | None:
        for c in self.controllers:
            if c.address == address:
                return c
        return None

    def replace(self, **changes: object) -> MgcParams:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def from_config(
    cfg: MgcConfig,
    source: str = "[mgc]",
    explicit: frozenset[str] = frozenset(),
    base_dir: Path | None = None,
) -> MgcParams:
    """Params from a validated [mgc] section, with its ``gateway_text`` applied.

    *explicit* names the keys the file set (the others are listed as assumed); a relative
    ``gateway_text`` is read beside the site file (*base_dir*, else the file in *source*).
    """
    params = _section_params(cfg, source).replace(
        assumed=tuple(k for k in UNCERTAIN if k not in explicit)
    )
    if cfg.gateway_text is None:
        return params
    from ecc_doctor.captures.mgc.gateway_text import apply_gateway_text, read_gateway_text

    text = read_gateway_text(_beside(cfg.gateway_text, source, base_dir))
    return apply_gateway_text(params, text)


def _beside(path: Path, source: str, base_dir: Path | None) -> Path:
    if path.is_absolute():
        return path
    if base_dir is None:
        site = Path(source.removesuffix(" [mgc]"))
        base_dir = site.parent if site.is_file() else None
    return base_dir / path if base_dir is not None else path


def _section_params(cfg: MgcConfig, source: str) -> MgcParams:
    return (
        MgcParams.of(
            cfg.controllers,
            transition_point=cfg.transition_point,
            primary_search_min=cfg.primary_search_min,
            total_search_min=cfg.total_search_min,
            **_timing(cfg),
            origin=source,
        )
        if cfg.controllers
        else _no_list(cfg, source)
    )


def _no_list(cfg: MgcConfig, source: str) -> MgcParams:
    # gateway_text will supply the list; keep the other settings
    return MgcParams(
        controllers=(),
        transition_point=1,
        primary_search_min=cfg.primary_search_min,
        total_search_min=max(cfg.total_search_min, cfg.primary_search_min),
        **_timing(cfg),
        origin=source,
    )


def _timing(cfg: MgcConfig) -> dict[str, Any]:
    """The [mgc] settings beyond the list and the reset-times (ports, gateway, tolerances,
    CM's Link Loss Delay Timer: a CM setting the gateway text never holds)."""
    return {
        "link_loss_delay_min": cfg.link_loss_delay_min,
        "retry_interval_s": cfg.retry_interval_s,
        "tolerance_s": cfg.tolerance_s,
        "port": cfg.port,
        "tls_port": cfg.tls_port,
        "udp_port": cfg.udp_port,
        "gateway": cfg.gateway,
        "sls": cfg.sls,
        "detection_min_s": cfg.detection_min_s,
        "detection_max_s": cfg.detection_max_s,
        "reset_gap_s": cfg.reset_gap_s,
    }


def load_params(config_path: Path | None = None, gateway_text: Path | None = None) -> MgcParams:
    """Params from a site file's [mgc], a gateway text file, or both (the text wins).

    Raises ConfigError (one line naming the file and key or line) when neither is usable.
    """
    from ecc_doctor.captures.mgc.gateway_text import apply_gateway_text, read_gateway_text

    base: MgcParams | None = None
    if config_path is not None:
        base = _from_site_file(config_path)
    if gateway_text is None:
        if base is None:
            raise ConfigError("give a site file with an [mgc] section or the gateway's text")
        return base
    return apply_gateway_text(base, read_gateway_text(gateway_text))


def _from_site_file(path: Path) -> MgcParams:
    import tomllib

    from ecc_doctor import config as site

    cfg = site.load(path, require_files=False)  # the [mgc] section only
    if cfg.mgc is None:
        raise ConfigError(f"{path}: no [mgc] section")
    raw = tomllib.loads(path.read_text(encoding="utf-8")).get("mgc", {})
    explicit = frozenset(k.replace("-", "_") for k in raw)
    return from_config(cfg.mgc, f"{path} [mgc]", explicit, base_dir=path.parent)
