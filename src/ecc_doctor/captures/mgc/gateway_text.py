"""Read the gateway's own text: ``show mgc list`` output and ``set mgc list``/``set reset-times``.

Accepted lines (a CLI prompt such as ``G450-001(super)#`` in front is ignored)::

    clear mgc list
    set mgc list 10.0.0.10,10.0.0.11,10.0.1.10
    set reset-times transition-point 2      (1-4)
    set reset-times primary-search 10       (1-60 minutes)
    set reset-times total-search 15         (1-60 minutes)
    PRIMARY MGC HOST, Primary Search Time : 1 min(s)     (show mgc list, PROTOCOLS.md §6)
    10.150.9.10          -- Not Available --
    sls disabled | sls enabled

``show recovery`` is not documented publicly; lines like ``Transition Point : 2`` or
``Total Search Time : 30 min(s)`` are read as well. Errors name the file and line.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from ecc_doctor.captures.mgc.params import UNCERTAIN, Controller, MgcParams, normalize_address
from ecc_doctor.config.mgc import MAX_CONTROLLERS, is_address
from ecc_doctor.errors import ConfigError

MAX_TEXT_BYTES = 1_000_000

_PROMPT = re.compile(r"^[\w.-]+(?:\([\w-]+\))?[#>]\s*")
_SET_LIST = re.compile(r"^set\s+mgc\s+list\b\s*(.*)$", re.I)
_CLEAR = re.compile(r"^clear\s+mgc\s+list\b", re.I)
_RESET = re.compile(r"^set\s+reset-times\s+(\S+)\s*(\S*)\s*$", re.I)
_SHOW_PRIMARY = re.compile(
    r"^PRIMARY\s+MGC\s+HOST\b(?:.*?Primary\s+Search\s+Time\s*:\s*(\S+))?", re.I
)
_SECONDARY = re.compile(r"^SECONDARY\s+MGC\s+HOST", re.I)
_SLS = re.compile(r"^sls\s+(enabled|disabled)\b", re.I)
_LOOSE = re.compile(
    r"^(transition[ -]point|primary[ -]search(?:\s+time)?|total[ -]search(?:\s+time)?)\s*[:=]\s*(\S+)",
    re.I,
)
_NOT_AVAILABLE = re.compile(r"--\s*Not\s+Available\s*--", re.I)
MAX_QUOTE = 80  # characters of a bad line or value quoted in an error


def _q(text: str) -> str:
    """*text* quoted for an error message, cut to :data:`MAX_QUOTE` characters."""
    if len(text) <= MAX_QUOTE:
        return repr(text)
    return repr(text[:MAX_QUOTE]) + f"... ({len(text)} characters)"


_TIMERS = {
    "transition-point": ("transition_point", 1, MAX_CONTROLLERS),
    "primary-search": ("primary_search_min", 1, 60),
    "total-search": ("total_search_min", 1, 60),
}


@dataclass
class GatewayText:
    """What a gateway text set; ``lines`` maps each key to the line number that set it."""

    source: str
    addresses: list[str] | None = None
    values: dict[str, int] = field(default_factory=dict)
    sls: bool | None = None
    lines: dict[str, int] = field(default_factory=dict)
    in_show_table: bool = False

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.source}:{line}" if line else self.source


def read_gateway_text(path: Path) -> GatewayText:
    """Parse a gateway text file; ConfigError names the file (and line)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read gateway text: {exc.strerror}") from exc
    if len(raw) > MAX_TEXT_BYTES:
        raise ConfigError(f"{path}: gateway text larger than {MAX_TEXT_BYTES} bytes")
    return parse_gateway_text(raw.decode("utf-8", "replace"), source=str(path))


def parse_gateway_text(text: str, *, source: str = "<gateway text>") -> GatewayText:
    """Parse ``show mgc list`` output and/or ``set ...`` commands."""
    out = GatewayText(source)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        bare = _PROMPT.sub("", stripped)
        if bare != stripped:
            out.in_show_table = False  # a new command: the table (if any) has ended
        _parse_line(out, number, bare)
    if out.addresses is None and not out.values and out.sls is None:
        raise ConfigError(
            f"{source}: no MGC list found (expected 'show mgc list' output or 'set mgc list ...')"
        )
    return out


def _parse_line(out: GatewayText, number: int, line: str) -> None:
    where = f"{out.source}:{number}"
    if not line or line.startswith(("!", "#", "---")):
        return
    if _CLEAR.match(line):
        out.addresses, out.lines["controllers"] = [], number
    elif m := _SET_LIST.match(line):
        out.addresses, out.lines["controllers"] = _address_list(m.group(1), where, line), number
    elif m := _RESET.match(line):
        _set_value(out, number, m.group(1).lower(), m.group(2), line)
    elif m := _SHOW_PRIMARY.match(line):
        out.addresses, out.in_show_table = [], True
        out.lines["controllers"] = number
        if m.group(1) is not None:  # without it primary-search stays as assumed
            _set_value(out, number, "primary-search", m.group(1), line)
    elif _SECONDARY.match(line):
        out.in_show_table = True
    elif m := _SLS.match(line):
        out.sls, out.in_show_table = m.group(1).lower() == "enabled", False
        out.lines["sls"] = number
    elif m := _LOOSE.match(line):
        key = m.group(1).lower().replace(" ", "-").removesuffix("-time")
        _set_value(out, number, key, m.group(2), line)
    elif out.in_show_table:
        _table_row(out, number, line, where)


def _address_list(text: str, where: str, line: str) -> list[str]:
    items = [i for i in re.split(r"[,\s]+", text.strip()) if i]
    if not items:
        raise ConfigError(f"{where}: {_q(line)}: expected at least one controller address")
    if len(items) > MAX_CONTROLLERS:
        raise ConfigError(
            f"{where}: {_q(line)}: {len(items)} controllers, a gateway's MGC list holds at most "
            f"{MAX_CONTROLLERS} (the G450's 5th slot is SLS)"
        )
    for item in items:
        if not is_address(item):
            raise ConfigError(f"{where}: {_q(line)}: {_q(item)} is not an IPv4/IPv6 address")
    items = [normalize_address(i) for i in items]
    if len(set(items)) != len(items):
        raise ConfigError(f"{where}: {_q(line)}: the same address is listed twice")
    return items


def _set_value(out: GatewayText, number: int, name: str, value: str, line: str) -> None:
    where = f"{out.source}:{number}"
    if name not in _TIMERS:
        known = ", ".join(_TIMERS)
        raise ConfigError(f"{where}: {_q(line)}: unknown reset-time {_q(name)} (known: {known})")
    key, lo, hi = _TIMERS[name]
    if not (value.isascii() and value.isdigit()) or len(value) > 3 or not lo <= int(value) <= hi:
        unit = "" if key == "transition_point" else " minutes"
        raise ConfigError(
            f"{where}: {_q(line)}: expected {name} from {lo} to {hi}{unit}, got {_q(value)}"
        )
    out.values[key] = int(value)
    out.lines[key] = number


def _table_row(out: GatewayText, number: int, line: str, where: str) -> None:
    if line.lower().startswith("ipv4 address"):
        return
    cells = _NOT_AVAILABLE.sub("\x00", line).split()  # split on any whitespace (tabs too)
    addresses = [c for c in cells if c != "\x00"]
    if len(cells) > 2 or not all(is_address(c) for c in addresses):
        raise ConfigError(
            f"{where}: {_q(line)}: expected an IPv4 and an IPv6 column, each an address or "
            "'-- Not Available --', in the 'show mgc list' table"
        )
    if not addresses:
        return
    current = out.addresses if out.addresses is not None else []
    if len(current) >= MAX_CONTROLLERS:
        raise ConfigError(f"{where}: more than {MAX_CONTROLLERS} controllers in 'show mgc list'")
    out.addresses = [*current, normalize_address(addresses[0])]


def apply_gateway_text(base: MgcParams | None, text: GatewayText) -> MgcParams:
    """Layer *text* over *base* (an [mgc] section) or over the defaults; validate with lines."""
    params = base or MgcParams(controllers=(), origin=text.source, assumed=tuple(UNCERTAIN))
    changes: dict[str, object] = dict(text.values)
    if text.addresses is not None:
        names = {c.address: c.name for c in params.controllers}
        changes["controllers"] = tuple(
            Controller(i + 1, a, names.get(a, "")) for i, a in enumerate(text.addresses)
        )
    if text.sls is not None:
        changes["sls"] = text.sls
    origin = text.source if base is None else f"{base.origin} + {text.source}"
    assumed = tuple(k for k in params.assumed if k not in text.values)
    merged = dataclasses.replace(params, origin=origin, assumed=assumed, **changes)  # type: ignore[arg-type]
    _check_merged(merged, text)
    return merged


def _check_merged(p: MgcParams, text: GatewayText) -> None:
    n = len(p.controllers)
    if n == 0:
        raise ConfigError(f"{text.where('controllers')}: the MGC list is empty (set mgc list ...)")
    if p.transition_point > n:
        raise ConfigError(
            f"{text.where('transition_point')}: transition-point {p.transition_point} is beyond "
            f"the MGC list ({n} entr{'y' if n == 1 else 'ies'}); expected 1 to {n}"
        )
    if p.total_search_min < p.primary_search_min:
        key = "total_search_min" if "total_search_min" in text.lines else "primary_search_min"
        raise ConfigError(
            f"{text.where(key)}: total-search ({p.total_search_min} min) is shorter than "
            f"primary-search ({p.primary_search_min} min); expected total >= primary"
        )
    p.check(text.source)
