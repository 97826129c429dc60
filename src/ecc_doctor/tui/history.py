"""What the dashboard remembers about each check over a session (no UI code here).

Every result of a check is a *sample*. A check's history keeps the last ``max_samples``
samples (for the timeline strip), its status changes, and its *outages*: periods in which it
was WARN, FAIL or ERROR. Outages are kept in their own bounded list, so the latest failures
stay visible after the samples that showed them have aged out (as blackbox's ResultHistory
preserves failed probes).

>>> from datetime import datetime, UTC
>>> h = SessionHistory()
>>> t0 = datetime(2026, 1, 1, 10, 42, 5, tzinfo=UTC)
>>> _ = h.record(Result("ecc.event-roundtrip", Status.FAIL, "no event"), t0)
>>> _ = h.record(Result("ecc.event-roundtrip", Status.PASS, "ok"), t0 + timedelta(minutes=3))
>>> h.outages()[0].describe(t0 + timedelta(minutes=10))
'ecc.event-roundtrip FAIL since 10:42:05 (3 min), recovered 10:45:05'
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from ecc_doctor.models import Result, Status

#: Statuses that open an outage (a period worth remembering).
BAD = frozenset({Status.WARN, Status.FAIL, Status.ERROR})

#: Marker in the timeline strip for a check that is running now / has never run.
RUNNING_MARK = "…"
UNKNOWN_MARK = "·"


def format_duration(delta: timedelta) -> str:
    """Short human duration: ``45 s``, ``3 min``, ``1 h 05 min``, ``2 d 3 h``.

    >>> format_duration(timedelta(seconds=185))
    '3 min'
    """
    secs = max(int(delta.total_seconds()), 0)
    if secs < 60:
        return f"{secs} s"
    mins = secs // 60
    if mins < 60:
        return f"{mins} min"
    hours, mins = divmod(mins, 60)
    if hours < 24:
        return f"{hours} h {mins:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def clock_time(at: datetime, tz: tzinfo | None = None) -> str:
    """``HH:MM:SS`` of *at* in *tz* (the time zone of *at* when None)."""
    return (at.astimezone(tz) if tz else at).strftime("%H:%M:%S")


@dataclass(frozen=True)
class Sample:
    """One result of a check as the timeline shows it."""

    at: datetime
    status: Status
    summary: str
    duration_s: float = 0.0


@dataclass
class Outage:
    """A period a check spent in WARN/FAIL/ERROR; ``end`` is when it recovered (None: still)."""

    check_id: str
    status: Status
    start: datetime
    summary: str
    end: datetime | None = None
    worst: Status = Status.PASS
    statuses: list[Status] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.statuses:
            self.statuses = [self.status]
        self.worst = Status.worst([self.worst, self.status])

    @property
    def ongoing(self) -> bool:
        return self.end is None

    def length(self, now: datetime) -> timedelta:
        return (self.end or now) - self.start

    def describe(self, now: datetime, tz: tzinfo | None = None) -> str:
        """``ecc.event-roundtrip FAIL since 10:42:05 (3 min), recovered 10:45:10``."""
        label = "/".join(s.value for s in self.statuses)
        text = (
            f"{self.check_id} {label} since {clock_time(self.start, tz)} "
            f"({format_duration(self.length(now))})"
        )
        if self.end is not None:
            text += f", recovered {clock_time(self.end, tz)}"
        else:
            text += ", still"
        return text


@dataclass(frozen=True)
class Change:
    """A status change of one check."""

    at: datetime
    check_id: str
    old: Status | None
    new: Status
    summary: str


class CheckHistory:
    """The session history of one check (bounded)."""

    def __init__(self, check_id: str, *, max_samples: int = 120, max_outages: int = 20) -> None:
        self.check_id = check_id
        self.samples: deque[Sample] = deque(maxlen=max_samples)
        self.changes: deque[Change] = deque(maxlen=max_samples)
        self.outages: deque[Outage] = deque(maxlen=max_outages)
        self.last: Result | None = None
        self.since: datetime | None = None
        self.running = False
        #: when the run in progress started (None when not running)
        self.running_since: datetime | None = None
        self.runs = 0

    @property
    def status(self) -> Status | None:
        """The current status (None before the first result)."""
        return self.last.status if self.last else None

    @property
    def open_outage(self) -> Outage | None:
        if self.outages and self.outages[-1].ongoing:
            return self.outages[-1]
        return None

    def record(self, result: Result, at: datetime) -> Change | None:
        """Add a result seen at *at*; return the status change it makes, if any."""
        old = self.status
        # a check went bad when the run that found it started (a hung check's ERROR comes a
        # whole timeout later); it recovered when the good answer came
        went_bad = self.running_since if self.running_since is not None else at
        went_bad = min(went_bad, at)
        self.last = result
        self.running = False
        self.running_since = None
        self.runs += 1
        self.samples.append(Sample(at, result.status, result.summary, result.duration_s))
        change = None
        if old != result.status:
            self.since = went_bad if result.status in BAD else at
            change = Change(self.since, self.check_id, old, result.status, result.summary)
            self.changes.append(change)
        current = self.open_outage
        if result.status in BAD:
            if current is None:
                self.outages.append(Outage(self.check_id, result.status, went_bad, result.summary))
            elif current.statuses[-1] != result.status:
                current.statuses.append(result.status)
                current.worst = Status.worst([current.worst, result.status])
                current.summary = result.summary
        elif current is not None:
            current.end = at
        return change

    def strip(self, width: int) -> str:
        """The last *width* samples as status symbols, oldest first (running: ``…``)."""
        marks = [s.status.symbol for s in self.samples]
        if self.running:
            marks.append(RUNNING_MARK)
        marks = marks[-width:] if width > 0 else []
        return UNKNOWN_MARK * (width - len(marks)) + "".join(marks)


def column_of(at: datetime, start: datetime, end: datetime, width: int) -> int:
    """The column (0 … *width* - 1) of time *at* on an axis from *start* (the first column)
    to *end* (the last); times outside fall in the first or last column."""
    span = (end - start).total_seconds()
    if width <= 1 or span <= 0:
        return max(width - 1, 0)
    col = round((at - start).total_seconds() / span * (width - 1))
    return min(max(col, 0), width - 1)


def time_strip(h: CheckHistory, start: datetime, end: datetime, width: int) -> str:
    """*h*'s status from *start* to *end* in *width* columns on a time axis shared by every
    check (:func:`column_of`): a column shows the worst status found in it, else the status
    the check was left in (``·`` before its first result); the last one is ``…`` while it runs.

    >>> from datetime import UTC
    >>> h = CheckHistory("x")
    >>> t0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    >>> _ = h.record(Result("x", Status.PASS, "ok"), t0 + timedelta(seconds=20))
    >>> _ = h.record(Result("x", Status.FAIL, "down"), t0 + timedelta(seconds=50))
    >>> _ = h.record(Result("x", Status.PASS, "ok"), t0 + timedelta(seconds=70))
    >>> time_strip(h, t0, t0 + timedelta(seconds=90), 10)
    '··✓✓✓✗✗✓✓✓'
    """
    if width <= 0:
        return ""
    found: dict[int, list[Status]] = {}
    for sample in h.samples:
        found.setdefault(column_of(sample.at, start, end, width), []).append(sample.status)
    marks: list[str] = []
    current: Status | None = None
    for col in range(width):
        seen = found.get(col)
        if seen:
            marks.append(Status.worst(seen).symbol)
            current = seen[-1]
        else:
            marks.append(current.symbol if current is not None else UNKNOWN_MARK)
    if h.running:
        marks[-1] = RUNNING_MARK
    return "".join(marks)


class SessionHistory:
    """Histories of every check seen in this session, in first-seen order."""

    def __init__(self, *, max_samples: int = 120, max_outages: int = 20) -> None:
        self._max_samples = max_samples
        self._max_outages = max_outages
        self.checks: dict[str, CheckHistory] = {}

    def get(self, check_id: str) -> CheckHistory:
        found = self.checks.get(check_id)
        if found is None:
            found = CheckHistory(
                check_id, max_samples=self._max_samples, max_outages=self._max_outages
            )
            self.checks[check_id] = found
        return found

    def add(self, check_ids: Iterable[str]) -> None:
        """Make sure *check_ids* have a (possibly empty) history, in this order."""
        for check_id in check_ids:
            self.get(check_id)

    def mark_running(self, check_id: str, running: bool = True, at: datetime | None = None) -> None:
        """Mark *check_id* running (since *at*) or not running any more."""
        h = self.get(check_id)
        if running and not h.running:
            h.running_since = at
        elif not running:
            h.running_since = None
        h.running = running

    def record(self, result: Result, at: datetime) -> Change | None:
        return self.get(result.check_id).record(result, at)

    def results(self) -> list[Result]:
        """The latest result of every check that has one."""
        return [h.last for h in self.checks.values() if h.last is not None]

    def counts(self) -> Counter[Status]:
        """How many checks are in each status now (checks without a result are not counted)."""
        return Counter(h.status for h in self.checks.values() if h.status is not None)

    def seen_between(self) -> tuple[datetime | None, datetime | None]:
        """When the oldest result still remembered and the newest one were seen (None, None
        before any result)."""
        seen = [
            t
            for h in self.checks.values()
            if h.samples
            for t in (h.samples[0].at, h.samples[-1].at)
        ]
        return (min(seen), max(seen)) if seen else (None, None)

    def outages(self) -> list[Outage]:
        """Every remembered outage, ongoing ones first, then the most recent first."""
        found = [o for h in self.checks.values() for o in h.outages]
        return sorted(found, key=lambda o: (not o.ongoing, -o.start.timestamp(), o.check_id))

    def changes(self) -> list[Change]:
        """Every remembered status change, newest first."""
        found = [c for h in self.checks.values() for c in h.changes]
        return sorted(found, key=lambda c: (-c.at.timestamp(), c.check_id))
