"""Pieces shared by the SIP rules: a bounded LRU table and a flow under construction."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, Final, Generic, TypeVar

from ecc_doctor.captures.flows import Flow
from ecc_doctor.models import Finding, Status

K = TypeVar("K")
V = TypeVar("V")

#: RFC 3261 §17.1.1.1: T1 = 500 ms; transactions time out after 64*T1.
T1: Final = 0.5
TIMER_F: Final = 64 * T1

#: At most this many frames / findings are kept per flow (counts stay exact).
MAX_FLOW_FRAMES: Final = 512
MAX_FLOW_FINDINGS: Final = 64

REF_REGISTER: Final = "RFC 3261 §10.2, §22; SIP Adventures: REGISTER"
REF_AUTH: Final = "RFC 3261 §22.2-22.4; SIP Adventures: REGISTER"
REF_PRACK: Final = "RFC 3262 §3-4; SIP Adventures: PRACK"
REF_PARSE: Final = "RFC 3261 §7, §20, §25"
REF_RACK: Final = "RFC 3262 §7.2 (RAck = RSeq, CSeq number and method of the INVITE)"


_GETTERS: Final[dict[type, Callable[[Any], tuple[Any, ...]]]] = {}


def field_values(obj: Any) -> tuple[Any, ...]:
    """The field values of a dataclass in field order (``Cls(*values)`` builds it again),
    read at C speed: the dataclass helpers walk ``fields()`` in Python."""
    cls = type(obj)
    get = _GETTERS.get(cls)
    if get is None:
        get = _GETTERS[cls] = attrgetter(*(f.name for f in fields(cls)))
    values: tuple[Any, ...] = get(obj)
    return values


def reduce_fields(obj: Any) -> tuple[Any, ...]:
    """``__reduce__`` for a slots dataclass: its class and field values."""
    return type(obj), field_values(obj)


_STATUS: Final = {s.value: s for s in Status}
_PASS: Final = Status.PASS  # a module global: reading an enum member off its class is slow


class LruTable(Generic[K, V]):
    """A dict with a size cap: the least recently used entry is evicted first."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> list[tuple[K, V]]:
        """Insert; returns the entries evicted to make room."""
        self._data[key] = value
        self._data.move_to_end(key)
        evicted: list[tuple[K, V]] = []
        while len(self._data) > self.limit:
            evicted.append(self._data.popitem(last=False))
        return evicted

    def pop(self, key: K) -> V | None:
        return self._data.pop(key, None)

    def peek(self, key: K) -> V | None:
        """The value of *key* without marking it used."""
        return self._data.get(key)

    def replace(self, key: K, value: V) -> None:
        """Give an existing *key* a new value, keeping its place in the LRU order."""
        if key in self._data:
            self._data[key] = value

    def oldest(self) -> tuple[K, V] | None:
        """The least recently used entry (not moved)."""
        for item in self._data.items():
            return item
        return None

    def touch(self, key: K) -> None:
        self._data.move_to_end(key)

    def items(self) -> Iterator[tuple[K, V]]:
        return iter(list(self._data.items()))

    def __len__(self) -> int:
        return len(self._data)

    def sweep(self, done: Callable[[V], bool | None], finish: Callable[[K, V], None]) -> None:
        """Walk from the least recently used entry: ``done(v)`` True finishes it, False keeps
        it (moved to the back), None stops the walk (everything after is more recent)."""
        for _ in range(len(self._data)):
            item = self.oldest()
            if item is None:
                return
            key, value = item
            verdict = done(value)
            if verdict is None:
                return
            if verdict:
                del self._data[key]
                finish(key, value)
            else:
                self._data.move_to_end(key)

    def pop_oldest(self) -> tuple[K, V] | None:
        """Remove and return the least recently used entry (None when empty)."""
        if not self._data:
            return None
        return self._data.popitem(last=False)

    def drain(self) -> list[tuple[K, V]]:
        out = list(self._data.items())
        self._data.clear()
        return out


@dataclass(slots=True, init=False)
class FlowDraft:
    """A flow being built: frames and findings so far (bounded). One per call or
    registration: its ``__init__`` is written out for the compiled build, as
    ``message.SipMsg`` explains."""

    kind: str
    key: str
    call_id: str
    aor: str = ""
    frames: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    dropped_findings: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    problems: dict[str, list[int]] = field(default_factory=dict)  # malformation -> frames
    cut: list[int] = field(default_factory=list)  # frames of messages the snaplen cut

    def __init__(
        self,
        kind: str,
        key: str,
        call_id: str,
        aor: str = "",
        frames: list[int] | None = None,
        findings: list[Finding] | None = None,
        dropped_findings: int = 0,
        first_ts: float = 0.0,
        last_ts: float = 0.0,
        problems: dict[str, list[int]] | None = None,
        cut: list[int] | None = None,
    ) -> None:
        self.kind = kind
        self.key = key
        self.call_id = call_id
        self.aor = aor
        self.frames = [] if frames is None else frames
        self.findings = [] if findings is None else findings
        self.dropped_findings = dropped_findings
        self.first_ts = first_ts
        self.last_ts = last_ts
        self.problems = {} if problems is None else problems
        self.cut = [] if cut is None else cut

    def mark_cut(self, frame: int) -> None:
        """The message of *frame* was cut by the snapshot length (SipMessage.cut)."""
        if len(self.cut) < 32 and frame not in self.cut:
            self.cut.append(frame)

    def problem(self, text: str, frame: int) -> None:
        """A malformation seen in a message (the same one in many messages is one finding)."""
        frames = self.problems.get(text)
        if frames is None:
            if len(self.problems) >= 16:
                return
            frames = self.problems[text] = []
        if len(frames) < 32 and frame not in frames:
            frames.append(frame)

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_fields(self)

    def pack(self) -> tuple[Any, ...]:
        """The fields as plain values (findings as tuples), which pickle quickly;
        :meth:`unpack` builds an equal draft from them."""
        return (
            self.kind,
            self.key,
            self.call_id,
            self.aor,
            self.frames,
            [(f.rule, f.severity.value, f.message, f.frames, f.reference) for f in self.findings],
            self.dropped_findings,
            self.first_ts,
            self.last_ts,
            self.problems,
            self.cut,
        )

    @classmethod
    def unpack(cls, values: tuple[Any, ...]) -> FlowDraft:
        findings = [
            Finding(rule, _STATUS[severity], message, frames, reference)
            for rule, severity, message, frames, reference in values[5]
        ]
        return cls(*values[:5], findings, *values[6:])  # type: ignore[call-arg]

    def add_frames(self, frames: tuple[int, ...]) -> None:
        mine = self.frames
        for f in frames:
            if len(mine) >= MAX_FLOW_FRAMES:
                return
            if not mine or mine[-1] != f:
                mine.append(f)

    def add(
        self,
        rule: str,
        severity: Status,
        message: str,
        frames: tuple[int, ...] | list[int] = (),
        reference: str = "",
    ) -> None:
        finding = Finding(
            rule=rule,
            severity=severity,
            message=message,
            frames=tuple(sorted(set(frames))),
            reference=reference,
        )
        findings = self.findings
        if finding in findings:
            return
        if len(findings) >= MAX_FLOW_FINDINGS:
            self.dropped_findings += 1
            # the cap must not hide the verdict: a finding worse than a kept one takes the
            # place of the newest milder one (a flow's final FAIL often comes after many
            # WARNs, e.g. refusals that a later attempt overcame)
            worse = severity.severity
            for i in range(len(findings) - 1, -1, -1):
                if findings[i].severity.severity < worse:
                    del findings[i]
                    findings.append(finding)
                    break
            return
        findings.append(finding)

    def build(self, summary: str, extra: list[Finding] | None = None) -> Flow:
        findings = self.findings + extra if extra else self.findings[:]
        if self.cut:
            findings = _cut_verdicts(findings, self.cut)
        for text, frames in self.problems.items():
            where = fmt_frames(frames)
            findings.append(
                Finding(
                    rule="sip.parse",
                    severity=Status.WARN,
                    message=f"{text} ({where})"
                    if len(frames) < 2
                    else f"{text} (in {len(frames)} messages)",
                    frames=tuple(frames),
                    reference=REF_PARSE,
                )
            )
        if self.dropped_findings:
            findings.append(
                Finding(
                    rule="sip.findings-capped",
                    severity=Status.PASS,
                    message=f"{self.dropped_findings} more findings not listed",
                )
            )
        # once per flow, and most flows have no finding: Status.worst() only when there is
        # one, and the Flow's fields given by position (its frozen __init__ costs less so)
        status = Status.worst([f.severity for f in findings]) if findings else _PASS
        return Flow(
            self.kind,
            self.key,
            status,
            summary,
            tuple(findings),
            self.call_id,
            self.aor,
            tuple(sorted(set(self.frames))),
        )


#: Rules whose FAIL rests on start lines alone (a status code), which a snaplen cut never
#: reaches: they stay FAIL in a flow with cut messages.
START_LINE_RULES: Final = frozenset({"sip.register.rejected"})


def _cut_verdicts(findings: list[Finding], cut: list[int]) -> list[Finding]:
    """*findings* of a flow some of whose messages (*cut*) the snapshot length cut inside
    their header block.

    A cut message lost the headers after the cut (a CSeq, an Authorization's response, a
    challenge's nonce, an Expires: 0), so a FAIL that cites a cut message and reads headers
    may be the capture's fault rather than the peers': it becomes WARN, saying so. A FAIL
    on complete messages only, or that rests on start lines only, stays FAIL. One
    ``capture.snaplen`` finding (WARN) says which messages were cut and what to do: even a
    flow with no FAIL was judged on part of its headers.
    """
    where = fmt_frames(cut)
    cut_frames = set(cut)
    out: list[Finding] = []
    softened = 0
    for finding in findings:
        if (
            finding.severity is Status.FAIL
            and finding.rule not in START_LINE_RULES
            and not cut_frames.isdisjoint(finding.frames)
        ):
            softened += 1
            finding = Finding(
                finding.rule,
                Status.WARN,
                f"{finding.message} [WARN, not FAIL: the snapshot length cut messages]",
                finding.frames,
                finding.reference,
            )
        out.append(finding)
    also = (
        f"; {softened} FAIL verdict{'' if softened == 1 else 's'} on cut messages, which may "
        f"come from the capture rather than from the SIP peers, {'is' if softened == 1 else 'are'}"
        " WARN"
        if softened
        else ""
    )
    out.append(
        Finding(
            "capture.snaplen",
            Status.WARN,
            f"{where} {'was' if len(cut) == 1 else 'were'} cut by the capture's snapshot length "
            f"before the end of the headers: verdicts that read the missing headers cannot be "
            f"trusted{also} (capture again with a larger snapshot length, e.g. tcpdump -s 0)",
            tuple(cut),
        )
    )
    return out


def fmt_frames(frames: list[int] | tuple[int, ...]) -> str:
    """``f3`` or ``f3, f5, f7``, shortened after a few."""
    if len(frames) == 1:  # the usual case, several times per call
        return f"f{frames[0]}"
    uniq = sorted(set(frames))
    text = ", ".join(f"f{f}" for f in uniq[:6])
    if len(uniq) > 6:
        text += f" (+{len(uniq) - 6})"
    return text
