"""Work handed to a thread stops when its check ends (timeout), and the capture reader obeys."""

from __future__ import annotations

import asyncio
import struct
import threading
from pathlib import Path

import pytest

from ecc_doctor import cancel
from ecc_doctor.captures.pcapfile import open_capture
from ecc_doctor.checks import CheckSpec
from ecc_doctor.config import from_mapping
from ecc_doctor.context import CheckContext
from ecc_doctor.models import Result, Status
from ecc_doctor.runner import run_checks

CONFIG = from_mapping({"timeouts": {"default": 0.3}}, source="<test>")


@pytest.mark.anyio
async def test_thread_of_a_timed_out_check_stops_soon_after() -> None:
    ended = threading.Event()
    rounds: list[int] = []

    def endless() -> None:
        n = 0
        try:
            while n < 10_000_000:  # bounded: about 50 s, far past the check's 0.3 s
                n += 1
                cancel.raise_if_stopped()
                threading.Event().wait(0.000_005)
        finally:
            rounds.append(n)
            ended.set()

    async def fn(ctx: CheckContext) -> Result:
        await asyncio.to_thread(endless)
        return ctx.result(Status.PASS, "never")

    (result,) = await run_checks([CheckSpec("t.thread", "t", "test", (), fn)], CONFIG)
    assert result.status is Status.ERROR and "timed out after 0.3 s" in result.summary
    assert await asyncio.to_thread(ended.wait, 5.0), "the worker thread did not stop"
    assert rounds and rounds[0] < 10_000_000


def test_outside_a_scope_nothing_stops() -> None:
    assert not cancel.stop_requested()
    cancel.raise_if_stopped()  # no scope: no-op
    with cancel.scope() as event:
        assert not cancel.stop_requested()
        event.set()
        assert cancel.stop_requested()
        with pytest.raises(cancel.WorkStopped):
            cancel.raise_if_stopped()
    assert not cancel.stop_requested()


def _pcap(path: Path, packets: int) -> None:
    frame = bytes(14) + bytes(200)  # payload content is irrelevant: the reader yields records
    rec = struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        fh.write(rec * packets)


def test_capture_reader_stops_at_the_next_chunk_once_stopped(tmp_path: Path) -> None:
    path = tmp_path / "big.pcap"
    _pcap(path, 30_000)  # about 7 MB: several 1 MiB chunks
    with cancel.scope():
        assert sum(1 for _ in open_capture(path)) == 30_000
    read = 0
    with cancel.scope() as event, pytest.raises(cancel.WorkStopped):
        for _ in open_capture(path):
            read += 1
            if read == 100:
                event.set()
    assert 100 <= read < 30_000
