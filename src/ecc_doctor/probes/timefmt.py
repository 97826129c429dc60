"""How probes write a time limit in a message (one rule for every probe)."""

from __future__ import annotations


def seconds(value: float) -> str:
    """A time limit for a message: ``9.99998`` -> ``10``, ``0.25`` -> ``0.25``."""
    return f"{round(value, 2):g}"
