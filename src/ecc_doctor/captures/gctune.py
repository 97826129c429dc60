"""Fewer cyclic garbage collections while a capture is analysed.

Analysis allocates several small objects per SIP message (parsed headers, name-addrs, ladder
arrows) and keeps thousands of dialogs alive, so CPython's default young-generation threshold
(700 allocations) starts a collection every few messages, and each one walks objects that are
almost all still alive: about a sixth of the analysis time on a SIP-heavy capture
(benchmarks/README.md). Nearly nothing here forms reference cycles, so raising the threshold
while analysing costs little memory. The previous thresholds come back when the last
analysis running in the process ends (the dashboard may run several in threads).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The young-generation threshold while analysing (CPython's default is 700).
ANALYSIS_THRESHOLD = 50_000

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            if _saved[0] and _saved[0] < ANALYSIS_THRESHOLD:
                gc.set_threshold(ANALYSIS_THRESHOLD, *_saved[1:])
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_saved)
