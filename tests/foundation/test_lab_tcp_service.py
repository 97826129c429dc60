"""A lab service going down mid-connection ends its connection tasks quietly: no asyncio
"Exception in callback ... CancelledError" traceback on the terminal (dashboard --lab)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ecc_doctor.lab.tcp_service import TcpService

pytestmark = pytest.mark.anyio


async def test_down_with_a_client_mid_read_logs_nothing() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    reading = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reading.set()
        await reader.read(100)  # waits: the client sends nothing

    service = TcpService(handler)
    try:
        port = await service.up()
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.wait_for(reading.wait(), 5)
        await service.down()
        for _ in range(5):  # let the done callbacks of the ended tasks run
            await asyncio.sleep(0.01)
        writer.close()
    finally:
        loop.set_exception_handler(previous)
    assert reported == []
