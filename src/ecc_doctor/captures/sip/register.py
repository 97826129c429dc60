"""REGISTER flows: challenge, authorized retry, 2xx, refreshes and de-registration.

Rules (RFC 3261 §10.2 and §22; SIP Adventures "REGISTER"):

* a challenge is 401 with WWW-Authenticate (or 407 with Proxy-Authenticate) naming realm and
  nonce (algorithm defaults to MD5);
* the retry carries (Proxy-)Authorization with that realm and nonce, the same Call-ID and
  From-tag, and a higher CSeq (normally + 1);
* the 2xx lists the bindings; the registrar may lower or raise the Expires asked for;
* refreshes keep Call-ID, From-tag and Contact and increase CSeq;
* de-registration is Expires: 0 (header or contact parameter, or ``Contact: *``), answered 2xx;
* more simultaneous contacts per AOR than Aura allows (10) is flagged;
* a nonce used twice with the same nonce-count is flagged (replay), unless the flow's own
  challenge gave it again: a registrar that gives one nonce to several challenges (Kamailio,
  within a second) is noted once;
* a 423 Interval Too Brief answered by a retry asking for at least Min-Expires (RFC 3261
  §10.2.8), and a cached nonce re-challenged without stale=true, answered with the new nonce,
  are notes once the retry is accepted;
* a flow that never completes, or ends in 403 (or another rejection) after a challenge, FAILs.

One flow is one Call-ID + AOR (the To URI). Per AOR the contacts currently bound are tracked
across flows, with a cap.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.sip.common import (
    REF_AUTH,
    REF_REGISTER,
    TIMER_F,
    FlowDraft,
    LruTable,
    fmt_frames,
)
from ecc_doctor.captures.sip.digest import DigestCheck, verdict_on_mismatch, verify
from ecc_doctor.captures.sip.message import Challenge, SipMsg, int_or_none, parse_auth
from ecc_doctor.models import Status

DEFAULT_EXPIRES: Final = 3600  # RFC 3261 §10.2.1.1: a registrar's default when none is asked for
AURA_MAX_CONTACTS: Final = 10  # SIP Adventures: "Avaya Aura supports up to ten such registrations"
#: per flow: (realm, nonce, nc) remembered as used, and 423/expired outcomes waiting for the
#: 2xx that settles them (beyond it they stay refusals: a hostile flow grows no list)
MAX_USED_NONCES: Final = 64
MAX_PENDING: Final = 64
#: per flow: outcomes kept (a registration refreshed for days must not grow a list), besides
#: the 423/expired ones waiting for their retry (MAX_PENDING at most): past it, those a
#: later 2xx overcame become their findings at once, and the oldest refusals since the last
#: 2xx are only counted (the flow's findings are capped at 64 anyway)
MAX_OUTCOMES: Final = 64
#: frames remembered per REGISTER transaction (its retransmissions, its answer's copies)
MAX_ATTEMPT_FRAMES: Final = 32


# Attempt and RegState write their __init__ out for the compiled build (one of each per
# REGISTER transaction and flow), as message.SipMsg explains.


@dataclass(slots=True, init=False)
class Attempt:
    """One REGISTER transaction (one CSeq) and what answered it."""

    cseq: int
    frames: list[int]
    ts: float
    auth: Challenge | None
    from_tag: str
    contacts: dict[str, int | None]  # contact URI -> requested expiry (None: not given)
    star: bool
    deregister: bool
    final: int = 0
    final_frames: list[int] = field(default_factory=list)
    final_reason: str = ""
    challenged: bool = False
    #: a digest response that does not match the password file, judged when the registrar
    #: has answered (a registrar that accepts it says the file is out of date)
    digest_mismatch: DigestCheck | None = None
    #: its credentials answer the flow's latest challenge with the nonce that challenge
    #: gave (not a nonce cached from an earlier one)
    fresh: bool = False

    def __init__(
        self,
        cseq: int,
        frames: list[int],
        ts: float,
        auth: Challenge | None,
        from_tag: str,
        contacts: dict[str, int | None],
        star: bool,
        deregister: bool,
        final: int = 0,
        final_frames: list[int] | None = None,
        final_reason: str = "",
        challenged: bool = False,
        digest_mismatch: DigestCheck | None = None,
        fresh: bool = False,
    ) -> None:
        self.cseq = cseq
        self.frames = frames
        self.ts = ts
        self.auth = auth
        self.from_tag = from_tag
        self.contacts = contacts
        self.star = star
        self.deregister = deregister
        self.final = final
        self.final_frames = [] if final_frames is None else final_frames
        self.final_reason = final_reason
        self.challenged = challenged
        self.digest_mismatch = digest_mismatch
        self.fresh = fresh


@dataclass(slots=True, init=False)
class RegState:
    draft: FlowDraft
    from_tag: str = ""
    contacts: frozenset[str] = frozenset()
    attempts: dict[int, Attempt] = field(default_factory=dict)
    last_cseq: int = -1
    challenge: Challenge | None = None
    challenge_frames: list[int] = field(default_factory=list)
    challenge_cseq: int = -1
    challenge_from_tag: str = ""
    #: the latest challenge has not been answered with credentials yet
    challenge_open: bool = False
    #: who sent the latest challenge (address, port): the registrar named in notes
    challenger: tuple[str, int] = ("", 0)
    nonces: set[str] = field(default_factory=set)
    #: (realm, nonce, nc) this flow's credentials used (bounded): a second use of one by
    #: the same flow is a replay whoever else the registrar gave the nonce to
    used: set[tuple[str, str, str]] = field(default_factory=set)
    # outcomes in order: ("ok" | "dereg" | "rejected" | "rechallenged" | "brief" |
    # "expired" | "settled", text, frames); "brief" (a 423) and "expired" (a cached nonce
    # re-challenged without stale=true) wait in ``pending`` for the next 2xx, which makes
    # them "settled" (a PASS note, not a refusal) when it is the retry they asked for
    outcomes: list[tuple[str, str, list[int]]] = field(default_factory=list)
    #: the "brief"/"expired" outcomes waiting: (index in ``outcomes``, a 423's Min-Expires,
    #: the note's text if the next 2xx settles it)
    pending: list[tuple[int, int | None, str]] = field(default_factory=list)
    #: refusals no longer in ``outcomes`` (see MAX_OUTCOMES): overcome ones already made
    #: their findings, the others are counted as findings not listed
    folded: int = 0
    unlisted: int = 0
    registered: int = 0
    deregistered: int = 0
    granted: int | None = None
    unverified: bool = False  # a digest the password file could not check was noted

    def __init__(
        self,
        draft: FlowDraft,
        from_tag: str = "",
        contacts: frozenset[str] = frozenset(),
        attempts: dict[int, Attempt] | None = None,
        last_cseq: int = -1,
        challenge: Challenge | None = None,
        challenge_frames: list[int] | None = None,
        challenge_cseq: int = -1,
        challenge_from_tag: str = "",
        challenge_open: bool = False,
        challenger: tuple[str, int] = ("", 0),
        nonces: set[str] | None = None,
        used: set[tuple[str, str, str]] | None = None,
        outcomes: list[tuple[str, str, list[int]]] | None = None,
        pending: list[tuple[int, int | None, str]] | None = None,
        folded: int = 0,
        unlisted: int = 0,
        registered: int = 0,
        deregistered: int = 0,
        granted: int | None = None,
        unverified: bool = False,
    ) -> None:
        self.draft = draft
        self.from_tag = from_tag
        self.contacts = contacts
        self.attempts = {} if attempts is None else attempts
        self.last_cseq = last_cseq
        self.challenge = challenge
        self.challenge_frames = [] if challenge_frames is None else challenge_frames
        self.challenge_cseq = challenge_cseq
        self.challenge_from_tag = challenge_from_tag
        self.challenge_open = challenge_open
        self.challenger = challenger
        self.nonces = set() if nonces is None else nonces
        self.used = set() if used is None else used
        self.outcomes = [] if outcomes is None else outcomes
        self.pending = [] if pending is None else pending
        self.folded = folded
        self.unlisted = unlisted
        self.registered = registered
        self.deregistered = deregistered
        self.granted = granted
        self.unverified = unverified

    def current(self) -> Attempt | None:
        return self.attempts.get(self.last_cseq)


def _requested(msg: SipMsg) -> tuple[dict[str, int | None], bool, bool]:
    header = msg.expires
    contacts: dict[str, int | None] = {}
    star = False
    for c in msg.contacts:
        if c.star:
            star = True
            continue
        exp = int_or_none(c.params.get("expires")) if "expires" in c.params else None
        contacts[_contact_key(c.uri.raw)] = exp if exp is not None else header
    if star:
        return contacts, True, True
    dereg = bool(contacts) and all(v == 0 for v in contacts.values())
    return contacts, False, dereg


def _contact_key(uri: str) -> str:
    return uri.strip().lower()


class RegisterTracker:
    """Feed REGISTER requests and responses; get Flows when they finish or are evicted."""

    def __init__(
        self,
        *,
        passwords: Mapping[str, str] | None = None,
        max_flows: int = 20_000,
        max_contacts: int = AURA_MAX_CONTACTS,
    ) -> None:
        self.passwords = passwords
        self.max_contacts = max_contacts
        self.flows: LruTable[str, RegState] = LruTable(max_flows)
        self.by_call: LruTable[str, str] = LruTable(max_flows * 2)  # call-id -> flow key
        self.nonce_use: LruTable[tuple[str, str, str], tuple[str, int, int]] = LruTable(50_000)
        self.bindings: LruTable[str, dict[str, tuple[float, str]]] = LruTable(max_flows)
        #: registrars already noted for giving one nonce to several challenges (bounded)
        self.reissuers: set[tuple[str, int]] = set()
        self.done: list[Flow] = []
        self.end_ts = 0.0

    # -- feeding -----------------------------------------------------------------------
    def feed(self, msg: SipMsg) -> FlowDraft | None:
        """Handle one REGISTER request or response; returns the draft it belongs to, or
        None for one that cannot be placed: without a CSeq, Call-ID or To URI (a message
        the snapshot length cut, or a malformed one) it names no flow or transaction, and
        the analyzer notes its problems instead."""
        self.end_ts = max(self.end_ts, msg.ts)
        if msg.cseq < 0 or not msg.call_id or not msg.headers.get("to"):
            return None
        if msg.is_request:
            return self._request(msg)
        return self._response(msg)

    def _key(self, msg: SipMsg) -> str:
        return f"{msg.call_id}|{msg.to.uri.aor}"

    def _request(self, msg: SipMsg) -> FlowDraft:
        key = self._key(msg)
        state = self.flows.get(key)
        if state is None:
            draft = FlowDraft("register", key, msg.call_id, aor=msg.to.uri.aor, first_ts=msg.ts)
            state = RegState(draft=draft)
            for old_key, old in self.flows.put(key, state):
                self._finish(old_key, old, evicted=True)
            self.by_call.put(msg.call_id, key)
        draft = state.draft
        draft.add_frames(msg.frames)
        draft.last_ts = msg.ts
        if msg.cseq in state.attempts:
            frames = state.attempts[msg.cseq].frames
            if len(frames) < MAX_ATTEMPT_FRAMES:  # a retransmission storm grows nothing
                frames.append(msg.frame)  # retransmission / next leg
            return draft
        contacts, star, dereg = _requested(msg)
        auth_value = msg.first("authorization") or msg.first("proxy-authorization")
        auth = parse_auth(auth_value) if auth_value else None
        from_tag = msg.from_.tag
        attempt = Attempt(
            cseq=msg.cseq,
            frames=[msg.frame],
            ts=msg.ts,
            auth=auth,
            from_tag=from_tag,
            contacts=contacts,
            star=star,
            deregister=dereg,
        )
        prev = state.current()
        if prev is not None:
            self._check_sequence(state, prev, attempt)
        if auth is not None:
            self._check_auth(state, msg, attempt, auth)
        state.attempts[msg.cseq] = attempt
        if len(state.attempts) > 8:
            self._digest_verdict(draft, state.attempts.pop(min(state.attempts)))
        state.last_cseq = max(state.last_cseq, msg.cseq)
        if not state.from_tag:
            state.from_tag = from_tag
        if contacts and not dereg and not state.contacts:
            state.contacts = frozenset(contacts)
        return draft

    def _check_sequence(self, state: RegState, prev: Attempt, attempt: Attempt) -> None:
        draft = state.draft
        frames = prev.frames[:1] + attempt.frames[:1]
        if attempt.cseq <= prev.cseq:
            draft.add(
                "sip.register.cseq",
                Status.FAIL,
                f"REGISTER CSeq went from {prev.cseq} to {attempt.cseq} in the same Call-ID: "
                "a registrar ignores a REGISTER whose CSeq does not increase",
                frames,
                "RFC 3261 §10.3 step 7",
            )
        if prev.final and 200 <= prev.final < 300 and not attempt.deregister:
            # a refresh of an existing binding
            if state.from_tag and attempt.from_tag and attempt.from_tag != state.from_tag:
                draft.add(
                    "sip.register.refresh",
                    Status.WARN,
                    f"refresh {fmt_frames(attempt.frames[:1])} changed the From-tag "
                    f"({state.from_tag} -> {attempt.from_tag})",
                    frames,
                    REF_REGISTER,
                )
            if (
                state.contacts
                and attempt.contacts
                and frozenset(attempt.contacts) != state.contacts
            ):
                draft.add(
                    "sip.register.refresh",
                    Status.WARN,
                    f"refresh {fmt_frames(attempt.frames[:1])} changed the Contact: the "
                    "registrar sees a new binding, not a refresh",
                    frames,
                    REF_REGISTER,
                )

    def _check_auth(self, state: RegState, msg: SipMsg, attempt: Attempt, auth: Challenge) -> None:
        draft = state.draft
        nonce, realm = auth.get("nonce"), auth.get("realm")
        ch = state.challenge
        # the first credentials after a challenge, with the nonce it gave, answer it
        fresh = state.challenge_open and ch is not None and nonce == ch.get("nonce")
        state.challenge_open = False
        attempt.fresh = fresh
        if ch is not None:
            cframes = state.challenge_frames[:1] + attempt.frames[:1]
            if nonce != ch.get("nonce"):
                older = nonce in state.nonces
                draft.add(
                    "sip.register.nonce",
                    Status.WARN,
                    f"REGISTER {fmt_frames(attempt.frames[:1])} answers the challenge "
                    f"{fmt_frames(state.challenge_frames[:1])} with "
                    + ("an older nonce" if older else "a nonce the challenge did not give")
                    + f" ({nonce!r} instead of {ch.get('nonce')!r})",
                    cframes,
                    REF_AUTH,
                )
            if realm != ch.get("realm"):
                draft.add(
                    "sip.register.realm",
                    Status.WARN,
                    f"Authorization realm {realm!r} differs from the challenge's {ch.get('realm')!r}",
                    cframes,
                    REF_AUTH,
                )
            if state.challenge_cseq >= 0 and attempt.cseq == state.challenge_cseq + 1:
                pass
            elif state.challenge_cseq >= 0 and attempt.cseq <= state.challenge_cseq:
                draft.add(
                    "sip.register.retry",
                    Status.FAIL,
                    f"the authorized REGISTER {fmt_frames(attempt.frames[:1])} has CSeq "
                    f"{attempt.cseq}, not higher than the challenged {state.challenge_cseq}",
                    cframes,
                    "RFC 3261 §22.2",
                )
            if state.challenge_from_tag and attempt.from_tag != state.challenge_from_tag:
                draft.add(
                    "sip.register.retry",
                    Status.WARN,
                    f"the authorized REGISTER {fmt_frames(attempt.frames[:1])} changed the "
                    f"From-tag ({state.challenge_from_tag} -> {attempt.from_tag})",
                    cframes,
                    "RFC 3261 §8.1.3.5",
                )
        # nonce replay: the same nonce and nonce-count in two different requests, unless
        # this flow's own challenge gave the nonce to this request (or gave it to the flow
        # and another flow used it): then the registrar issued it twice (Kamailio's
        # time-based nonce is the same for every challenge within a second)
        nkey = (realm, nonce, auth.get("nc"))
        first_use = nkey not in state.used
        if first_use and len(state.used) < MAX_USED_NONCES:
            state.used.add(nkey)
        seen = self.nonce_use.get(nkey)
        me = (msg.call_id, attempt.cseq, attempt.frames[0])
        if seen is None:
            self.nonce_use.put(nkey, me)
        elif seen[:2] == me[:2]:
            pass
        elif fresh or (first_use and seen[0] != msg.call_id and nonce in state.nonces):
            self.nonce_use.put(nkey, me)  # a later reuse in this flow is judged against this
            self._reissued(state, nonce, seen[2], attempt.frames[0])
        else:
            draft.add(
                "sip.register.nonce-replay",
                Status.WARN,
                f"nonce {nonce!r} (nc {auth.get('nc') or 'none'}) was already used in f{seen[2]}: "
                "a nonce is good for one request (replay, or the registrar issued it twice)",
                [seen[2], attempt.frames[0]],
                REF_AUTH,
            )
        if self.passwords is not None:
            result = verify(auth, "REGISTER", self.passwords, msg.body)
            if result.ok is False:
                attempt.digest_mismatch = result  # judged with the registrar's answer
            elif result.ok:
                draft.add("sip.digest", Status.PASS, result.reason, attempt.frames[:1], REF_AUTH)
            elif not state.unverified:
                state.unverified = True
                draft.add(
                    "sip.digest.unverified",
                    Status.PASS,
                    f"digest response of REGISTER {fmt_frames(attempt.frames[:1])} not "
                    f"verified: {result.reason}",
                    attempt.frames[:1],
                    REF_AUTH,
                )

    def _reissued(self, state: RegState, nonce: str, first: int, frame: int) -> None:
        """The nonce of REGISTER *frame* was used before (in *first*), but this flow's own
        challenge gave it: the registrar hands one nonce to several challenges. A note on the
        first flow where that is seen, once per registrar: not a finding per flow."""
        who = state.challenger
        if who in self.reissuers or len(self.reissuers) >= 64:
            return
        self.reissuers.add(who)
        addr, port = who
        name = f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
        state.draft.add(
            "sip.register.nonce-reissued",
            Status.PASS,
            f"registrar {name} gives the same nonce to more than one challenge ({nonce!r}, "
            f"used in f{first}, then given by this flow's challenge and used in f{frame}): not "
            "a replay (Kamailio and OpenSIPS reuse a time-based nonce within a second); "
            "noted once per registrar",
            [first, frame],
            REF_AUTH,
        )

    def _digest_verdict(
        self, draft: FlowDraft, attempt: Attempt, answer: SipMsg | None = None
    ) -> None:
        """The finding on a digest response that did not match the password file, now
        that the registrar's final *answer* to that REGISTER is known (None: none was
        seen): see :func:`~ecc_doctor.captures.sip.digest.verdict_on_mismatch`."""
        mismatch = attempt.digest_mismatch
        if mismatch is None:
            return
        attempt.digest_mismatch = None
        user = attempt.auth.get("username") if attempt.auth is not None else ""
        severity, text = verdict_on_mismatch(mismatch, user, answer, "the registrar")
        frames = attempt.frames[:1]
        if severity is Status.WARN and answer is not None:
            frames = frames + [answer.frame]
        draft.add("sip.digest", severity, text, frames, REF_AUTH)

    def _response(self, msg: SipMsg) -> FlowDraft | None:
        key = self._key(msg)
        state = self.flows.get(key)
        if state is None:
            return None  # the capture began after the request
        draft = state.draft
        draft.add_frames(msg.frames)
        draft.last_ts = msg.ts
        attempt = state.attempts.get(msg.cseq)
        if attempt is None or msg.status < 200:
            return draft
        if attempt.final:
            if len(attempt.final_frames) < MAX_ATTEMPT_FRAMES:
                attempt.final_frames.append(msg.frame)  # the same answer on another leg
            return draft
        attempt.final = msg.status
        attempt.final_frames = [msg.frame]
        attempt.final_reason = msg.reason
        self._digest_verdict(draft, attempt, msg)
        frames = attempt.frames[:1] + [msg.frame]
        if msg.status in (401, 407):
            self._challenge(state, msg, attempt)
        elif 200 <= msg.status < 300:
            self._success(state, msg, attempt)
        else:
            after = " after the challenge" if attempt.auth is not None else ""
            what = "de-registration" if attempt.deregister else "REGISTER"
            why = ""
            kind = "rejected"
            if msg.status == 403 and attempt.auth is not None:
                why = ": wrong password or unknown user"
            elif msg.status == 423:
                least = msg.first("min-expires")
                why = f": interval too brief (Min-Expires {least or '?'})"
                # RFC 3261 §10.2.8: the registrar's way to ask for a longer interval; a
                # retry asking for at least Min-Expires that is accepted settles it
                kind = "brief"
                note = (
                    f"{msg.status} {msg.reason}{after} (Min-Expires {least or '?'}, "
                    f"{fmt_frames(frames)}): the registrar asked for a longer interval"
                )
                if len(state.pending) < MAX_PENDING:
                    state.pending.append((len(state.outcomes), int_or_none(least), note))
            _outcome(
                state,
                (
                    kind,
                    f"{what} rejected with {msg.status} {msg.reason}{after}{why} "
                    f"({fmt_frames(frames)})",
                    frames,
                ),
            )
        return draft

    def _challenge(self, state: RegState, msg: SipMsg, attempt: Attempt) -> None:
        draft = state.draft
        header = "www-authenticate" if msg.status == 401 else "proxy-authenticate"
        value = msg.first(header)
        frames = attempt.frames[:1] + [msg.frame]
        if not value:
            draft.add(
                "sip.register.challenge",
                Status.FAIL,
                f"{msg.status} {fmt_frames([msg.frame])} has no {header.title()} header: "
                "the client cannot answer the challenge",
                frames,
                REF_AUTH,
            )
            _outcome(
                state,
                ("rejected", f"{msg.status} without a challenge ({fmt_frames(frames)})", frames),
            )
            return
        ch = parse_auth(value)
        missing = [p for p in ("realm", "nonce") if not ch.get(p)]
        if missing or ch.scheme.lower() != "digest":
            draft.add(
                "sip.register.challenge",
                Status.FAIL,
                f"challenge {fmt_frames([msg.frame])} is not a usable Digest challenge "
                f"(scheme {ch.scheme!r}, missing {', '.join(missing) or 'nothing'})",
                frames,
                REF_AUTH,
            )
        stale = ch.get("stale").lower() == "true"
        if attempt.auth is not None:
            attempt.challenged = not stale
            if stale:
                draft.add(
                    "sip.register.stale",
                    Status.PASS,
                    f"nonce was stale ({fmt_frames([msg.frame])}, stale=true): the client "
                    "must retry with the new nonce, same password",
                    frames,
                    REF_AUTH,
                )
            else:
                # credentials on a nonce cached from an earlier challenge, re-challenged
                # without stale=true: many registrars answer an expired nonce so (Kamailio
                # without the stale flag, Asterisk); the next 2xx on the new nonce settles it
                if not attempt.fresh:
                    note = (
                        "nonce expired, re-challenged without stale=true: "
                        f"{msg.status} {msg.reason} to the authorized "
                        + ("de-registration" if attempt.deregister else "REGISTER")
                        + f" with the nonce of an earlier challenge ({fmt_frames(frames)})"
                    )
                    if len(state.pending) < MAX_PENDING:
                        state.pending.append((len(state.outcomes), None, note))
                _outcome(
                    state,
                    (
                        "rechallenged" if attempt.fresh else "expired",
                        f"credentials refused: {msg.status} {msg.reason} to the authorized "
                        + ("de-registration" if attempt.deregister else "REGISTER")
                        + f" ({fmt_frames(frames)}, stale=false)",
                        frames,
                    ),
                )
        state.challenge = ch
        state.challenge_open = True
        state.challenger = (msg.rec.src, msg.rec.sport)
        state.challenge_frames = [msg.frame]
        state.challenge_cseq = attempt.cseq
        state.challenge_from_tag = attempt.from_tag
        if ch.get("nonce"):
            state.nonces.add(ch.get("nonce"))
            if len(state.nonces) > 64:
                state.nonces.pop()

    def _success(self, state: RegState, msg: SipMsg, attempt: Attempt) -> None:
        draft = state.draft
        frames = attempt.frames[:1] + [msg.frame]
        if state.pending:
            self._settle(state, attempt, frames)
        header = msg.expires
        granted_by: dict[str, int | None] = {}
        active: list[str] = []
        for c in msg.contacts:
            if c.star:
                continue
            exp = int_or_none(c.params.get("expires")) if "expires" in c.params else header
            k = _contact_key(c.uri.raw)
            granted_by[k] = exp
            if exp is None or exp > 0:
                active.append(k)
        if attempt.deregister:
            state.deregistered += 1
            _outcome(state, ("dereg", f"de-registered ({fmt_frames(frames)})", frames))
            draft.add(
                "sip.register.deregister",
                Status.PASS,
                f"de-registration (Expires: 0) answered {msg.status} {msg.reason} "
                f"({fmt_frames(frames)})",
                frames,
                REF_REGISTER,
            )
            state.granted = 0
            binds = self.bindings.get(draft.aor)
            if binds is not None:
                for k in attempt.contacts if not attempt.star else list(binds):
                    binds.pop(k, None)
            return
        state.registered += 1
        granted: int | None = None
        for k, asked in attempt.contacts.items():
            got = granted_by.get(k, header)
            if got is None:
                continue
            granted = got
            asked_eff = asked if asked is not None else None
            if asked_eff is not None and got != asked_eff:
                verb = "lowered" if got < asked_eff else "raised"
                draft.add(
                    "sip.register.expires",
                    Status.PASS,
                    f"registrar {verb} Expires from {asked_eff} to {got} s ({fmt_frames(frames)})",
                    frames,
                    "SIP Adventures: REGISTER (the registrar may raise or lower Expires)",
                )
        if granted is None and header is not None:
            granted = header
        state.granted = granted
        what = f"registered, expires {granted} s" if granted is not None else "registered"
        _outcome(state, ("ok", f"{what} ({fmt_frames(frames)})", frames))
        # simultaneous contacts for the AOR (this 2xx lists them; other Call-IDs add theirs)
        binds = self.bindings.get(draft.aor)
        if binds is None:
            binds = {}
            self.bindings.put(draft.aor, binds)
        for k in active:
            ttl = granted_by.get(k) or granted or DEFAULT_EXPIRES
            old = binds.get(k)
            if (
                old is not None
                and old[1] != draft.call_id
                and old[0] >= msg.ts
                and k in attempt.contacts
            ):
                draft.add(
                    "sip.register.call-id",
                    Status.PASS,
                    f"contact {k} was registered under another Call-ID ({old[1]}) and is now "
                    f"refreshed with a new one ({fmt_frames(frames)}): fine after a reboot, "
                    "otherwise a UA should keep its Call-ID",
                    frames,
                    "RFC 3261 §10.2.4",
                )
            binds[k] = (msg.ts + ttl, draft.call_id)
        for k in [k for k, (until, _) in binds.items() if until < msg.ts]:
            del binds[k]
        while len(binds) > 4 * self.max_contacts:
            binds.pop(next(iter(binds)))
        count = max(len(active), len(binds))
        if count > self.max_contacts:
            draft.add(
                "sip.register.contacts",
                Status.WARN,
                f"{count} contacts registered at once for {draft.aor} "
                f"({fmt_frames([msg.frame])}); Aura allows at most {self.max_contacts} per user",
                [msg.frame],
                "SIP Adventures: REGISTER (Aura: up to ten registrations per user); "
                "SM Max. Simultaneous Devices",
            )

    def _settle(self, state: RegState, attempt: Attempt, frames: list[int]) -> None:
        """A 2xx to *attempt* after a 423 or after an expired nonce was re-challenged
        without stale=true: the retry those asked for, accepted, makes them PASS notes (RFC
        3261 §10.2.8: a UA "MAY retry the registration with an expiration interval ... greater
        than or equal to" Min-Expires; RFC 2617 §3.2.1: a new nonce, same password). Any
        other retry leaves them refusals."""
        asked = [v for v in attempt.contacts.values() if v is not None]
        shortest = min(asked) if asked and len(asked) == len(attempt.contacts) else None
        for index, least, note in state.pending:
            kind, _, old_frames = state.outcomes[index]
            if kind == "brief":
                if attempt.deregister or least is None or shortest is None or shortest < least:
                    continue
                rule, ref = "sip.register.interval", "RFC 3261 §10.2.8, §10.3 step 7"
                note += f"; the retry asking for {shortest} s was accepted ({fmt_frames(frames)})"
            else:
                if not attempt.fresh:
                    continue
                rule, ref = "sip.register.stale", REF_AUTH
                note += f"; the retry with the new nonce was accepted ({fmt_frames(frames)})"
            state.outcomes[index] = ("settled", note, old_frames)
            state.draft.add(rule, Status.PASS, note, old_frames + frames, ref)
        state.pending.clear()

    # -- finishing ---------------------------------------------------------------------
    def sweep(self, now: float, idle: float) -> None:
        """Finish flows that saw nothing for *idle* seconds (oldest first, stops early)."""

        def done(state: RegState) -> bool | None:
            return True if now - state.draft.last_ts > idle else None

        self.flows.sweep(done, lambda key, state: self._finish(key, state, evicted=False))

    def finish_all(self) -> list[Flow]:
        for key, state in self.flows.drain():
            self._finish(key, state, evicted=False)
        return self.done

    def finish_each(self) -> Iterator[Flow]:
        """Like :meth:`finish_all` (same order), one flow at a time: each flow's state is
        released as soon as its Flow is built."""
        while (item := self.flows.pop_oldest()) is not None:
            self._finish(item[0], item[1], evicted=False)
            yield from self.done
            self.done.clear()

    def _finish(self, key: str, state: RegState, *, evicted: bool) -> None:
        draft = state.draft
        for attempt in state.attempts.values():
            self._digest_verdict(draft, attempt)  # the ones no final response answered
        cur = state.current()
        pending = cur is not None and not cur.final
        if pending and cur is not None:
            waited = self.end_ts - cur.ts
            if evicted:
                draft.add(
                    "sip.register.incomplete",
                    Status.WARN,
                    f"REGISTER CSeq {cur.cseq} ({fmt_frames(cur.frames[:1])}) had no final "
                    "response when the flow left the table (too many flows at once)",
                    cur.frames[:1],
                    REF_REGISTER,
                )
            else:
                sev = Status.FAIL if waited >= TIMER_F else Status.WARN
                note = (
                    "no final response"
                    if sev is Status.FAIL
                    else f"the capture ended {waited:.1f} s later, before a final response"
                )
                _outcome(
                    state,
                    (
                        "noanswer" if sev is Status.FAIL else "cut",
                        f"REGISTER CSeq {cur.cseq} ({fmt_frames(cur.frames[:1])}): {note}",
                        cur.frames[:1],
                    ),
                )
        elif cur is not None and cur.final in (401, 407) and not cur.challenged and not evicted:
            waited = self.end_ts - (cur.ts if cur else 0.0)
            sev_txt = "noanswer" if waited >= TIMER_F else "cut"
            _outcome(
                state,
                (
                    sev_txt,
                    f"challenged ({fmt_frames(cur.final_frames[:1])}) but no REGISTER with "
                    "credentials followed"
                    + ("" if sev_txt == "noanswer" else " before the capture ended"),
                    cur.final_frames[:1],
                ),
            )
        summary = self._verdict(state)
        self.done.append(draft.build(summary))

    def _verdict(self, state: RegState) -> str:
        draft = state.draft
        outcomes = state.outcomes
        last_good = _last_good(outcomes)
        for i, (kind, text, frames) in enumerate(outcomes):
            if kind not in GOOD:
                _outcome_finding(draft, kind, text, frames, final=i > last_good)
        draft.dropped_findings += state.unlisted
        if not outcomes:
            return "REGISTER seen, no outcome yet"
        kind, text, _ = outcomes[-1]
        parts = []
        if state.registered:
            parts.append(f"{state.registered} registration(s) accepted")
        if state.deregistered:
            parts.append(f"{state.deregistered} de-registration(s)")
        failures = state.folded + state.unlisted + sum(1 for o in outcomes if o[0] not in GOOD)
        if failures:
            parts.append(f"{failures} refused/unanswered")
        head = text if kind not in ("ok", "dereg") else f"last: {text}"
        return f"{head}; " + ", ".join(parts) if parts else head


#: outcomes that are not refusals
GOOD: Final = frozenset({"ok", "dereg", "settled"})


def _outcome(state: RegState, entry: tuple[str, str, list[int]]) -> None:
    """Append *entry* to the flow's outcomes, keeping them within MAX_OUTCOMES.

    Past the bound, the outcomes before the latest 2xx ("ok", "dereg") are folded: the
    refusals among them become their findings at once (WARN: a later attempt succeeded, as
    the verdict would say). If that is not enough, the oldest refusal since the latest 2xx
    that no pending 423/expired note refers to is dropped, counted as a finding not listed;
    never the newest two, so the refusal that ends a flow keeps its FAIL whatever follows it
    (an unanswered REGISTER the capture cut). Short flows keep every outcome, so their
    findings come out in the usual order."""
    outcomes = state.outcomes
    outcomes.append(entry)
    if len(outcomes) <= MAX_OUTCOMES:
        return
    last_good = _last_good(outcomes)
    if last_good > 0:
        # the pending notes all come after the latest 2xx (_settle cleared them at it)
        for kind, text, frames in outcomes[:last_good]:
            if kind not in GOOD:
                state.folded += 1
                _outcome_finding(state.draft, kind, text, frames, final=False)
        del outcomes[:last_good]
        state.pending[:] = [(j - last_good, least, n) for j, least, n in state.pending]
        if len(outcomes) <= MAX_OUTCOMES:
            return
        last_good = 0
    waiting = {index for index, _, _ in state.pending}
    for i in range(max(last_good, 0), len(outcomes) - 2):
        if outcomes[i][0] not in GOOD and i not in waiting:
            del outcomes[i]
            state.pending[:] = [(j - (j > i), least, n) for j, least, n in state.pending]
            state.unlisted += 1
            return


def _last_good(outcomes: list[tuple[str, str, list[int]]]) -> int:
    """The index of the latest 2xx ("ok", "dereg") among *outcomes*, -1 when none."""
    return max((i for i, o in enumerate(outcomes) if o[0] in ("ok", "dereg")), default=-1)


def _outcome_finding(
    draft: FlowDraft, kind: str, text: str, frames: list[int], *, final: bool
) -> None:
    """The finding of a refused or unanswered REGISTER; *final*: no 2xx came after it."""
    if kind == "cut":
        draft.add("sip.register.incomplete", Status.WARN, text, frames, REF_REGISTER)
        return
    rule, ref = (
        ("sip.register.incomplete", REF_REGISTER)
        if kind == "noanswer"
        else ("sip.register.rejected", REF_AUTH)
    )
    draft.add(
        rule,
        Status.FAIL if final else Status.WARN,
        text + ("" if final else " (a later attempt succeeded)"),
        frames,
        ref,
    )
