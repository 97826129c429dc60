"""Capture engines, loaded lazily by name (tshark needs the optional extra)."""

from __future__ import annotations

import importlib

from ecc_doctor.captures.records import Engine
from ecc_doctor.errors import ConfigError

ENGINES = {
    "scapy": "ecc_doctor.captures.reader:PcapEngine",
    "tshark": "ecc_doctor.captures.tshark_engine:TsharkEngine",
}


def get_engine(name: str = "scapy") -> Engine:
    """Instantiate engine *name*; ConfigError says what to install when it is missing."""
    try:
        target = ENGINES[name]
    except KeyError:
        raise ConfigError(
            f"unknown capture engine {name!r} (known: {', '.join(ENGINES)})"
        ) from None
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = (
            " (pip install 'ecc-doctor[tshark]' and the tshark program)" if name == "tshark" else ""
        )
        raise ConfigError(f"capture engine {name!r} is not available: {exc}{extra}") from exc
    engine: Engine = getattr(module, cls_name)()
    return engine
