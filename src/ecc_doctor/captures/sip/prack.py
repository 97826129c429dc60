"""INVITE flows and the reliability of provisional responses (RFC 3262, "100rel"/PRACK).

Rules (RFC 3262 §3-4, §7; SIP Adventures "Understanding SIP PRACK for Avaya Aura"):

* a reliable 1xx (``Require: 100rel``) carries ``RSeq`` in 1..2**31-1; 100 Trying is never
  reliable; a reliable 1xx to an INVITE that did not offer 100rel (Supported/Require) is wrong;
* RSeq grows by exactly one per new reliable 1xx of the same INVITE transaction and early
  dialog (To-tag); a retransmission repeats the RSeq;
* each PRACK's RAck is ``<an RSeq sent> <the INVITE's CSeq number> INVITE``;
* each PRACK gets a 2xx (481 means the UAS found no matching reliable response);
* a reliable 1xx is retransmitted (T1, 2*T1, ...) until PRACKed: retransmissions are counted,
  one never PRACKed fails;
* the final response carries no RSeq; the ACK carries the INVITE's CSeq, not the PRACK's.

One flow is one Call-ID. Transactions are told apart by the top Via branch and the hop
(source and destination address and port), so a message relayed by a proxy is not taken for a
retransmission, and byte-identical copies captured twice are dropped before they get here.
A PRACK belongs to the INVITE transaction of its own hop: addresses and ports first (a proxy on
the same host as a phone, as on a lab or an SBC host, differs only by port), then addresses.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple, final

from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.sip.common import (
    MAX_FLOW_FRAMES,
    REF_AUTH,
    REF_PRACK,
    REF_RACK,
    T1,
    TIMER_F,
    FlowDraft,
    LruTable,
    field_values,
    fmt_frames,
    reduce_fields,
)
from ecc_doctor.captures.sip.digest import DigestCheck, verdict_on_mismatch, verify
from ecc_doctor.captures.sip.message import SipMsg, int_or_none, parse_auth
from ecc_doctor.models import Status

RSEQ_MAX: Final = 2**31 - 1
#: A call quiet this long (capture time) is parked (see ParkedCall).
PARK_IDLE: Final = 1.0
#: A confirmed call (2xx) quiet this long is finished: only its BYE could still come.
CONFIRMED_IDLE: Final = 300.0
MAX_TXNS: Final = 16
#: a digest response awaiting its verdict: (mismatch reason, user, frame)
_Pending = tuple[str, str, int]


# The classes below are built for nearly every call; each writes its __init__ out
# (init=False) for the compiled build, as message.SipMsg explains.


@dataclass(slots=True, init=False)
class Reliable:
    """One reliable provisional response (all copies with the same RSeq)."""

    rseq: int
    status: int
    frames: list[int]
    times: list[float]
    sdp: bool = False
    pracked: bool = False
    prack_frames: list[int] = field(default_factory=list)
    retrans_after_prack: list[int] = field(default_factory=list)
    sent: int = 1  # copies seen (the frame lists keep MAX_FLOW_FRAMES at most)

    def __init__(
        self,
        rseq: int,
        status: int,
        frames: list[int],
        times: list[float],
        sdp: bool = False,
        pracked: bool = False,
        prack_frames: list[int] | None = None,
        retrans_after_prack: list[int] | None = None,
        sent: int = 1,
    ) -> None:
        self.rseq = rseq
        self.status = status
        self.frames = frames
        self.times = times
        self.sdp = sdp
        self.pracked = pracked
        self.prack_frames = [] if prack_frames is None else prack_frames
        self.retrans_after_prack = [] if retrans_after_prack is None else retrans_after_prack
        self.sent = sent

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_fields(self)


@dataclass(slots=True, init=False)
class EarlyDialog:
    to_tag: str
    last_rseq: int | None = None
    reliable: dict[int, Reliable] = field(default_factory=dict)

    def __init__(
        self, to_tag: str, last_rseq: int | None = None, reliable: dict[int, Reliable] | None = None
    ) -> None:
        self.to_tag = to_tag
        self.last_rseq = last_rseq
        self.reliable = {} if reliable is None else reliable

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_fields(self)


@dataclass(slots=True, init=False)
class InviteTxn:
    cseq: int
    branch: str
    src: str
    dst: str
    frames: list[int]
    ts: float
    offers_100rel: bool
    early: dict[str, EarlyDialog] = field(default_factory=dict)
    final: int = 0
    final_reason: str = ""
    final_frames: list[int] = field(default_factory=list)
    retrans: int = 0
    with_auth: bool = False
    #: the ports of src and dst (the hop of a proxy on the same address as a phone)
    sport: int = 0
    dport: int = 0

    def __init__(
        self,
        cseq: int,
        branch: str,
        src: str,
        dst: str,
        frames: list[int],
        ts: float,
        offers_100rel: bool,
        early: dict[str, EarlyDialog] | None = None,
        final: int = 0,
        final_reason: str = "",
        final_frames: list[int] | None = None,
        retrans: int = 0,
        with_auth: bool = False,
        sport: int = 0,
        dport: int = 0,
    ) -> None:
        self.cseq = cseq
        self.branch = branch
        self.src = src
        self.dst = dst
        self.frames = frames
        self.ts = ts
        self.offers_100rel = offers_100rel
        self.early = {} if early is None else early
        self.final = final
        self.final_reason = final_reason
        self.final_frames = [] if final_frames is None else final_frames
        self.retrans = retrans
        self.with_auth = with_auth
        self.sport = sport
        self.dport = dport

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_fields(self)


@dataclass(slots=True, init=False)
class PrackTxn:
    branch: str
    src: str
    dst: str
    frames: list[int]
    ts: float
    rack: str
    answer: int = 0

    def __init__(
        self, branch: str, src: str, dst: str, frames: list[int], ts: float, rack: str,
        answer: int = 0,
    ) -> None:  # fmt: skip
        self.branch = branch
        self.src = src
        self.dst = dst
        self.frames = frames
        self.ts = ts
        self.rack = rack
        self.answer = answer

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_fields(self)


@dataclass(slots=True, init=False)
class CallState:
    draft: FlowDraft
    txns: list[InviteTxn] = field(default_factory=list)
    pracks: dict[tuple[str, str, str], PrackTxn] = field(default_factory=dict)
    cseq_by_tag: dict[str, int] = field(default_factory=dict)  # "from-tag|to-tag" -> CSeq
    seen_requests: set[tuple[str, int, str]] = field(default_factory=set)
    reliable_count: int = 0
    prack_count: int = 0
    digest_checked: set[tuple[int, str]] = field(default_factory=set)
    prack_cseqs: set[int] = field(default_factory=set)
    ended: bool = False  # BYE answered, or every INVITE got a non-2xx final response

    def __init__(
        self,
        draft: FlowDraft,
        txns: list[InviteTxn] | None = None,
        pracks: dict[tuple[str, str, str], PrackTxn] | None = None,
        cseq_by_tag: dict[str, int] | None = None,
        seen_requests: set[tuple[str, int, str]] | None = None,
        reliable_count: int = 0,
        prack_count: int = 0,
        digest_checked: set[tuple[int, str]] | None = None,
        prack_cseqs: set[int] | None = None,
        ended: bool = False,
    ) -> None:
        self.draft = draft
        self.txns = [] if txns is None else txns
        self.pracks = {} if pracks is None else pracks
        self.cseq_by_tag = {} if cseq_by_tag is None else cseq_by_tag
        self.seen_requests = set() if seen_requests is None else seen_requests
        self.reliable_count = reliable_count
        self.prack_count = prack_count
        self.digest_checked = set() if digest_checked is None else digest_checked
        self.prack_cseqs = set() if prack_cseqs is None else prack_cseqs
        self.ended = ended

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_fields(self)


@final  # told from a CallState by type() is
class ParkedCall(NamedTuple):
    """A call quiet for PARK_IDLE, serialized: a few hundred bytes instead of the several KiB
    of live objects (plus its finished Flow when it is settled, see ``flow``). Ended calls wait out 64*T1 for late messages, answered ones up to 300 s
    for their BYE, so a capture shorter than that holds every call. It is restored
    (:func:`unpark`), unchanged, when a message for it arrives or when it is finished; the
    sweep reads the fields here. (A NamedTuple: built for nearly every call, and a frozen
    dataclass costs about three times as much to build.)

    ``flow`` is the call's flow when finishing it unchanged gives the same flow whenever and
    however that happens (:meth:`InviteTracker._settled`): finishing then needs no
    :func:`unpark`. A message for the call drops it (the call changes)."""

    last_ts: float
    ended: bool
    confirmed: bool  # an INVITE got a 2xx
    blob: bytes
    flow: Flow | None = None


def park_call(call: CallState, flow_of: Callable[[CallState], Flow] | None = None) -> ParkedCall:
    """*call* serialized: a pickle of plain values (:func:`_pack`), which costs a fifth of
    pickling the objects themselves (their classes are looked up and reduced one by one).
    ``flow_of(call)``, when given, is the ParkedCall's ``flow``: called after serializing,
    since building a flow adds to the call's draft (given here rather than set afterwards
    with ``_replace``, which costs as much again as building the tuple)."""
    confirmed = False
    for txn in call.txns:
        if 200 <= txn.final < 300:
            confirmed = True
            break
    blob = pickle.dumps(_pack(call), pickle.HIGHEST_PROTOCOL)
    flow = None if flow_of is None else flow_of(call)
    return ParkedCall(call.draft.last_ts, call.ended, confirmed, blob, flow)


def unpark(parked: ParkedCall) -> CallState:
    """The call :func:`park_call` serialized, equal to the one parked."""
    return _unpack(pickle.loads(parked.blob))


# _pack/_unpack: every object as the tuple of its field values in field order (Cls(*values)
# builds it again), the fields holding objects (draft, txns, pracks, early dialogs and their
# reliable responses, findings) packed the same way in place.
def _pack(call: CallState) -> tuple[Any, ...]:
    return (
        call.draft.pack(),
        [_pack_txn(txn) for txn in call.txns],
        {key: field_values(prack) for key, prack in call.pracks.items()},
        call.cseq_by_tag,
        call.seen_requests,
        call.reliable_count,
        call.prack_count,
        call.digest_checked,
        call.prack_cseqs,
        call.ended,
    )


def _unpack(values: tuple[Any, ...]) -> CallState:
    return CallState(
        FlowDraft.unpack(values[0]),
        [_unpack_txn(txn) for txn in values[1]],
        {key: PrackTxn(*prack) for key, prack in values[2].items()},
        *values[3:],
    )


def _pack_txn(txn: InviteTxn) -> tuple[Any, ...]:
    return (
        txn.cseq,
        txn.branch,
        txn.src,
        txn.dst,
        txn.frames,
        txn.ts,
        txn.offers_100rel,
        {
            tag: (dlg.to_tag, dlg.last_rseq, {n: field_values(r) for n, r in dlg.reliable.items()})
            for tag, dlg in txn.early.items()
        },
        txn.final,
        txn.final_reason,
        txn.final_frames,
        txn.retrans,
        txn.with_auth,
        txn.sport,
        txn.dport,
    )


def _unpack_txn(values: tuple[Any, ...]) -> InviteTxn:
    early = {
        tag: EarlyDialog(to_tag, last, {n: Reliable(*r) for n, r in reliable.items()})
        for tag, (to_tag, last, reliable) in values[7].items()
    }
    return InviteTxn(*values[:7], early, *values[8:])  # type: ignore[call-arg]


def _starts_call(msg: SipMsg) -> bool:
    """An INVITE that can open a call: one without a CSeq, Call-ID or To (cut by the
    snapshot length, or malformed) names no transaction or dialog, so it makes no flow of
    placeholders ("sip::"); the analyzer notes its problems instead (as RegisterTracker)."""
    return (
        msg.is_request
        and msg.method == "INVITE"
        and msg.cseq >= 0
        and bool(msg.call_id)
        and bool(msg.headers.get("to"))
    )


def _has_option(values: Sequence[str] | None, tag: str) -> bool:
    """``tag in msg.options(header)`` for *values* = ``msg.headers.get(header)`` (a long
    lower-case name, as the parser keys them), without building the set: once per INVITE
    response, and most of them carry no Require at all."""
    if not values:
        return False
    return tag in [value.strip().lower() for value in values]


class InviteTracker:
    """Feed every message of Call-IDs that carry an INVITE; get one Flow per call.

    The handlers run for every message, so the hot ones read ``msg.rec`` and
    ``msg.headers`` directly: each SipMsg property (``msg.frame``, ``msg.first()``) is a
    Python call."""

    def __init__(
        self,
        *,
        passwords: Mapping[str, str] | None = None,
        max_calls: int = 20_000,
        timing: bool = True,
    ) -> None:
        self.passwords = passwords
        self.calls: LruTable[str, CallState | ParkedCall] = LruTable(max_calls)
        self.live: dict[str, None] = {}  # calls not parked, least recently active first
        self.done: list[Flow] = []
        self.end_ts = 0.0
        self.timing = timing
        #: Call-ID -> (CSeq, method) -> (reason, user, frame): digest responses that do not
        #: match the password file, judged when their request's final response comes (kept
        #: here, not in the call, so parking is unchanged; dropped when the call finishes)
        self.digest_pending: dict[str, dict[tuple[int, str], _Pending]] = {}

    def knows(self, call_id: str) -> bool:
        return self.calls.get(call_id) is not None

    def feed(self, msg: SipMsg) -> FlowDraft | None:
        return self._feed(msg, self.calls.get(msg.call_id))

    def track(self, msg: SipMsg) -> FlowDraft | None:
        """:meth:`feed` if *msg* is an INVITE or belongs to a call already seen, else None
        (what the analyzer does for every message: one table lookup for both questions)."""
        call = self.calls.get(msg.call_id)
        if call is None and not _starts_call(msg):
            return None
        return self._feed(msg, call)

    def _feed(self, msg: SipMsg, call: CallState | ParkedCall | None) -> FlowDraft | None:
        rec = msg.rec
        ts = rec.ts
        if ts > self.end_ts:
            self.end_ts = ts
        call_id = msg.call_id
        if call is None:
            if not _starts_call(msg):
                return None
            draft = FlowDraft("invite", call_id, call_id, first_ts=ts)
            draft.aor = msg.to.uri.aor
            call = CallState(draft=draft)
            for key, old in self.calls.put(call_id, call):
                self._finish(key, old, evicted=True)
        elif type(call) is ParkedCall:
            call = unpark(call)
            self.calls.replace(call_id, call)
        draft = call.draft
        frames = rec.frames
        mine = draft.frames
        if len(frames) == 1 and len(mine) < MAX_FLOW_FRAMES:
            # draft.add_frames() inlined for the usual one-frame message (every message)
            frame = frames[0]
            if not mine or mine[-1] != frame:
                mine.append(frame)
        else:
            draft.add_frames(frames)
        draft.last_ts = ts
        # the top Via branch, read once here: most handlers need it, and msg.branch is two
        # property calls (SipMsg.branch, Via.branch) each time
        via = msg.top_via
        branch = via.params.get("branch", "") if via is not None else ""
        if msg.is_request:
            self._request(call, msg, branch)
        else:
            self._response(call, msg, branch)
        live = self.live
        live.pop(call_id, None)
        live[call_id] = None
        return draft

    def park(self, now: float) -> None:
        """Serialize the calls quiet for PARK_IDLE at capture time *now* (see :class:`ParkedCall`).

        Call it between messages: the draft :meth:`feed` returned must not be used after."""
        parked = []
        for key in self.live:
            call = self.calls.peek(key)
            if not isinstance(call, CallState):  # finished meanwhile
                parked.append(key)
                continue
            if now - call.draft.last_ts <= PARK_IDLE:
                break  # the rest were active more recently
            # most calls are settled, and finished from here: their flow now saves
            # restoring them
            state = park_call(call, self._final_flow if self._settled(call) else None)
            self.calls.replace(key, state)
            parked.append(key)
        for key in parked:
            del self.live[key]

    # -- requests ----------------------------------------------------------------------
    def _request(self, call: CallState, msg: SipMsg, branch: str) -> None:
        method = msg.method
        if method != "ACK" and method != "CANCEL" and msg.cseq >= 0:
            self._dialog_cseq(call, msg, branch)
        if method == "INVITE":
            self._invite(call, msg, branch)
        elif method == "PRACK":
            self._prack(call, msg, branch)
        elif method == "ACK":
            self._ack(call, msg)
        if self.passwords is None:  # digest checks only with passwords
            return
        auth_value = msg.first("authorization") or msg.first("proxy-authorization")
        if auth_value:
            dkey = (msg.cseq, msg.method)
            if dkey not in call.digest_checked:
                call.digest_checked.add(dkey)
                auth = parse_auth(auth_value)
                result = verify(auth, msg.method, self.passwords, msg.body)
                if result.ok:
                    call.draft.add(
                        "sip.digest",
                        Status.PASS,
                        f"{msg.method} {fmt_frames([msg.frame])}: {result.reason}",
                        [msg.frame],
                        REF_AUTH,
                    )
                elif result.ok is False:
                    pending = (result.reason, auth.get("username"), msg.frame)
                    if msg.method == "ACK":  # no response of its own: the INVITE's counts
                        self._digest_verdict(call, msg.method, pending, self._acked(call, msg))
                    else:
                        waiting = self.digest_pending.setdefault(msg.call_id, {})
                        if len(waiting) < 16:
                            waiting[dkey] = pending
                        else:
                            self._digest_verdict(call, msg.method, pending, None)
                elif not any(f.rule == "sip.digest.unverified" for f in call.draft.findings):
                    call.draft.add(
                        "sip.digest.unverified",
                        Status.PASS,
                        f"digest response of {msg.method} {fmt_frames([msg.frame])} not "
                        f"verified: {result.reason}",
                        [msg.frame],
                        REF_AUTH,
                    )

    @staticmethod
    def _acked(call: CallState, msg: SipMsg) -> int:
        """The final status of the INVITE an ACK acknowledges (0: not seen)."""
        for txn in reversed(call.txns):
            if txn.cseq == msg.cseq and txn.final:
                return txn.final
        return 0

    @staticmethod
    def _digest_verdict(
        call: CallState,
        method: str,
        pending: _Pending,
        answer: SipMsg | int | None,
    ) -> None:
        """The finding on a digest response that did not match the password file, given
        the final response to its request (for an ACK: the INVITE's final status; None:
        none was seen): see :func:`~ecc_doctor.captures.sip.digest.verdict_on_mismatch`."""
        reason, user, frame = pending
        frames = [frame]
        if isinstance(answer, int):  # an ACK: accepted when it acknowledges a 2xx
            accepted = 200 <= answer < 300
            severity = Status.WARN if accepted else Status.FAIL
            text = (
                f"digest response of user {user} does not match the password file although "
                f"the INVITE it acknowledges was accepted ({answer}): the password file may be "
                "out of date"
                if accepted
                else reason
            )
        else:
            mismatch = DigestCheck(False, reason)
            severity, text = verdict_on_mismatch(mismatch, user, answer, "the server")
            if severity is Status.WARN and answer is not None:
                frames.append(answer.frame)
        call.draft.add(
            "sip.digest", severity, f"{method} {fmt_frames([frame])}: {text}", frames, REF_AUTH
        )

    def _dialog_cseq(self, call: CallState, msg: SipMsg, branch: str) -> None:
        """(Called with ``msg.cseq >= 0``.)"""
        cseq = msg.cseq
        ident = (branch, cseq, msg.method)
        seen = call.seen_requests
        if ident in seen:  # a retransmission: checked already
            return
        if len(seen) < 256:
            seen.add(ident)
        # NameAddr.tag read from the params: once per request, a property call saved each
        to_tag = msg.to.params.get("tag", "")
        tag = f"{msg.from_.params.get('tag', '')}|{to_tag}"
        by_tag = call.cseq_by_tag
        top = by_tag.get(tag)
        if top is None:
            if len(by_tag) < 64:
                by_tag[tag] = cseq
            return
        if cseq > top:
            by_tag[tag] = cseq
        elif cseq < top and to_tag:
            call.draft.add(
                "sip.dialog.cseq",
                Status.WARN,
                f"{msg.method} {fmt_frames([msg.frame])} has CSeq {msg.cseq}, lower than "
                f"the {top} already used in this dialog: the peer may reject it with 500",
                [msg.frame],
                "RFC 3261 §12.2.1.1, §12.2.2",
            )

    def _invite(self, call: CallState, msg: SipMsg, branch: str) -> None:
        rec = msg.rec
        src, dst = rec.src, rec.dst
        sport, dport = rec.sport, rec.dport
        for txn in call.txns:
            if (
                txn.branch == branch
                and txn.src == src
                and txn.dst == dst
                and txn.sport == sport
                and txn.dport == dport
            ):
                txn.retrans += 1
                if len(txn.frames) < MAX_FLOW_FRAMES:  # a flood of copies: memory stays bounded
                    txn.frames.append(rec.frames[-1])
                return
        headers = msg.headers
        offers = _has_option(headers.get("supported"), "100rel") or _has_option(
            headers.get("require"), "100rel"
        )
        call.txns.append(
            InviteTxn(
                cseq=msg.cseq,
                branch=branch,
                src=src,
                dst=dst,
                frames=[rec.frames[-1]],
                ts=rec.ts,
                offers_100rel=offers,
                with_auth=bool(headers.get("authorization") or headers.get("proxy-authorization")),
                sport=sport,
                dport=dport,
            )
        )
        if len(call.txns) > MAX_TXNS:
            call.txns.pop(0)

    def _find_txn(self, call: CallState, msg: SipMsg, branch: str) -> InviteTxn | None:
        """The INVITE transaction a response belongs to: same branch, on the reversed hop
        (addresses and ports, then addresses only: a UAS may answer from another port)."""
        rec = msg.rec
        src, dst, cseq = rec.src, rec.dst, msg.cseq
        best: InviteTxn | None = None
        same_addresses: InviteTxn | None = None
        for txn in reversed(call.txns):
            if txn.branch == branch and txn.cseq == cseq:
                if txn.src == dst and txn.dst == src:
                    if txn.sport == rec.dport and txn.dport == rec.sport:
                        return txn
                    same_addresses = same_addresses or txn
                best = best or txn
        if same_addresses is not None:
            return same_addresses
        if best is not None:
            return best
        for txn in reversed(call.txns):
            if txn.cseq == cseq and txn.src == dst and txn.dst == src:
                return txn
        return None

    def _prack(self, call: CallState, msg: SipMsg, branch: str) -> None:
        draft = call.draft
        rec = msg.rec
        src, dst = rec.src, rec.dst
        frame = rec.frames[-1]
        pkey = (branch, src, dst)
        pracks = call.pracks
        known = pracks.get(pkey)
        if known is not None:
            if len(known.frames) < MAX_FLOW_FRAMES:
                known.frames.append(frame)  # retransmission
            return
        rack = " ".join(msg.first("rack").split())
        pracks[pkey] = PrackTxn(branch, src, dst, [frame], rec.ts, rack)
        if len(pracks) > 64:
            pracks.pop(next(iter(pracks)))
        call.prack_count += 1
        if len(call.prack_cseqs) < 64:
            call.prack_cseqs.add(msg.cseq)
        f = [frame]
        parts = rack.split(" ")
        rseq = int_or_none(parts[0]) if parts else None
        rcseq = int_or_none(parts[1]) if len(parts) > 1 else None
        rmethod = parts[2].upper() if len(parts) > 2 else ""
        if rseq is None or rcseq is None or not rmethod or len(parts) != 3:
            draft.add(
                "sip.prack.rack",
                Status.FAIL,
                f"PRACK {fmt_frames(f)} has no valid RAck ({rack or 'missing'}): expected "
                "'<RSeq> <INVITE CSeq> INVITE'",
                f,
                REF_RACK,
            )
            return
        # the INVITE of the PRACK's own hop: a proxy relays the PRACK with its own branch,
        # and the two legs differ only by port when it shares the address of a phone
        same_addresses = [t for t in call.txns if t.src == src and t.dst == dst]
        same_hop = [t for t in same_addresses if t.sport == rec.sport and t.dport == rec.dport]
        candidates = same_hop or same_addresses or list(call.txns)
        if not candidates:
            return
        tag = msg.to.tag
        txn = None
        for t in reversed(candidates):
            dlg = t.early.get(tag)
            if dlg is not None and rseq in dlg.reliable:
                txn = t
                break
        if txn is None:
            txn = candidates[-1]
        dlg = txn.early.get(tag)
        rel = dlg.reliable.get(rseq) if dlg is not None else None
        problems = []
        if rmethod != "INVITE":
            problems.append(f"names method {rmethod}, not INVITE")
        if rcseq != txn.cseq:
            problems.append(
                f"names CSeq {rcseq}, but the INVITE {fmt_frames(txn.frames[:1])} has CSeq {txn.cseq}"
            )
        # what the RAck should have named: the reliable 1xx it names, or else the oldest one
        # of its early dialog (of the transaction) still waiting for a PRACK
        meant = rel
        if rel is None:
            sent = sorted(r for d in txn.early.values() for r in d.reliable)
            problems.append(
                f"names RSeq {rseq}, which matches no reliable provisional response"
                + (f" (sent: {', '.join(map(str, sent))})" if sent else " (none seen)")
            )
            pool = (
                [*dlg.reliable.values()]
                if dlg is not None and dlg.reliable
                else [r for d in txn.early.values() for r in d.reliable.values()]
            )
            waiting = [r for r in pool if not r.pracked]
            meant = min(waiting or pool, key=lambda r: r.rseq, default=None)
        frames = f + (meant.frames[:1] if meant else []) + txn.frames[:1]
        if problems:
            expected = (
                f" (expected '{meant.rseq} {txn.cseq} INVITE', for {meant.status} "
                f"{fmt_frames(meant.frames[:1])})"
                if meant is not None
                else ""  # no reliable 1xx seen ("none seen" above): nothing to expect
            )
            draft.add(
                "sip.prack.rack",
                Status.FAIL,
                f"PRACK {fmt_frames(f)} RAck '{rack}' " + "; ".join(problems) + expected,
                frames,
                REF_RACK,
            )
        if rel is not None:
            if rel.pracked and not problems:
                draft.add(
                    "sip.prack.duplicate",
                    Status.WARN,
                    f"PRACK {fmt_frames(f)} acknowledges RSeq {rseq} a second time "
                    f"(first PRACK {fmt_frames(rel.prack_frames[:1])})",
                    frames,
                    REF_PRACK,
                )
            rel.pracked = True
            if len(rel.prack_frames) < MAX_FLOW_FRAMES:
                rel.prack_frames.extend(f)

    def _ack(self, call: CallState, msg: SipMsg) -> None:
        if not call.txns:
            return
        cseq = msg.cseq
        for t in call.txns:
            if t.cseq == cseq:
                return
        f = [msg.frame]
        latest = call.txns[-1]
        prack_cseq = msg.cseq in call.prack_cseqs
        draft = call.draft
        draft.add(
            "sip.prack.ack-cseq",
            Status.FAIL,
            f"ACK {fmt_frames(f)} carries CSeq {msg.cseq}, not the INVITE's CSeq "
            f"{latest.cseq} ({fmt_frames(latest.frames[:1])})"
            + (" but the PRACK's" if prack_cseq else ""),
            f + latest.frames[:1],
            "RFC 3261 §13.2.2.4, §17.1.1.3; RFC 3262 §4",
        )

    # -- responses ---------------------------------------------------------------------
    def _response(self, call: CallState, msg: SipMsg, branch: str) -> None:
        method = msg.method
        if self.digest_pending and msg.status >= 200:
            waiting = self.digest_pending.get(msg.call_id)
            pending = waiting.pop((msg.cseq, method), None) if waiting else None
            if pending is not None:
                self._digest_verdict(call, method, pending, msg)
        if method == "INVITE":
            txn = self._find_txn(call, msg, branch)
            if txn is not None:
                self._invite_response(call, txn, msg)
        elif method == "BYE":
            if msg.status >= 200:
                call.ended = True
        elif method == "PRACK":
            pkey = (branch, msg.rec.dst, msg.rec.src)
            prack = call.pracks.get(pkey)
            if prack is None:
                for p in call.pracks.values():
                    if p.branch == branch:
                        prack = p
                        break
            if prack is None or msg.status < 200 or prack.answer:
                return
            prack.answer = msg.status
            f = prack.frames[:1] + [msg.frame]
            if msg.status == 481:
                call.draft.add(
                    "sip.prack.response",
                    Status.FAIL,
                    f"PRACK {fmt_frames(prack.frames[:1])} answered 481 {msg.reason} "
                    f"({fmt_frames([msg.frame])}): the UAS found no reliable response "
                    f"matching RAck '{prack.rack}'",
                    f,
                    REF_PRACK,
                )
            elif msg.status >= 300:
                call.draft.add(
                    "sip.prack.response",
                    Status.FAIL,
                    f"PRACK {fmt_frames(prack.frames[:1])} answered {msg.status} {msg.reason} "
                    f"({fmt_frames([msg.frame])})",
                    f,
                    REF_PRACK,
                )

    def _invite_response(self, call: CallState, txn: InviteTxn, msg: SipMsg) -> None:
        draft = call.draft
        headers = msg.headers
        if msg.status < 200:
            if not _has_option(headers.get("require"), "100rel"):
                return
            f = [msg.rec.frames[-1]]
            if msg.status == 100:
                draft.add(
                    "sip.prack.rseq",
                    Status.FAIL,
                    f"100 Trying {fmt_frames(f)} is sent reliably (Require: 100rel): only "
                    "101-199 may be",
                    f,
                    "RFC 3262 §3",
                )
                return
            if not txn.offers_100rel:
                draft.add(
                    "sip.prack.unsupported",
                    Status.FAIL,
                    f"{msg.label} {fmt_frames(f)} requires 100rel, but the INVITE "
                    f"{fmt_frames(txn.frames[:1])} offered neither Supported nor Require: 100rel",
                    f + txn.frames[:1],
                    "RFC 3262 §3",
                )
            rseq_text = msg.first("rseq")
            rseq = int_or_none(rseq_text)
            if rseq is None or not 1 <= rseq <= RSEQ_MAX:
                draft.add(
                    "sip.prack.rseq",
                    Status.FAIL,
                    f"reliable {msg.label} {fmt_frames(f)} has "
                    + (f"RSeq {rseq_text!r}" if rseq_text else "no RSeq")
                    + f", expected a number 1..{RSEQ_MAX}",
                    f,
                    "RFC 3262 §3, §7.1",
                )
                return
            tag = msg.to.tag
            dlg = txn.early.get(tag)
            if dlg is None:
                dlg = txn.early[tag] = EarlyDialog(tag)
            rel = dlg.reliable.get(rseq)
            if rel is not None:  # retransmission of the same reliable 1xx
                rel.sent += 1
                # a flood of copies: the frame lists stay bounded, rel.sent counts them all
                if rel.pracked and len(rel.retrans_after_prack) < MAX_FLOW_FRAMES:
                    rel.retrans_after_prack.extend(f)
                if len(rel.frames) < MAX_FLOW_FRAMES:
                    rel.frames.extend(f)
                if len(rel.times) < 16:
                    rel.times.append(msg.ts)
                return
            call.reliable_count += 1
            if dlg.last_rseq is not None:
                prev = dlg.reliable.get(dlg.last_rseq)
                pf = prev.frames[:1] if prev else []
                if rseq != dlg.last_rseq + 1:
                    draft.add(
                        "sip.prack.rseq",
                        Status.FAIL,
                        f"RSeq jumped from {dlg.last_rseq} {fmt_frames(pf)} to {rseq} "
                        f"{fmt_frames(f)} in early dialog To-tag {tag or '(none)'}: each new "
                        "reliable provisional response must add exactly 1",
                        pf + f,
                        "RFC 3262 §3",
                    )
                elif prev is not None and not prev.pracked:
                    draft.add(
                        "sip.prack.order",
                        Status.WARN,
                        f"reliable {msg.label} {fmt_frames(f)} sent before RSeq {prev.rseq} "
                        f"{fmt_frames(pf)} was PRACKed",
                        pf + f,
                        "RFC 3262 §3",
                    )
            dlg.last_rseq = rseq
            body = msg.body  # not only whitespace: what bool(body.strip()) says, without a copy
            sdp = "sdp" in msg.first("content-type").lower() and bool(body) and not body.isspace()
            dlg.reliable[rseq] = Reliable(rseq, msg.status, list(f), [msg.ts], sdp=sdp)
            if len(dlg.reliable) > 32:
                dlg.reliable.pop(next(iter(dlg.reliable)))
            if len(txn.early) > 16:
                txn.early.pop(next(iter(txn.early)))
            return
        # final response
        f = [msg.rec.frames[-1]]
        rseq_values = headers.get("rseq")
        if rseq_values and rseq_values[0]:
            draft.add(
                "sip.prack.final-rseq",
                Status.FAIL,
                f"final {msg.label} {fmt_frames(f)} carries RSeq {rseq_values[0]}: only "
                "reliable provisional responses do",
                f,
                "RFC 3262 §3; SIP Adventures: PRACK (the final 200 has no RSeq)",
            )
        if not txn.final and txn.with_auth and msg.status in (401, 403, 407):
            draft.add(
                "sip.invite.auth",
                Status.WARN,
                f"INVITE with credentials {fmt_frames(txn.frames[:1])} refused: {msg.label} "
                f"{fmt_frames(f)}",
                txn.frames[:1] + f,
                REF_AUTH,
            )
        if not txn.final:
            txn.final = msg.status
            txn.final_reason = msg.reason
            txn.final_frames = list(f)
            for t in call.txns:
                if t.final < 300:
                    break
            else:  # every INVITE got a final non-2xx response
                call.ended = True

    # -- finishing ---------------------------------------------------------------------
    def sweep(self, now: float, idle: float) -> None:
        """Finish calls idle for *idle* seconds, ended ones idle for 64*T1, confirmed ones
        (2xx) idle for 300 s. Walks from the least recently active call and stops early."""

        def done(call: CallState | ParkedCall) -> bool | None:
            if type(call) is ParkedCall:
                quiet = now - call.last_ts
                if quiet <= TIMER_F:
                    return None
                return quiet > idle or call.ended or (quiet > CONFIRMED_IDLE and call.confirmed)
            quiet = now - call.draft.last_ts
            if quiet <= TIMER_F:
                return None
            if quiet > idle or call.ended:
                return True
            return quiet > CONFIRMED_IDLE and any(200 <= t.final < 300 for t in call.txns)

        self.calls.sweep(done, lambda key, call: self._finish(key, call, evicted=False))

    def finish_all(self) -> list[Flow]:
        for key, call in self.calls.drain():
            self._finish(key, call, evicted=False)
        return self.done

    def finish_each(self) -> Iterator[Flow]:
        """Like :meth:`finish_all` (same order), one call at a time: each call's state is
        released as soon as its flow is built, so the end of a capture needs no extra memory."""
        while (item := self.calls.pop_oldest()) is not None:
            self._finish(item[0], item[1], evicted=False)
            yield from self.done
            self.done.clear()

    def _finish(self, key: str, state: CallState | ParkedCall, *, evicted: bool) -> None:
        self.live.pop(key, None)
        if isinstance(state, ParkedCall):
            if state.flow is not None:
                self.done.append(state.flow)
                self.digest_pending.pop(key, None)
                return
            state = unpark(state)
        self.done.append(self._flow(state, evicted=evicted))
        self.digest_pending.pop(key, None)

    def _settled(self, call: CallState) -> bool:
        """Whether :meth:`_flow` gives the same flow for *call* whenever and however it is
        finished: no unanswered PRACK and no reliable response left unPRACKed before a final
        response (their verdicts depend on the end of the capture and on eviction), and no
        retransmitted one while timing may still be judged (the capture clock may yet
        turn out implausible: see ``timing``)."""
        for prack in call.pracks.values():
            if not prack.answer:
                return False
        for txn in call.txns:
            for dlg in txn.early.values():
                for rel in dlg.reliable.values():
                    if not (rel.pracked or txn.final) or (rel.sent > 1 and self.timing):
                        return False
        return True

    def _final_flow(self, call: CallState) -> Flow:
        return self._flow(call, evicted=False)

    def _flow(self, call: CallState, *, evicted: bool) -> Flow:
        """The flow of a finished call (adds the verdicts made at the end to its draft)."""
        draft = call.draft
        for (_, method), pending in self.digest_pending.get(draft.call_id, {}).items():
            self._digest_verdict(call, method, pending, None)  # no final response seen
        for txn in call.txns:
            for dlg in txn.early.values():
                for rel in dlg.reliable.values():
                    self._judge_reliable(draft, txn, rel, evicted)
        for prack in call.pracks.values():
            if not prack.answer:
                waited = self.end_ts - prack.ts
                sev = Status.FAIL if waited >= TIMER_F and not evicted else Status.WARN
                draft.add(
                    "sip.prack.response",
                    sev,
                    f"PRACK {fmt_frames(prack.frames[:1])} (RAck '{prack.rack}') got no final response"
                    + ("" if sev is Status.FAIL else " before the capture/flow ended"),
                    prack.frames[:1],
                    REF_PRACK,
                )
        return draft.build(self._summary(call))

    def _judge_reliable(
        self, draft: FlowDraft, txn: InviteTxn, rel: Reliable, evicted: bool
    ) -> None:
        copies = rel.sent - 1
        if rel.retrans_after_prack:
            draft.add(
                "sip.prack.retransmit",
                Status.WARN,
                f"reliable {rel.status} RSeq {rel.rseq} was still retransmitted after its "
                f"PRACK ({fmt_frames(rel.retrans_after_prack)})",
                rel.retrans_after_prack,
                "RFC 3262 §3 (retransmissions stop when the PRACK arrives)",
            )
        gaps = [b - a for a, b in zip(rel.times, rel.times[1:], strict=False)]
        timing = ""
        if copies and self.timing and gaps and all(0 <= g < 3600 for g in gaps):
            timing = " at intervals " + ", ".join(f"{g:.2f} s" for g in gaps[:6])
            for i, g in enumerate(gaps):
                expected = min(T1 * 2**i, 4.0)
                if g < expected / 2:
                    draft.add(
                        "sip.prack.retransmit",
                        Status.WARN,
                        f"reliable {rel.status} RSeq {rel.rseq} retransmitted after {g:.2f} s "
                        f"({fmt_frames(rel.frames[i + 1 : i + 2])}); T1 back-off expects about {expected:.1f} s",
                        rel.frames[i : i + 2],
                        "RFC 3262 §3 (T1, doubling)",
                    )
                    break
        if rel.pracked:
            if copies:
                draft.add(
                    "sip.prack.retransmit",
                    Status.PASS,
                    f"reliable {rel.status} RSeq {rel.rseq} sent {copies + 1} times{timing} "
                    f"until PRACKed {fmt_frames(rel.prack_frames[:1])}",
                    rel.frames,
                    REF_PRACK,
                )
            return
        waited = self.end_ts - rel.times[0]
        retrans = f" (retransmitted {copies} times{timing})" if copies else ""
        what = (
            f"reliable {rel.status} RSeq {rel.rseq} {fmt_frames(rel.frames[:1])} was never PRACKed"
        )
        if txn.final:
            # RFC 3262 §3: a final response may come first, unless it is a 2xx and the
            # unacknowledged reliable response carried a session description
            bad = 200 <= txn.final < 300 and rel.sdp
            draft.add(
                "sip.prack.missing",
                Status.FAIL if bad else Status.WARN,
                f"{what}{retrans} before the final {txn.final} {fmt_frames(txn.final_frames)}"
                + (": it carried SDP, so the 2xx had to wait for its PRACK" if bad else ""),
                rel.frames + txn.final_frames,
                REF_PRACK,
            )
            return
        cut = evicted or waited < TIMER_F
        draft.add(
            "sip.prack.missing",
            Status.WARN if cut else Status.FAIL,
            what
            + retrans
            + (
                " before the capture/flow ended"
                if cut
                else f"; after 64*T1 = {TIMER_F:.0f} s the UAS should have rejected the INVITE (5xx)"
            ),
            rel.frames,
            REF_PRACK,
        )

    def _summary(self, call: CallState) -> str:
        if not call.txns:
            return "INVITE"
        first = call.txns[0]
        final = None
        for t in reversed(call.txns):  # the last one with a final response
            if t.final:
                final = t
                break
        parts = [f"INVITE {fmt_frames(first.frames[:1])}"]
        if call.reliable_count:
            parts.append(f"{call.reliable_count} reliable 1xx, {call.prack_count} PRACK")
        elif any(t.offers_100rel for t in call.txns):
            parts.append("100rel offered, not used")
        else:
            parts.append("no 100rel")
        if final is not None:
            parts.append(
                f"final {final.final} {final.final_reason} {fmt_frames(final.final_frames)}".strip()
            )
        else:
            parts.append("no final response seen")
        if len(call.txns) > 1 and len({t.cseq for t in call.txns}) > 1:
            parts.append(f"{len({t.cseq for t in call.txns})} INVITE transactions")
        return "; ".join(parts)
