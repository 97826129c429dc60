"""The verdicts PROVENANCE.md lists for the public captures, and both engines agreeing."""

from __future__ import annotations

import pytest
from tests.conftest import FIXTURES, PUBLIC_CAPTURES, require_shared, require_tool

from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.sip.analyze import SipAnalysis, analyze_file
from ecc_doctor.models import Status

PORTS = (5060, 5061, 5062, 5160, 6060, 15060, 25060)


def public(name: str, engine: str = "scapy") -> SipAnalysis:
    return analyze_file(require_shared(PUBLIC_CAPTURES / name), engine=engine, ports=PORTS)


def flow(a: SipAnalysis, call_id: str, aor: str = "") -> Flow:
    found = [f for f in a.flows if f.call_id == call_id and (not aor or f.aor == aor)]
    assert len(found) == 1, [(f.call_id, f.aor) for f in a.flows]
    return found[0]


def rules(fl: Flow, severity: Status | None = None) -> list[str]:
    return [f.rule for f in fl.findings if severity is None or f.severity == severity]


def test_zeek_digest_flows_and_wrong_password() -> None:
    a = public("zeek-sip-wireshark.pcap")
    cid = "578222729-4665d775@578222732-4665d772"
    wrong = flow(a, cid, "sip:voi18063@sip.cybercity.dk")
    (rej,) = [f for f in wrong.findings if f.frames == (3, 5)]
    assert rej.severity is Status.FAIL and "403 Wrong password after the challenge" in rej.message
    ok = flow(a, cid, "sip:voi18062@sip.cybercity.dk")
    assert "1 registration(s) accepted" in ok.summary and 18 in ok.frames
    # the re-challenge "401 nonce has changed" after Authorization is reported, f13 then OK
    assert any(f.frames == (12, 13) and f.severity is Status.WARN for f in ok.findings)
    second = flow(a, "29858147-465b0752@29858051-465b07b2")
    assert "registered, expires 1200 s (f79, f81)" in second.summary
    assert second.status is Status.WARN  # From-tag changes on every retry: a real quirk
    # INVITE with Proxy-Authorization refused with 403
    inv = flow(a, "85216695-42dcdb1d@192.168.1.2")
    assert rules(inv, Status.WARN) == ["sip.invite.auth"]


def test_zeek_password_file_names_the_wrong_password() -> None:
    a = analyze_file(
        require_shared(PUBLIC_CAPTURES / "zeek-sip-wireshark.pcap"),
        passwords={"voi18063": "surely-not-it"},
    )
    digest = [f for fl in a.flows for f in fl.findings if f.rule == "sip.digest"]
    assert digest and all(f.severity is Status.FAIL for f in digest)
    assert digest[0].message == (
        "digest response does not match the password for user voi18063: wrong password"
    )


def test_sipnab_auth_failure_403() -> None:
    a = public("sipnab-sip-auth-failure.pcapng")
    (fl,) = a.flows_of("register")
    assert fl.status is Status.FAIL and fl.aor.startswith("sip:telephone1@")
    (rej,) = [f for f in fl.findings if f.rule == "sip.register.rejected"]
    assert rej.frames == (3, 4) and "403 Forbidden after the challenge" in rej.message


def test_sipnab_routing_error_registrations_succeed() -> None:
    a = public("sipnab-sip-routing-error.pcapng")
    regs = a.flows_of("register")
    assert [f.status for f in regs] == [Status.PASS, Status.PASS]
    assert [max(f.frames) for f in regs] == [4, 10]


def test_sipnab_correct_prack() -> None:
    a = public("sipnab-rtp-protocol.pcap")
    fl = flow(a, "1907983263271201083544@10.33.6.101")
    assert fl.status is Status.PASS
    assert fl.summary == "INVITE f1; 1 reliable 1xx, 1 PRACK; final 200 OK f6"


def test_heplify_prack_over_split_tcp() -> None:
    a = public("heplify-sip_ipv4_tcp_fragmented.pcap")
    assert a.messages == 406  # 234 of them span 2-7 TCP segments
    pracked = [f for f in a.flows if "1 reliable 1xx, 1 PRACK" in f.summary]
    assert len(pracked) == 5
    assert all(not rules(f, Status.FAIL) for f in pracked)
    first = flow(a, "8014f9386592e8190b15b37b77600")
    assert {449, 453, 457, 458, 541, 545}.issubset(first.frames)
    assert {f.status for f in a.flows} == {Status.PASS}


def test_heplify_register_over_tcp_and_udp_without_double_count() -> None:
    a = public("heplify-sip_ipv4_tcp_retrans.pcap")
    assert a.messages == 8  # f38 (TCP retransmission of the 200) is not a second message
    regs = a.flows_of("register")
    assert len(regs) == 2 and all(f.status is Status.PASS for f in regs)
    assert all("1 registration(s) accepted" in f.summary for f in regs)


def test_heplify_ipv6_unbracketed_and_garbage_timestamps() -> None:
    a = public("heplify-sip_ipv6_udp.pcap")
    (fl,) = a.flows
    assert fl.status is Status.WARN and "final 200 OK f3" in fl.summary
    assert any("IPv6 address without brackets" in f.message for f in fl.findings)
    assert [n.rule for n in a.notes] == ["capture.timestamps"]


def test_sngrep_ipv6_fragments_and_wrong_rack() -> None:
    a = public("sngrep-ipv6frag.pcap")
    (fl,) = a.flows
    assert fl.status is Status.FAIL
    assert {1, 2, 4, 5}.issubset(fl.frames)  # the fragments of both INVITEs
    racks = [f for f in fl.findings if f.rule == "sip.prack.rack"]
    assert [f.frames[-1] for f in racks] == [8, 9]  # the wrong RAck on both legs, not f18/f19
    assert all("RAck '1 2 INVITE'" in f.message for f in racks)
    assert "sip.dialog.cseq" in rules(fl, Status.WARN)  # BYE 2 after UPDATE 3
    assert any("more than one tag" in f.message for f in fl.findings)


def test_fax_capture_without_100rel_is_clean() -> None:
    a = public("heplify-FAX-Call-t38-CA-TDM-SIP-FB-1.pcap")
    assert a.flows and {f.status for f in a.flows} == {Status.PASS}


def _verdicts(a: SipAnalysis) -> list[tuple[object, ...]]:
    return sorted(
        (
            f.kind,
            f.call_id,
            f.aor,
            f.status.value,
            tuple(sorted((x.rule, x.severity.value, x.frames) for x in f.findings)),
        )
        for f in a.flows
    )


COMMITTED = sorted(p.name for p in (FIXTURES / "sip").glob("*.pcap"))
PUBLIC = [
    "zeek-sip-wireshark.pcap",
    "sipnab-sip-auth-failure.pcapng",
    "sipnab-rtp-protocol.pcap",
    "sngrep-ipv6frag.pcap",
    "heplify-sip_ipv4_tcp_fragmented.pcap",
]


@pytest.mark.parametrize("name", COMMITTED)
def test_engines_agree_on_committed_captures(name: str) -> None:
    require_tool("tshark")
    path = FIXTURES / "sip" / name
    pw = dict(
        line.split(":", 1) for line in (FIXTURES / "sip" / "passwords.txt").read_text().split()
    )
    a = analyze_file(path, engine="scapy", passwords=pw)
    b = analyze_file(path, engine="tshark", passwords=pw)
    assert a.flows and _verdicts(a) == _verdicts(b)


@pytest.mark.parametrize("name", PUBLIC)
def test_engines_agree_on_public_captures(name: str) -> None:
    require_tool("tshark")
    assert _verdicts(public(name, "scapy")) == _verdicts(public(name, "tshark"))


def test_committed_capture_verdicts() -> None:
    sip = FIXTURES / "sip"
    expect = {
        "register-udp.pcap": Status.PASS,
        "register-tcp.pcap": Status.PASS,
        "register-wrong-password.pcap": Status.FAIL,
        "prack-ok-udp.pcap": Status.PASS,
        "prack-ok-tcp.pcap": Status.PASS,
        "prack-bad-rack-tcp.pcap": Status.FAIL,
        "prack-rseq-jump-udp.pcap": Status.FAIL,
        "prack-retrans-udp.pcap": Status.PASS,
    }
    assert sorted(expect) == COMMITTED
    for name, status in expect.items():
        a = analyze_file(sip / name)
        assert a.status is status, (name, [f.findings for f in a.flows])
