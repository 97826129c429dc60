"""The analysis raises the GC threshold only while it runs, also when runs overlap."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

from ecc_doctor.captures.gctune import ANALYSIS_THRESHOLD, fewer_collections
from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sip.analyze import analyze_records


def test_analysis_runs_with_the_raised_threshold_and_restores_it() -> None:
    before = gc.get_threshold()
    seen: list[int] = []

    def records() -> Iterator[SipMessage]:
        seen.append(gc.get_threshold()[0])  # read while analyze_records pulls records
        yield from ()

    analyze_records(records())
    assert seen == [max(before[0], ANALYSIS_THRESHOLD)]
    assert gc.get_threshold() == before


def test_overlapping_analyses_in_two_threads_restore_once_both_end() -> None:
    before = gc.get_threshold()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with fewer_collections():
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=other)
    worker.start()
    assert inside.wait(10)
    with fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], ANALYSIS_THRESHOLD)
    # this analysis ended first: the other one still runs with the raised threshold
    assert gc.get_threshold()[0] == max(before[0], ANALYSIS_THRESHOLD)
    release.set()
    worker.join(10)
    assert gc.get_threshold() == before


def test_disabled_gc_is_left_alone() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(0)
        with fewer_collections():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
