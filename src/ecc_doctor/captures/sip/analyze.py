"""SIP capture analysis: records in, flows with findings out.

>>> analysis = analyze_records([])
>>> analysis.messages, analysis.flows
(0, [])

:func:`analyze_records` takes the neutral records of any engine; :func:`analyze_file` reads a
capture with an engine first. Memory stays bounded: dialog/transaction tables are LRU tables
with idle sweeping, only a bounded number of passing flows are kept (failing ones first), and
the per-call message lists kept for ladders are capped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from sys import intern
from typing import Final

from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.gctune import fewer_collections
from ecc_doctor.captures.records import CaptureNote, SipMessage
from ecc_doctor.captures.sip.common import FlowDraft
from ecc_doctor.captures.sip.message import ParseFailure, SipMsg, parse
from ecc_doctor.captures.sip.prack import InviteTracker
from ecc_doctor.captures.sip.register import AURA_MAX_CONTACTS, RegisterTracker
from ecc_doctor.captures.sipassembler import udp_body_check
from ecc_doctor.captures.sipframing import looks_like_sip
from ecc_doctor.errors import CaptureError, ConfigError
from ecc_doctor.models import Finding, Status
from ecc_doctor.netaddr import host_port

RULES: Final = ("register", "prack")

#: How many flows are kept in the result: non-passing flows up to MAX_BAD_FLOWS, and passing
#: flows up to MAX_GOOD_FLOWS; the rest are only counted (``counts``, ``not_listed``), and the
#: status comes from the counts. At the cap a worse flow takes the place of a kept milder one,
#: so the worst verdict always has a listed example.
# MAX_BAD_FLOWS, MAX_GOOD_FLOWS, LADDER_CALLS and LADDER_TOTAL are not Final, unlike the other
# constants: the tests lower them with monkeypatch, which a Final constant (inlined by the
# compiled build) would ignore.
MAX_BAD_FLOWS = 20_000
MAX_GOOD_FLOWS = 5_000
#: Ladder data kept: this many Call-IDs, this many messages each.
LADDER_CALLS = 2_000
LADDER_MESSAGES: Final = 300
# all ladders together (an arrow is ~250 bytes): bounds memory on captures of long dialogs
LADDER_TOTAL = 100_000
#: Byte-identical copies are looked for among this many recent messages.
RECENT: Final = 512
#: Capture timestamps are implausible (timing is not judged) after a step back of more than
#: CLOCK_BACK seconds or forward of more than CLOCK_GAP.
CLOCK_BACK: Final = 1.0
CLOCK_GAP: Final = 86_400.0
#: Flows idle this long are finished early (only when timestamps look sane).
IDLE_REGISTER: Final = 7_200.0
IDLE_INVITE: Final = 3_600.0

#: Notes listed per rule; the rest are counted in one "more ... not listed" note.
MAX_NOTES: Final = 20

#: With ``ladder_call_id``, the other Call-IDs named (the first ones seen) and counted (up to
#: OTHER_CALL_IDS_COUNTED: memory stays bounded on captures of millions of calls).
OTHER_CALL_IDS_NAMED: Final = 5
OTHER_CALL_IDS_COUNTED: Final = 100_000

#: Capture notes that are information, not a problem with the capture.
INFO_NOTES: Final = frozenset({"capture.duplicate"})

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class LadderMsg:
    """One arrow of a ladder diagram."""

    frame: int
    frames: tuple[int, ...]
    ts: float
    src: str
    dst: str
    transport: str
    label: str
    is_request: bool
    cseq: str = ""
    problems: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[type[LadderMsg], tuple[object, ...]]:
        # pickled as its fields (see records.CaptureNote.__reduce__)
        return LadderMsg, (
            self.frame, self.frames, self.ts, self.src, self.dst, self.transport, self.label,
            self.is_request, self.cseq, self.problems,
        )  # fmt: skip


#: What the analyzer keeps per ladder arrow until the end: the message's values a LadderMsg
#: is made of, as read (frames, ts, src, sport, dst, dport, transport, is_request, method,
#: status, reason, cseq, cseq_method, problems); see _raw_arrow() and _ladder_msg().
_Arrow = tuple[
    tuple[int, ...], float, str, int, str, int, str, bool, str, int, str, int, str, tuple[str, ...]
]


@dataclass
class SipAnalysis:
    """What :func:`analyze_records` found."""

    flows: list[Flow] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    messages: int = 0
    duplicates: int = 0
    unparsed: int = 0
    flows_total: int = 0
    flows_not_listed: int = 0
    #: every flow by "kind.STATUS", listed or not
    counts: dict[str, int] = field(default_factory=dict)
    #: the flows beyond the caps, by status ("WARN" -> n)
    not_listed: dict[str, int] = field(default_factory=dict)
    ladders: OrderedDict[str, list[LadderMsg]] = field(default_factory=OrderedDict)
    rules: tuple[str, ...] = RULES
    #: when set, only this Call-ID's ladder is kept (``ecc-doctor ladder --call-id``), and
    #: the first few other Call-IDs are named in ``other_call_ids``; ``other_call_ids_seen``
    #: counts them all, up to OTHER_CALL_IDS_COUNTED (a count at that cap means "or more")
    ladder_call_id: str | None = None
    other_call_ids: list[str] = field(default_factory=list)
    other_call_ids_seen: int = 0
    #: each note's place in frame order (the highest frame it or an earlier note names), so
    #: the notes of ``analyze --jobs`` shards merge in the order one process lists them
    note_frames: list[int] = field(default_factory=list)
    #: peak RSS (KiB) of the other processes of ``analyze --jobs`` (this one's is its own)
    workers_peak_kib: list[int] = field(default_factory=list)

    @property
    def flow_statuses(self) -> list[Status]:
        """The status of every flow seen, listed or not (each status once)."""
        seen = {f.status for f in self.flows}
        seen.update(Status(key.rpartition(".")[2]) for key, n in self.counts.items() if n)
        return sorted(seen, key=lambda s: s.severity)

    @property
    def status(self) -> Status:
        return Status.worst(self.flow_statuses + [n.severity for n in self.notes])

    @property
    def findings(self) -> list[Finding]:
        """Capture-wide findings (the notes): same list, the name the dashboard looks for."""
        return self.notes

    def flows_of(self, kind: str) -> list[Flow]:
        return [f for f in self.flows if f.kind == kind]

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "messages": self.messages,
            "duplicates_ignored": self.duplicates,
            "unparsed": self.unparsed,
            "flows_total": self.flows_total,
            "flows_not_listed": self.flows_not_listed,
            "counts": dict(self.counts),
            "not_listed": dict(self.not_listed),
            "flows": [f.to_dict() for f in self.flows],
            "notes": [n.to_dict() for n in self.notes],
        }


class _Analyzer:
    def __init__(
        self,
        rules: Sequence[str],
        passwords: Mapping[str, str] | None,
        max_contacts: int,
        max_calls: int,
    ) -> None:
        unknown = [r for r in rules if r not in RULES]
        if unknown:
            raise ConfigError(
                f"unknown SIP rule(s) {', '.join(unknown)} (known: {', '.join(RULES)})"
            )
        self.rules = tuple(rules)
        self.reg = (
            RegisterTracker(passwords=passwords, max_flows=max_calls, max_contacts=max_contacts)
            if "register" in rules
            else None
        )
        self.inv = (
            InviteTracker(passwords=passwords, max_calls=max_calls) if "prack" in rules else None
        )
        self.result = SipAnalysis(rules=self.rules)
        # (hop, bytes) of the last RECENT messages -> time (LRU order)
        self.recent: OrderedDict[tuple[str, int, str, int, bytes], float] = OrderedDict()
        self.last_ts: float | None = None
        self.ts_ok = True
        self.since_sweep = 0
        # the ladders as plain tuples of the values read from each message (_raw_arrow):
        # most arrows are evicted before the end, so the texts and the LadderMsg (a frozen
        # dataclass, slow to build) are made at finish() for the kept ones only
        self.ladders: OrderedDict[str, list[_Arrow]] = OrderedDict()
        self.ladder_total = 0
        self.ladders_on = True  # analyze_records(ladders=False) turns it off
        self.other_calls: set[str] = set()  # with ladder_call_id: the others, counted
        self.notes_seen: dict[str, int] = {}
        self.kept_good = 0
        self.kept_bad = 0
        self.bad_at: dict[Status, list[int]] = {}  # status -> indexes of kept non-passing flows

    # -- notes ------------------------------------------------------------------------
    def note(self, rule: str, severity: Status, message: str, frames: Sequence[int]) -> None:
        n = self.notes_seen.get(rule, 0)
        self.notes_seen[rule] = n + 1
        if n <= MAX_NOTES:
            result = self.result
            place = result.note_frames[-1] if result.note_frames else 0
            result.note_frames.append(max(place, max(frames)) if frames else place)
            if n < MAX_NOTES:
                result.notes.append(Finding(rule, severity, message, tuple(frames)))
            else:
                result.notes.append(more_notes(rule))

    def capture_note(self, rec: CaptureNote) -> None:
        sev = Status.PASS if rec.rule in INFO_NOTES else Status.WARN
        if rec.rule == "capture.duplicate":
            self.result.duplicates += 1
        self.note(rec.rule, sev, rec.message, rec.frames)

    # -- messages ---------------------------------------------------------------------
    def message(self, rec: SipMessage) -> None:
        self.result.messages += 1
        # the record's fields read once (each named-tuple field read is a descriptor call)
        _, ts, src, sport, dst, dport, transport, data, cut = rec
        # a byte-identical copy on the same hop within 5 ms: captured twice, not resent
        # (the duplicate test inlined: it runs for every message)
        key = (src, sport, dst, dport, data)
        recent = self.recent
        seen = recent.get(key)
        recent[key] = ts
        if seen is not None:
            recent.move_to_end(key)
            if abs(ts - seen) < 0.005:
                self.result.duplicates += 1
                if transport == "UDP" and not cut:
                    self._body_check(rec)
                return
        elif len(recent) > RECENT:
            recent.popitem(last=False)
        msg = parse(rec)
        if transport == "UDP" and not cut and (type(msg) is ParseFailure or not msg.body_fits):
            self._body_check(rec)
        # _clock()'s test inlined: this runs for every message, a jump almost never
        last = self.last_ts
        if last is not None and (ts - last < -CLOCK_BACK or ts - last > CLOCK_GAP):
            self._clock(rec)
        self.last_ts = ts
        if type(msg) is ParseFailure:
            self.result.unparsed += 1
            self.note("sip.parse", Status.WARN, f"{msg.reason} (f{rec.frame})", rec.frames)
            return
        if self.ladders_on:
            self._ladder(msg)
        draft: FlowDraft | None = None
        if msg.method == "REGISTER" and self.reg is not None:
            draft = self.reg.feed(msg)
        elif self.inv is not None:
            draft = self.inv.track(msg)
        if cut and draft is not None:
            draft.mark_cut(msg.frame)
        if msg.problems:
            text = f"{msg.label} f{msg.frame}: " + "; ".join(msg.problems[:3])
            if draft is not None:
                for problem in msg.problems[:4]:
                    draft.problem(problem, msg.frame)
            elif self.inv is not None or msg.method == "REGISTER":
                self.note("sip.parse", Status.WARN, text, msg.frames[-1:])
        self.since_sweep += 1
        if self.since_sweep >= 1_000:
            self.since_sweep = 0
            if self.ts_ok:
                if self.reg is not None:
                    self.reg.sweep(msg.ts, IDLE_REGISTER)
                if self.inv is not None:
                    self.inv.sweep(msg.ts, IDLE_INVITE)
            if self.inv is not None:
                self.inv.park(msg.ts)
            self._collect()

    def _body_check(self, rec: SipMessage) -> None:
        """RFC 3261 §18.3 on a UDP datagram (not cut by the snapshot length): a ``sip.framing``
        note when its header block has no end or its Content-Length is invalid or larger
        than its body. Asked only when the parse could not tell that all is well
        (``SipMsg.body_fits``): the parse has already split the header block, so most
        datagrams need no second scan of it. Like the reader's other framing rules, it
        applies to a datagram that starts with a SIP start line (the reader reports any
        other on a SIP port as junk; the parse reports one given here as unreadable)."""
        if looks_like_sip(rec.data):
            for note in udp_body_check(rec.data, rec.frames):
                self.capture_note(note)

    def _clock(self, rec: SipMessage) -> None:
        if self.last_ts is not None and self.ts_ok:
            jump = rec.ts - self.last_ts
            if jump < -CLOCK_BACK or jump > CLOCK_GAP:
                self.ts_ok = False
                if self.inv is not None:
                    self.inv.timing = False
                self.note(
                    "capture.timestamps",
                    Status.WARN,
                    f"capture timestamps are implausible (a jump of {jump:+.0f} s at f{rec.frame}): "
                    "timer and retransmission timing are not judged",
                    rec.frames[-1:],
                )
        self.last_ts = rec.ts

    def _ladder(self, msg: SipMsg) -> None:
        ladders = self.ladders
        call = msg.call_id
        only = self.result.ladder_call_id
        if only is not None and call != only:
            seen = self.other_calls
            if call not in seen and len(seen) < OTHER_CALL_IDS_COUNTED:
                seen.add(call)
                self.result.other_call_ids_seen = len(seen)
                others = self.result.other_call_ids
                if len(others) < OTHER_CALL_IDS_NAMED:
                    others.append(call)
            return
        lst = ladders.get(call)
        if lst is None:
            lst = []
            ladders[call] = lst
        else:
            ladders.move_to_end(call)
        if len(lst) < LADDER_MESSAGES:
            lst.append(_raw_arrow(msg))
            self.ladder_total += 1
        # the least recently active dialogs make room (never the one just added to)
        while len(ladders) > 1 and (
            len(ladders) > LADDER_CALLS or self.ladder_total > LADDER_TOTAL
        ):
            self.ladder_total -= len(ladders.popitem(last=False)[1])

    def _collect(self) -> None:
        for tracker in (self.reg, self.inv):
            if tracker is None:
                continue
            for flow in tracker.done:
                self._keep(flow)
            tracker.done.clear()

    def _keep(self, flow: Flow) -> None:
        res = self.result
        res.flows_total += 1
        status = flow.status
        key = f"{flow.kind}.{status.value}"
        res.counts[key] = res.counts.get(key, 0) + 1
        if status is Status.PASS or status is Status.SKIP:
            if self.kept_good >= MAX_GOOD_FLOWS:
                self._not_listed(status)
                return
            self.kept_good += 1
        elif self.kept_bad < MAX_BAD_FLOWS:
            self.kept_bad += 1
            self.bad_at.setdefault(status, []).append(len(res.flows))
        else:
            # at the cap: take the place of the latest kept flow of a milder verdict
            for milder in (Status.WARN, Status.FAIL):
                slots = self.bad_at.get(milder)
                if milder.severity < status.severity and slots:
                    index = slots.pop()
                    self._not_listed(milder)
                    res.flows[index] = flow
                    self.bad_at.setdefault(status, []).append(index)
                    return
            self._not_listed(status)
            return
        res.flows.append(flow)

    def _not_listed(self, status: Status) -> None:
        res = self.result
        res.flows_not_listed += 1
        res.not_listed[status.value] = res.not_listed.get(status.value, 0) + 1

    def finish(self) -> SipAnalysis:
        # the order of finish_all() on both trackers followed by _collect(), one flow at a
        # time: flows beyond the caps and finished states are freed as they go
        for tracker in (self.reg, self.inv):
            if tracker is None:
                continue
            for flow in tracker.done:
                self._keep(flow)
            tracker.done.clear()
            for flow in tracker.finish_each():
                self._keep(flow)
        self.result.flows.sort(key=flow_order)
        for call, arrows in self.ladders.items():
            self.result.ladders[call] = [_ladder_msg(arrow) for arrow in arrows]
        self.ladders.clear()
        if self.result.duplicates:
            self.note(*duplicates_note(self.result.duplicates))
        return self.result


def flow_order(flow: Flow) -> tuple[int, str]:
    """How the listed flows are sorted: by first frame, then kind."""
    return (flow.frames[0] if flow.frames else 0, flow.kind)


def more_notes(rule: str) -> Finding:
    """The note listed in place of the notes of *rule* beyond MAX_NOTES."""
    return Finding(rule, Status.PASS, f"more '{rule}' notes not listed", ())


def duplicates_note(count: int) -> tuple[str, Status, str, tuple[int, ...]]:
    """The summary note about *count* ignored byte-identical copies (note() arguments)."""
    return (
        "capture.duplicates",
        Status.PASS,
        f"{count} byte-identical copies of messages (captured twice within 5 ms on the same "
        "hop) were ignored",
        (),
    )


def ladder_msg(msg: SipMsg) -> LadderMsg:
    """One ladder arrow. Its strings repeat across messages (endpoints, labels, CSeq), so they
    are shared (``sys.intern``) instead of kept once per message."""
    return _ladder_msg(_raw_arrow(msg))


def _raw_arrow(msg: SipMsg) -> _Arrow:
    """The values of *msg* an arrow is made of, read and nothing else: this runs for every
    message, the texts are made by :func:`_ladder_msg` for the arrows kept (an arrow is
    about 400 bytes like this, LADDER_TOTAL bounds them)."""
    rec = msg.rec
    problems = msg.problems
    return (
        rec.frames,
        rec.ts,
        rec.src,
        rec.sport,
        rec.dst,
        rec.dport,
        rec.transport,
        msg.is_request,
        msg.method,
        msg.status,
        msg.reason,
        msg.cseq,
        msg.cseq_method,
        tuple(problems[:3]) if problems else (),
    )


def _ladder_msg(arrow: _Arrow) -> LadderMsg:
    frames, ts, src, sport, dst, dport, transport, is_request, method, status, reason = arrow[:11]
    cseq, cseq_method, problems = arrow[11:]
    # the text of SipMsg.label
    label = method if is_request else f"{status} {reason}".strip()
    return LadderMsg(
        frames[-1],
        frames,
        ts,
        _endpoint(src, sport),
        _endpoint(dst, dport),
        transport,
        intern(label),
        is_request,
        intern(f"{cseq} {cseq_method}") if cseq >= 0 else "",
        problems,
    )


#: (host, port) -> "host:port", interned (cleared when it reaches _ENDPOINTS_MAX entries)
_endpoints: Final[dict[tuple[str, int], str]] = {}
_ENDPOINTS_MAX: Final = 4_096


def _endpoint(host: str, port: int) -> str:
    text = _endpoints.get((host, port))
    if text is None:
        if len(_endpoints) >= _ENDPOINTS_MAX:
            _endpoints.clear()
        text = _endpoints[(host, port)] = intern(host_port(host, port))
    return text


def analyze_records(
    records: Iterable[SipMessage | CaptureNote],
    *,
    rules: Sequence[str] = RULES,
    passwords: Mapping[str, str] | None = None,
    max_contacts: int = AURA_MAX_CONTACTS,
    max_calls: int = 10_000,
    progress: Progress | None = None,
    ladder_call_id: str | None = None,
    ladders: bool = True,
) -> SipAnalysis:
    """Analyze SIP records (from any engine) with the named *rules*.

    *ladder_call_id* keeps the ladder of that Call-ID only (none of the others, none evicted).
    *ladders* False keeps no ladder data at all (``ecc-doctor analyze`` shows none; checks,
    the dashboard and ``ecc-doctor ladder`` do): about a tenth less work per message.
    *passwords* (user -> password) turns on digest verification. *progress* is called every
    few hundred messages with (messages so far, last frame number). :func:`analyze_file`'s
    *progress* gets (bytes read, file size) from engines that report it.
    """
    analyzer = _Analyzer(rules, passwords, max_contacts, max_calls)
    analyzer.result.ladder_call_id = ladder_call_id
    analyzer.ladders_on = ladders or ladder_call_id is not None
    with fewer_collections():
        for rec in records:
            if type(rec) is CaptureNote:
                analyzer.capture_note(rec)
                continue
            analyzer.message(rec)
            if progress is not None and analyzer.result.messages % 200 == 0:
                progress(analyzer.result.messages, rec.frame)
        return analyzer.finish()


def analyze_file(
    path: Path | str,
    *,
    engine: str = "scapy",
    rules: Sequence[str] = RULES,
    ports: Sequence[int] = (5060, 5061),
    passwords: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    max_contacts: int = AURA_MAX_CONTACTS,
    ladder_call_id: str | None = None,
    jobs: int | str | None = None,
    ladders: bool = True,
) -> SipAnalysis:
    """Read *path* with *engine* and analyze it. CaptureError when it is not a capture.

    *jobs* processes share the work (built-in engine only; see
    :mod:`~ecc_doctor.captures.sip.parallel`): None or "auto" picks 2-4 for a big file
    when CPUs are free, 1 is one process. The verdicts and counts are the same either way;
    beyond the listing caps, which passing flows are kept as examples may differ.
    """
    from ecc_doctor.captures.engines import get_engine
    from ecc_doctor.captures.sip import parallel

    p = Path(path)
    if not p.is_file():
        raise CaptureError(f"{p}: no such capture file")
    count = parallel.job_count(jobs, p, engine, ladder_call_id)
    eng = get_engine(engine)
    if progress is not None and hasattr(eng, "progress"):
        eng.progress = progress  # (bytes read, total bytes), called by the engine
    try:
        if count > 1:
            return parallel.analyze_sharded(
                p,
                count,
                rules=rules,
                ports=tuple(ports),
                passwords=passwords,
                max_contacts=max_contacts,
                progress=progress,
                ladders=ladders,
            )
        records = eng.sip(p, tuple(ports))
        try:
            return analyze_records(
                records,
                rules=rules,
                passwords=passwords,
                max_contacts=max_contacts,
                ladder_call_id=ladder_call_id,
                ladders=ladders,
            )
        finally:
            # stopped early (an error, Ctrl-C, SIGTERM): the engine's cleanup runs now, not
            # whenever the generator is collected (the tshark engine kills its tshark)
            close = getattr(records, "close", None)
            if close is not None:
                close()
    except (CaptureError, ConfigError):
        raise
    except OSError as exc:
        raise read_error(p, exc) from exc


def read_error(path: Path, exc: OSError) -> CaptureError:
    return CaptureError(f"{path}: cannot read: {exc.strerror or exc}")
