"""A Session Manager SIP/TCP listener stand-in: an extra endpoint for net.reachability."""

from __future__ import annotations

import asyncio
from typing import Any

from ecc_doctor.lab.base import LabEnv
from ecc_doctor.lab.tcp_service import TcpService


class SmEdgeEmulator:
    """Accepts TCP connections the way a SIP/TCP listener does; answers OPTIONS with 200."""

    name = "sm-edge"
    faults: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._service = TcpService(self._handle)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        except (TimeoutError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            return
        lines = head.decode("latin-1").split("\r\n")
        if lines[0].startswith("OPTIONS "):
            keep = [
                ln
                for ln in lines[1:]
                if ln.split(":")[0].lower() in {"via", "from", "to", "call-id", "cseq"}
            ]
            reply = "SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n"
            writer.write(reply.encode("latin-1"))
            await writer.drain()

    async def start(self, env: LabEnv) -> dict[str, Any]:
        port = await self._service.up()
        return {"net": {"extra": [f"sm-sip-tcp={env.host}:{port}"]}}

    async def stop(self) -> None:
        await self._service.down()

    async def set_fault(self, fault: str, active: bool) -> None:
        raise KeyError(fault)

    async def set_network(self, up: bool) -> None:
        if up:
            await self._service.up()
        else:
            await self._service.down()

    def status(self) -> dict[str, Any]:
        return {"connections": self._service.connections}
