"""The analysis raises the GC threshold only while it runs, also when runs overlap."""

from __future__ import annotations

import gc

from ecc_doctor.captures.gctune import ANALYSIS_THRESHOLD, fewer_collections
from ecc_doctor.captures.sip.analyze import analyze_records


def test_threshold_is_raised_while_analysing_and_restored_after() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], ANALYSIS_THRESHOLD)
        with fewer_collections():  # a second analysis in another thread
            pass
        assert gc.get_threshold()[0] == max(before[0], ANALYSIS_THRESHOLD)
    assert gc.get_threshold() == before
    analyze_records(iter(()))
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
