"""Network address text shared by probes, checks and capture analysis."""

from __future__ import annotations


def host_port(host: str, port: int) -> str:
    """``host:port`` as users write it: an IPv6 address in brackets (``[::1]:22``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
