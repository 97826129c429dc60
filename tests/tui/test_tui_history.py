"""The dashboard's session history model (UI-free)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from ecc_doctor.models import Result, Status
from ecc_doctor.tui import timeline_panel
from ecc_doctor.tui.history import CheckHistory, SessionHistory, format_duration

T0 = datetime(2026, 11, 21, 10, 42, 5, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def res(status: Status, check_id: str = "ecc.event-roundtrip", summary: str = "") -> Result:
    return Result(check_id, status, summary or f"{status.value.lower()} summary")


def test_outage_opens_and_recovers_with_the_issue_wording() -> None:
    h = SessionHistory()
    h.record(res(Status.PASS), at(0))
    h.record(res(Status.FAIL), at(1))
    h.record(res(Status.FAIL), at(31))
    assert h.outages()[0].describe(at(181)) == (
        "ecc.event-roundtrip FAIL since 10:42:06 (3 min), still"
    )
    h.record(res(Status.PASS), at(186))
    (outage,) = h.outages()
    assert not outage.ongoing
    assert outage.describe(at(600)) == (
        "ecc.event-roundtrip FAIL since 10:42:06 (3 min), recovered 10:45:11"
    )


def test_since_only_moves_on_a_status_change() -> None:
    h = CheckHistory("net.reachability")
    assert h.status is None and h.since is None
    assert h.record(res(Status.PASS, "net.reachability"), at(0)) is not None
    assert h.record(res(Status.PASS, "net.reachability"), at(30)) is None
    assert h.since == at(0)
    change = h.record(res(Status.ERROR, "net.reachability"), at(60))
    assert change is not None and (change.old, change.new) == (Status.PASS, Status.ERROR)
    assert h.since == at(60)


def test_fail_then_error_is_one_outage_naming_both() -> None:
    h = SessionHistory()
    h.record(res(Status.FAIL), at(0))
    h.record(res(Status.ERROR, summary="timed out after 30 s"), at(30))
    h.record(res(Status.PASS), at(90))
    (outage,) = h.outages()
    assert outage.statuses == [Status.FAIL, Status.ERROR]
    assert outage.worst is Status.ERROR
    assert outage.summary == "timed out after 30 s"
    assert outage.describe(at(90)).startswith(
        "ecc.event-roundtrip FAIL/ERROR since 10:42:05 (1 min)"
    )


def test_failures_stay_visible_after_their_samples_age_out() -> None:
    h = CheckHistory("aes.dmcc", max_samples=5, max_outages=2)
    h.record(res(Status.FAIL, "aes.dmcc"), at(0))
    for i in range(1, 50):
        h.record(res(Status.PASS, "aes.dmcc"), at(i))
    assert all(s.status is Status.PASS for s in h.samples)
    assert len(h.samples) == 5
    (outage,) = h.outages
    assert outage.start == at(0) and outage.end == at(1)


def test_outage_list_is_bounded_keeping_the_latest() -> None:
    h = CheckHistory("aes.dmcc", max_outages=3)
    for i in range(10):
        h.record(res(Status.FAIL, "aes.dmcc"), at(2 * i))
        h.record(res(Status.PASS, "aes.dmcc"), at(2 * i + 1))
    assert [o.start for o in h.outages] == [at(14), at(16), at(18)]


def test_strip_shows_symbols_oldest_first_and_running() -> None:
    h = CheckHistory("cm.cti-link")
    assert h.strip(4) == "····"
    for status in (Status.PASS, Status.FAIL, Status.ERROR):
        h.record(res(status, "cm.cti-link"), at(0))
    assert h.strip(5) == "··✓✗E"
    h.running = True
    assert h.strip(3) == "✗E…"
    assert h.strip(0) == ""


def test_session_orders_ongoing_first_then_newest_and_counts() -> None:
    h = SessionHistory()
    h.add(["a.one", "b.two", "c.three"])
    h.record(res(Status.FAIL, "a.one"), at(0))
    h.record(res(Status.PASS, "a.one"), at(10))
    h.record(res(Status.ERROR, "b.two"), at(5))
    h.record(res(Status.FAIL, "c.three"), at(20))
    h.record(res(Status.PASS, "c.three"), at(25))
    assert [o.check_id for o in h.outages()] == ["b.two", "c.three", "a.one"]
    assert h.counts() == {Status.PASS: 2, Status.ERROR: 1}
    assert [r.check_id for r in h.results()] == ["a.one", "b.two", "c.three"]
    assert h.changes()[0].check_id == "c.three"


def test_skip_and_pass_do_not_open_outages() -> None:
    h = SessionHistory()
    h.record(res(Status.SKIP), at(0))
    h.record(res(Status.PASS), at(1))
    assert h.outages() == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (3599, "59 min"),
        (3900, "1 h 05 min"),
        (90000, "1 d 1 h"),
        (-5, "0 s"),
    ],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


def timeline_lines(history: SessionHistory, now: datetime) -> list[str]:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(timeline_panel.describe(history, now, UTC, 100))
    return console.export_text().splitlines()


def test_timeline_shows_strips_first_and_caps_the_outage_list() -> None:
    """After a flapping network the strips stay on the first screen: one line per check
    first, then only the latest outages and a count of the older ones."""
    h = SessionHistory()
    checks = [f"check.{i:02d}" for i in range(15)]
    h.add(checks)
    for cycle in range(3):  # three outages per check: 45 in all
        for i, check_id in enumerate(checks):
            h.record(res(Status.FAIL, check_id), at(100 * cycle + i))
            h.record(res(Status.PASS, check_id), at(100 * cycle + 50 + i))
    lines = timeline_lines(h, at(1000))
    assert lines[0].startswith("Timeline")
    assert "┬" in lines[2]  # the time axis, then the strips
    assert [line.split()[0] for line in lines[3:18]] == checks
    assert lines[18].startswith("Outages")
    outages = [line for line in lines if "recovered" in line]
    assert len(outages) == timeline_panel.MAX_OUTAGES
    assert outages[0].split()[0] == "check.14"  # the latest first
    hidden = 45 - timeline_panel.MAX_OUTAGES
    assert f"… {hidden} older outages" in lines[19 + timeline_panel.MAX_OUTAGES]


def test_timeline_counts_hidden_ongoing_outages_apart() -> None:
    h = SessionHistory()
    checks = [f"check.{i:02d}" for i in range(12)]
    h.add(checks)
    for i, check_id in enumerate(checks):
        h.record(res(Status.FAIL, check_id), at(i))
    text = "\n".join(timeline_lines(h, at(100)))
    assert text.count(", still") == timeline_panel.MAX_OUTAGES
    hidden = 12 - timeline_panel.MAX_OUTAGES
    assert f"… {hidden} more outages ({hidden} ongoing: see the strips above)" in text
