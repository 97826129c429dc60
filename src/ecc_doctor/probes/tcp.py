"""TCP connect probe: latency of a three-way handshake, errors named as an engineer would."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import time

from ecc_doctor.errors import ConnectError
from ecc_doctor.netaddr import host_port

#: OpenSSL's verify codes for a certificate that is valid but for another name or address
_NAME_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


def describe_cert_error(exc: ssl.SSLCertVerificationError, ca_key: str, host_key: str) -> str:
    """Why a server certificate was refused, pointing at the right fix: the host we were
    given (*host_key*) when the certificate is for another name, else the CA (*ca_key*)."""
    why = exc.verify_message or str(exc.reason or exc)
    if exc.verify_code in _NAME_MISMATCH or "mismatch" in why.lower():
        return (
            f"TLS certificate is not for this host ({why}): check {host_key}, or the names "
            "in the server's certificate"
        )
    return f"TLS certificate not trusted ({why}): check {ca_key}"


def describe_os_error(exc: OSError) -> str:
    """A short, stable name for a socket error: refused, timed out, no route, DNS failure."""
    if isinstance(exc, socket.gaierror):
        return f"DNS failure ({exc.strerror or exc})"
    names = {
        errno.ECONNREFUSED: "connection refused",
        errno.ETIMEDOUT: "timed out",
        errno.EHOSTUNREACH: "no route to host",
        errno.ENETUNREACH: "network unreachable",
        errno.ECONNRESET: "connection reset",
        errno.EADDRNOTAVAIL: "address not available",
    }
    if exc.errno in names:
        return names[exc.errno]
    return exc.strerror or str(exc) or type(exc).__name__


async def connect_latency(host: str, port: int, timeout: float) -> float:
    """Open and close a TCP connection; return the connect time in seconds.

    Raises ConnectError("10.0.0.1:5022: connection refused") and the like.
    """
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError as exc:
        raise ConnectError(f"{host_port(host, port)}: timed out after {timeout:g} s") from exc
    except OSError as exc:
        raise ConnectError(f"{host_port(host, port)}: {describe_os_error(exc)}") from exc
    elapsed = time.perf_counter() - t0
    writer.close()
    # the peer closing first is fine: we only measure the handshake
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    return elapsed
