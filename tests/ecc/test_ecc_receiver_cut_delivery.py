"""A delivery cut off mid-body (headers say 500 bytes, 12 arrive, the client hangs) prints
nothing on stderr when the receiver stops (QA 2 #3: uvicorn printed "Exception in ASGI
application" with a CancelledError traceback), and the receiver's events are unaffected.

It runs in a child process: pytest's own logging handler would hide what Python's
last-resort handler prints to a user's stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

SCENARIO = r"""
import asyncio, json
import httpx
from ecc_doctor.config.ecc import EccConfig
from ecc_doctor.probes.ecc_events import EventReceiver
from ecc_doctor.transcript import Transcript

PARTIAL = (
    b"POST /ecc-doctor/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 500\r\n\r\n" + b'{"partial": '
)

async def main() -> None:
    cfg = EccConfig(base_url="https://127.0.0.1:1", callback_host="127.0.0.1")
    transcript = Transcript("events")
    rx = EventReceiver(cfg, transcript)
    await rx.start()
    port = int(rx.url.split(":")[2].split("/")[0])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(PARTIAL)
    await writer.drain()
    # a whole delivery on another connection still arrives (the check is unaffected)
    body = json.dumps({"type": "ACTIVE", "eventBody": {"callEvent": "ACTIVE", "callID": "9"}})
    async with httpx.AsyncClient() as client:
        resp = await client.post(rx.url, content=body.encode())
    assert resp.status_code == 200, resp.status_code
    for _ in range(200):  # bounded: until the half-sent delivery is being read
        if "cut" in transcript.lines[-1] or rx._server._server.server_state.tasks:
            break
        await asyncio.sleep(0.01)
    await rx.stop()  # the half-sent delivery is still open
    await asyncio.sleep(0.2)  # anything the stopped server still logs comes out now
    writer.close()
    assert [e.call_id for e in rx.events] == ["9"], rx.events
    assert rx.deliveries == 1 and rx.unreadable == 0, (rx.deliveries, rx.unreadable)
    print("ok")

asyncio.run(main())
"""


def test_a_half_sent_delivery_leaves_no_traceback(tmp_path: Path) -> None:
    script = tmp_path / "scenario.py"
    script.write_text(SCENARIO, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdin=subprocess.DEVNULL,
    )
    assert proc.stderr == ""
    assert proc.stdout == "ok\n"
    assert proc.returncode == 0
