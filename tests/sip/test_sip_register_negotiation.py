"""REGISTER flows a registrar negotiates, on captures written here (QA report 5a, findings 1, 2
and 5): a 423 Interval Too Brief answered by a longer interval, a nonce the registrar gives to
several challenges (Kamailio: one time-based nonce per second), and a cached nonce that
expired, re-challenged by a plain 401 without stale=true. Real replays and real refusals
are still flagged."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import require_tool
from tests.pcapwrite import UDP, A, B, ipv4_frame, write_pcap
from tests.sip.test_sip_peers import ALICE_PW, SCEN, free_port, kamailio, tcpdump

from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.sip import register
from ecc_doctor.captures.sip.analyze import SipAnalysis, analyze_file
from ecc_doctor.captures.sip.common import MAX_FLOW_FINDINGS
from ecc_doctor.cli import cli
from ecc_doctor.models import Finding, Status

UA_PORT, REG_PORT = 40000, 5060


class Capture:
    """SIP messages between a UA (10.0.0.1:40000) and a registrar (10.0.0.2:5060), one
    frame each, written as a pcap; ``frame`` is the number of the last one sent."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    @property
    def frame(self) -> int:
        return len(self.frames)

    def _add(self, text: str, to_registrar: bool) -> int:
        data = (text.strip("\n") + "\n\n").replace("\n", "\r\n").encode()
        if to_registrar:
            self.frames.append(ipv4_frame(UDP, data, UA_PORT, REG_PORT, src=A, dst=B))
        else:
            self.frames.append(ipv4_frame(UDP, data, REG_PORT, UA_PORT, src=B, dst=A))
        return self.frame

    def register(
        self,
        cseq: int,
        *,
        call: str = "reg-1",
        expires: int = 3600,
        auth: str = "",
        extra: str = "",
    ) -> int:
        lines = [
            "REGISTER sip:example.com SIP/2.0",
            f"Via: SIP/2.0/UDP 10.0.0.1:40000;branch=z9hG4bK-{call}-{cseq}",
            "From: <sip:alice@example.com>;tag=ft1",
            "To: <sip:alice@example.com>",
            f"Call-ID: {call}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:alice@10.0.0.1:40000;line={call}>",
            f"Expires: {expires}",
        ]
        if auth:
            lines.append(f"Authorization: {auth}")
        if extra:
            lines.append(extra)
        return self._add("\n".join([*lines, "Content-Length: 0"]), True)

    def reply(self, status: str, cseq: int, *, call: str = "reg-1", extra: str = "") -> int:
        lines = [
            f"SIP/2.0 {status}",
            f"Via: SIP/2.0/UDP 10.0.0.1:40000;branch=z9hG4bK-{call}-{cseq}",
            "From: <sip:alice@example.com>;tag=ft1",
            "To: <sip:alice@example.com>;tag=rt",
            f"Call-ID: {call}",
            f"CSeq: {cseq} REGISTER",
        ]
        if extra:
            lines.extend(extra.split("\n"))
        return self._add("\n".join([*lines, "Content-Length: 0"]), False)

    def challenge(self, cseq: int, nonce: str, *, call: str = "reg-1", stale: bool = False) -> int:
        flag = ", stale=true" if stale else ""
        return self.reply(
            "401 Unauthorized",
            cseq,
            call=call,
            extra=f'WWW-Authenticate: Digest realm="example.com", nonce="{nonce}", '
            f"algorithm=MD5, qop=auth{flag}",
        )

    def ok(self, cseq: int, *, call: str = "reg-1", expires: int = 3600) -> int:
        return self.reply("200 OK", cseq, call=call, extra=f"Expires: {expires}")

    def analyze(self, tmp: Path) -> SipAnalysis:
        return analyze_file(write_pcap(tmp / "reg.pcap", self.frames))


def creds(nonce: str, nc: int) -> str:
    return (
        f'Digest username="alice", realm="example.com", nonce="{nonce}", uri="sip:example.com", '
        f'response="00000000000000000000000000000000", algorithm=MD5, qop=auth, nc={nc:08x}, '
        'cnonce="c0ffee"'
    )


def found(flow: Flow, rule: str) -> list[Finding]:
    return [f for f in flow.findings if f.rule == rule]


def every(a: SipAnalysis, rule: str) -> list[Finding]:
    return [f for fl in a.flows for f in fl.findings if f.rule == rule]


# --- finding 1: 423 Interval Too Brief ----------------------------------------------------


def _brief(c: Capture, retry_expires: int | None) -> tuple[int, int]:
    """REGISTER 20 s, challenged, 423 (Min-Expires 60); then (if given) a retry asking for
    *retry_expires* that is accepted. Returns the frames of the authorized REGISTER and 423."""
    c.register(1, expires=20)
    c.challenge(1, "n1")
    f3 = c.register(2, expires=20, auth=creds("n1", 1))
    f4 = c.reply("423 Interval Too Brief", 2, extra="Min-Expires: 60")
    if retry_expires is not None:
        c.register(3, expires=retry_expires, auth=creds("n1", 2))
        c.ok(3, expires=retry_expires)
    return f3, f4


def test_423_then_a_retry_with_a_longer_interval_passes_with_a_note(tmp_path: Path) -> None:
    c = Capture()
    f3, f4 = _brief(c, 120)
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.PASS, flow.findings
    assert flow.summary == "last: registered, expires 120 s (f5, f6); 1 registration(s) accepted"
    (note,) = found(flow, "sip.register.interval")
    assert note.severity is Status.PASS and note.frames == (f3, f4, 5, 6)
    assert "423 Interval Too Brief" in note.message and "Min-Expires 60" in note.message
    assert "the retry asking for 120 s was accepted (f5, f6)" in note.message
    assert "RFC 3261 §10.2.8" in note.reference
    assert not found(flow, "sip.register.rejected")
    # what the user reads: a PASS, no "refused"
    out = CliRunner().invoke(cli, ["analyze", str(tmp_path / "reg.pcap")])
    assert out.exit_code == 0, out.output
    assert "refused" not in out.output and "1 flow: 1 PASS" in out.output


def test_423_with_a_retry_still_too_short_stays_a_refusal(tmp_path: Path) -> None:
    c = Capture()
    f3, f4 = _brief(c, 30)  # below Min-Expires 60, yet accepted
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.WARN
    (rej,) = found(flow, "sip.register.rejected")
    assert rej.frames == (f3, f4) and "423 Interval Too Brief" in rej.message
    assert rej.message.endswith("(a later attempt succeeded)")
    assert "1 refused/unanswered" in flow.summary
    assert not found(flow, "sip.register.interval")


def test_423_never_retried_fails(tmp_path: Path) -> None:
    c = Capture()
    _brief(c, None)
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.FAIL
    (rej,) = found(flow, "sip.register.rejected")
    assert rej.severity is Status.FAIL and "Min-Expires 60" in rej.message


# --- finding 2: one nonce given to several challenges -----------------------------------


def test_clients_given_the_same_nonce_by_their_own_challenges_pass(tmp_path: Path) -> None:
    # three phones challenged within the same second, Kamailio gives all of them nonce "k1"
    c = Capture()
    for call in ("c1", "c2", "c3"):
        c.register(1, call=call)
        c.challenge(1, "k1", call=call)
        c.register(2, call=call, auth=creds("k1", 1))
        c.ok(2, call=call)
    a = c.analyze(tmp_path)
    assert [f.status for f in a.flows] == [Status.PASS] * 3, [f.findings for f in a.flows]
    assert not every(a, "sip.register.nonce-replay")
    (note,) = every(a, "sip.register.nonce-reissued")  # once for the registrar, not per flow
    assert note.severity is Status.PASS and note.frames == (3, 7)
    assert "registrar 10.0.0.2:5060 gives the same nonce" in note.message


def test_one_flow_given_the_same_nonce_again_passes(tmp_path: Path) -> None:
    # register, then de-register; each answers its own 401, the second 401 repeats the nonce
    c = Capture()
    c.register(1)
    c.challenge(1, "k1")
    c.register(2, auth=creds("k1", 1))
    c.ok(2)
    c.register(3, expires=0)
    c.challenge(3, "k1")
    c.register(4, expires=0, auth=creds("k1", 1))
    c.reply("200 OK", 4)
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.PASS, flow.findings
    assert not found(flow, "sip.register.nonce-replay")
    assert found(flow, "sip.register.nonce-reissued")


def test_nonce_and_count_reused_without_a_new_challenge_is_a_replay(tmp_path: Path) -> None:
    c = Capture()
    c.register(1)
    c.challenge(1, "n1")
    f3 = c.register(2, auth=creds("n1", 1))
    c.ok(2)
    f5 = c.register(3, auth=creds("n1", 1))  # the refresh repeats nc 1: no challenge gave it
    c.ok(3)
    (flow,) = c.analyze(tmp_path).flows
    (replay,) = found(flow, "sip.register.nonce-replay")
    assert replay.severity is Status.WARN and replay.frames == (f3, f5)
    assert not found(flow, "sip.register.nonce-reissued")


def test_a_flows_own_reuse_is_a_replay_after_the_registrar_gave_its_nonce_again(
    tmp_path: Path,
) -> None:
    """Review s7 #1: c2 legitimately gets c1's nonce from its own challenge; c1 then repeats
    its own nonce and nc without a new challenge: still a replay (it was hidden)."""
    c = Capture()
    c.register(1, call="c1")
    c.challenge(1, "n1", call="c1")
    c.register(2, call="c1", auth=creds("n1", 1))
    c.ok(2, call="c1")
    c.register(1, call="c2")
    c.challenge(1, "n1", call="c2")  # Kamailio: the same nonce within the second
    f7 = c.register(2, call="c2", auth=creds("n1", 1))
    c.ok(2, call="c2")
    f9 = c.register(3, call="c1", auth=creds("n1", 1))  # c1 again, nc 1, no challenge
    c.ok(3, call="c1")
    a = c.analyze(tmp_path)
    (replay,) = every(a, "sip.register.nonce-replay")
    assert replay.frames == (f7, f9)
    c1 = next(f for f in a.flows if f.key.startswith("c1"))
    assert c1.status is Status.WARN


def test_another_flows_nonce_without_a_challenge_giving_it_is_a_replay(tmp_path: Path) -> None:
    c = Capture()
    c.register(1, call="c1")
    c.challenge(1, "k1", call="c1")
    f3 = c.register(2, call="c1", auth=creds("k1", 1))
    c.ok(2, call="c1")
    c.register(1, call="c2")
    c.challenge(1, "k2", call="c2")  # c2 was given k2, answers with c1's k1
    f7 = c.register(2, call="c2", auth=creds("k1", 1))
    c.ok(2, call="c2")
    a = c.analyze(tmp_path)
    (replay,) = every(a, "sip.register.nonce-replay")
    assert replay.frames == (f3, f7)
    assert not every(a, "sip.register.nonce-reissued")


# --- finding 5: an expired nonce re-challenged without stale=true -----------------------


def test_expired_nonce_rechallenged_without_stale_passes_with_a_note(tmp_path: Path) -> None:
    c = Capture()
    c.register(1)
    c.challenge(1, "n1")
    c.register(2, auth=creds("n1", 1))
    c.ok(2)
    f5 = c.register(3, auth=creds("n1", 2))  # the refresh reuses the cached nonce
    f6 = c.challenge(3, "n2")  # expired: a plain 401, no stale=true
    c.register(4, auth=creds("n2", 1))
    c.ok(4)
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.PASS, flow.findings
    assert flow.summary.endswith("; 2 registration(s) accepted")
    (note,) = found(flow, "sip.register.stale")
    assert note.severity is Status.PASS and note.frames == (f5, f6, 7, 8)
    assert note.message.startswith("nonce expired, re-challenged without stale=true: ")
    assert "the retry with the new nonce was accepted (f7, f8)" in note.message
    assert not found(flow, "sip.register.rejected")


def test_rechallenge_of_credentials_on_the_fresh_nonce_stays_a_refusal(tmp_path: Path) -> None:
    c = Capture()
    c.register(1)
    c.challenge(1, "n1")
    f3 = c.register(2, auth=creds("n1", 1))  # answers the challenge it was given...
    f4 = c.challenge(2, "n2")  # ...and is refused all the same
    c.register(3, auth=creds("n2", 1))
    c.ok(3)
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.WARN
    (rej,) = found(flow, "sip.register.rejected")
    assert rej.frames == (f3, f4) and rej.message.startswith("credentials refused: 401")
    assert not found(flow, "sip.register.stale")


def test_expired_nonce_rechallenged_and_never_retried_fails(tmp_path: Path) -> None:
    c = Capture()
    c.register(1)
    c.challenge(1, "n1")
    c.register(2, auth=creds("n1", 1))
    c.ok(2)
    c.register(3, auth=creds("n1", 2))
    c.challenge(3, "n2")
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.FAIL
    (rej,) = found(flow, "sip.register.rejected")
    assert rej.severity is Status.FAIL and "credentials refused" in rej.message


# --- real peers: Kamailio challenges several phones within one second ---------------------


@pytest.mark.peer
@pytest.mark.timeout(120)
def test_registrations_in_the_same_second_through_kamailio_pass(tmp_path: Path) -> None:
    # SIPp registers 4 times 10 ms apart, each Call-ID answering its own 401: Kamailio gives
    # the same time-based nonce to the challenges of one second (at least two of the four)
    sipp_exe = require_tool("sipp")
    out = tmp_path / "same_second.pcap"
    port = free_port()
    with kamailio(tmp_path, port), tcpdump(out, [port, port + 1], tmp_path / "tcpdump.log"):
        done = subprocess.run(
            ["timeout", "45", sipp_exe, "-sf", str(SCEN / "reg.xml"), "-m", "4", "-r", "100"]
            + ["-timeout", "30", "-timeout_error", "-nostdin", "-i", "127.0.0.1"]
            + ["-p", str(port + 1), "-t", "u1", "-s", "alice", "-au", "alice"]
            + ["-ap", ALICE_PW, "-auth_uri", "lab.example", f"127.0.0.1:{port}"],
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-2000:]
    a = analyze_file(out, ports=(port,), passwords={"alice": ALICE_PW})
    flows = a.flows_of("register")
    assert len(flows) == 4
    assert all(f.status is Status.PASS for f in flows), [f.findings for f in flows]
    assert not every(a, "sip.register.nonce-replay")
    (note,) = every(a, "sip.register.nonce-reissued")
    assert f"registrar 127.0.0.1:{port} gives the same nonce" in note.message


# --- the findings cap ---------------------------------------------------------------------


def test_a_final_refusal_after_many_overcome_ones_still_fails(tmp_path: Path) -> None:
    """A flow lists at most MAX_FLOW_FINDINGS findings. Seventy refusals that a later
    registration overcame are WARNs that fill the list; the refusal that ends the flow comes
    last and must still make it FAIL (it used to be dropped by the cap: a WARN flow whose
    summary said it ended refused)."""
    c = Capture()
    cseq = 0
    for _ in range(70):
        cseq += 1
        c.register(cseq)
        c.reply("403 Forbidden", cseq)
    cseq += 1
    c.register(cseq)
    c.ok(cseq)
    cseq += 1
    last = (c.register(cseq), c.reply("403 Forbidden", cseq))
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.FAIL
    (final,) = [f for f in flow.findings if f.severity is Status.FAIL]
    assert final.rule == "sip.register.rejected" and final.frames == last
    assert len(flow.findings) == MAX_FLOW_FINDINGS + 1  # and the "more not listed" note
    (capped,) = found(flow, "sip.findings-capped")
    assert capped.message == "7 more findings not listed"


# --- a long-lived flow keeps bounded state --------------------------------------------------


@pytest.fixture
def outcome_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of the flow's outcome list after each outcome (the real function runs)."""
    sizes: list[int] = []
    real = register._outcome

    def spy(state: register.RegState, entry: tuple[str, str, list[int]]) -> None:
        real(state, entry)
        sizes.append(len(state.outcomes))

    monkeypatch.setattr(register, "_outcome", spy)
    return sizes


def test_a_registration_refreshed_many_times_keeps_a_bounded_list(
    tmp_path: Path, outcome_sizes: list[int]
) -> None:
    c = Capture()
    for cseq in range(1, 301):
        c.register(cseq)
        c.ok(cseq)
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.PASS
    assert (
        flow.summary
        == "last: registered, expires 3600 s (f599, f600); 300 registration(s) accepted"
    )
    assert len(outcome_sizes) == 300 and max(outcome_sizes) <= register.MAX_OUTCOMES + 1


def test_refusals_overcome_again_and_again_stay_warnings_with_the_right_counts(
    tmp_path: Path, outcome_sizes: list[int]
) -> None:
    c = Capture()
    cseq = 0
    for _ in range(100):
        cseq += 1
        c.register(cseq)
        c.reply("403 Forbidden", cseq)
        cseq += 1
        c.register(cseq)
        c.ok(cseq)
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.WARN
    assert flow.summary.endswith("100 registration(s) accepted, 100 refused/unanswered")
    rejected = found(flow, "sip.register.rejected")
    assert len(rejected) == MAX_FLOW_FINDINGS
    assert all(
        f.severity is Status.WARN and "later attempt succeeded" in f.message for f in rejected
    )
    assert rejected[0].frames == (1, 2)  # the oldest come first, as in a short flow
    (capped,) = found(flow, "sip.findings-capped")
    assert capped.message == "36 more findings not listed"
    assert max(outcome_sizes) <= register.MAX_OUTCOMES + 1


def test_endless_refusals_fail_on_the_last_one_with_every_refusal_counted(
    tmp_path: Path, outcome_sizes: list[int]
) -> None:
    c = Capture()
    for cseq in range(1, 201):
        c.register(cseq)
        last = c.reply("403 Forbidden", cseq)
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.FAIL
    assert flow.summary.startswith("REGISTER rejected with 403 Forbidden (f399, f400)")
    assert flow.summary.endswith("; 200 refused/unanswered")
    assert (last - 1, last) in [f.frames for f in found(flow, "sip.register.rejected")]
    assert all(f.severity is Status.FAIL for f in found(flow, "sip.register.rejected"))
    (capped,) = found(flow, "sip.findings-capped")
    assert capped.message == f"{200 - MAX_FLOW_FINDINGS} more findings not listed"
    assert max(outcome_sizes) <= register.MAX_OUTCOMES + 1


def test_a_423_waiting_among_many_refusals_is_still_settled_by_its_retry(
    tmp_path: Path, outcome_sizes: list[int]
) -> None:
    """The 423 waits in the pending list for the retry it asked for; the refusals around it
    are dropped from the bounded list (counted), never the 423 (its index is kept right)."""
    c = Capture()
    cseq = 0
    for _ in range(40):
        cseq += 1
        c.register(cseq)
        c.reply("403 Forbidden", cseq)
    cseq += 1
    c.register(cseq, expires=20)
    c.reply("423 Interval Too Brief", cseq, extra="Min-Expires: 60")
    for _ in range(40):
        cseq += 1
        c.register(cseq)
        c.reply("403 Forbidden", cseq)
    cseq += 1
    c.register(cseq, expires=60)
    c.ok(cseq, expires=60)
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.WARN
    # the 423 is settled (a note, not a refusal): 80 refusals, not 81
    assert flow.summary.endswith("1 registration(s) accepted, 80 refused/unanswered")
    assert max(outcome_sizes) <= register.MAX_OUTCOMES + 1


def test_a_retransmission_storm_of_one_register_keeps_bounded_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A REGISTER seen 2,000 times and its answer 2,000 times: one transaction whose
    frame lists stay within MAX_ATTEMPT_FRAMES, and the flow's verdict is unchanged."""
    c = Capture()
    # copies that differ (as on another leg through a proxy): the duplicate filter keeps them
    for n in range(2000):
        c.register(1, extra=f"X-Leg: {n}")
    for n in range(2000):
        c.reply("200 OK", 1, extra=f"Expires: 3600\nX-Leg: {n}")
    seen: list[register.RegState] = []
    real = register.RegisterTracker._finish

    def spy(self: register.RegisterTracker, key: str, state: register.RegState, **kw: bool) -> None:
        seen.append(state)
        real(self, key, state, **kw)

    monkeypatch.setattr(register.RegisterTracker, "_finish", spy)
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.PASS and "1 registration(s) accepted" in flow.summary
    (state,) = seen
    (attempt,) = state.attempts.values()
    assert attempt.frames[0] == 1 and attempt.final_frames[0] == 2001
    assert len(attempt.frames) == len(attempt.final_frames) == register.MAX_ATTEMPT_FRAMES


def test_the_refusal_that_ends_a_long_flow_keeps_its_fail_before_a_cut_register(
    tmp_path: Path, outcome_sizes: list[int]
) -> None:
    """64 refreshes fill the list; the 403 after them ends the flow, then a REGISTER the
    capture cut (WARN). The 403 must not be the refusal the bound drops (review s9: it was,
    and the flow came out WARN where a short flow is FAIL)."""
    c = Capture()
    for cseq in range(1, 65):
        c.register(cseq)
        c.ok(cseq)
    refused = (c.register(65), c.reply("403 Forbidden", 65))
    c.register(66)
    (flow,) = c.analyze(tmp_path).flows
    assert flow.status is Status.FAIL
    (final,) = [f for f in flow.findings if f.severity is Status.FAIL]
    assert final.rule == "sip.register.rejected" and final.frames == refused
    assert flow.summary.endswith("64 registration(s) accepted, 2 refused/unanswered")
    assert max(outcome_sizes) <= register.MAX_OUTCOMES + 1
