"""Stopping work that a check handed to a thread.

``asyncio.timeout`` cancels a check's coroutine at its next ``await``, but a thread started
with :func:`asyncio.to_thread` (capture analysis, archive parsing) runs on until it is done,
and ``asyncio.run`` waits for it before the process can exit. So the runner opens a
:func:`scope` around each check: a :class:`threading.Event` held in a context variable, set
when the check ends for any reason. ``asyncio.to_thread`` copies the context into the thread,
so long loops there call :func:`raise_if_stopped` now and then (the capture reader does it
for every chunk it reads) and end with :class:`WorkStopped` soon after the check was cut.

Outside a scope (a library caller, a CLI command without the runner) nothing ever stops.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_STOP: ContextVar[threading.Event | None] = ContextVar("ecc_doctor_stop", default=None)


class WorkStopped(Exception):
    """Raised in a worker thread whose check has ended (timed out, cancelled or done)."""


@contextmanager
def scope() -> Iterator[threading.Event]:
    """Run a check inside: threads it starts see the event, which is set when it ends."""
    event = threading.Event()
    token = _STOP.set(event)
    try:
        yield event
    finally:
        event.set()
        _STOP.reset(token)


def stop_requested() -> bool:
    event = _STOP.get()
    return event is not None and event.is_set()


def raise_if_stopped() -> None:
    """Call from long loops in worker threads; cheap enough for once per chunk or record."""
    event = _STOP.get()
    if event is not None and event.is_set():
        raise WorkStopped("the check this work belongs to has ended")
