"""Digest verdicts read together with the server's answer: a password file the server
contradicts is out of date, not a phone with the wrong password (QA finding 7)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from tests.conftest import FIXTURES

from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sip.analyze import SipAnalysis, analyze_file, analyze_records
from ecc_doctor.cli import cli
from ecc_doctor.models import Finding, Status

SIP = FIXTURES / "sip"
UA, SERVER = ("10.0.0.1", 5060), ("10.0.0.2", 5060)
STALE_FILE = {"alice": "wrongpw99"}  # not the password the lab registrar knows
OUT_OF_DATE = "does not match the password file although the registrar accepted it"
WRONG = "digest response does not match the password for user alice: wrong password"


def digests(a: SipAnalysis, rule: str = "sip.digest") -> list[Finding]:
    return [f for fl in a.flows for f in fl.findings if f.rule == rule]


# --- 7: a stale password file against what the registrar answered -----------------------


def test_a_password_file_the_registrar_contradicts_is_a_warning() -> None:
    # the registrar answered 200 OK to every REGISTER: the file, not the phone, is wrong
    a = analyze_file(SIP / "register-udp.pcap", passwords=STALE_FILE)
    (flow,) = a.flows
    found = digests(a)
    assert len(found) == 3
    for f in found:
        assert f.severity is Status.WARN
        assert f.message.startswith(f"digest response of user alice {OUT_OF_DATE} (200 OK, f")
        assert f.message.endswith("the password file may be out of date")
        assert len(f.frames) == 2  # the REGISTER and the 200 OK
    assert flow.status is Status.WARN
    assert "wrongpw99" not in repr(a.to_dict())


def test_a_password_the_registrar_refused_is_still_wrong() -> None:
    a = analyze_file(SIP / "register-wrong-password.pcap", passwords={"alice": "alice-Lab-pw1"})
    (found,) = digests(a)
    assert found.severity is Status.FAIL and found.message == WRONG


class Wire:
    """SipMessage records in order, one frame each, 10 ms apart."""

    def __init__(self) -> None:
        self.records: list[SipMessage] = []

    def send(self, src: tuple[str, int], dst: tuple[str, int], text: str) -> int:
        frame = len(self.records) + 1
        data = (text.strip("\n") + "\n\n").replace("\n", "\r\n").encode()
        rec = SipMessage((frame,), 1000 + frame / 100, *src, *dst, "UDP", data)
        self.records.append(rec)
        return frame

    def run(self, passwords: dict[str, str]) -> SipAnalysis:
        return analyze_records(self.records, passwords=passwords)


def _request(method: str, cseq: int, auth: str = "", uri: str = "sip:example.com") -> str:
    to = "alice" if method == "REGISTER" else "bob"
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{method}-{cseq}",
        "From: <sip:alice@example.com>;tag=ft1",
        f"To: <sip:{to}@example.com>" + (";tag=tt" if method in ("ACK", "BYE") else ""),
        "Call-ID: c-1",
        f"CSeq: {cseq} {method}",
        "Contact: <sip:alice@10.0.0.1:5060>",
    ]
    if auth:
        header = "Authorization" if method == "REGISTER" else "Proxy-Authorization"
        lines.append(
            f'{header}: Digest username="alice", realm="example.com", nonce="{auth}", '
            f'uri="{uri}", response="0123456789abcdef0123456789abcdef", algorithm=MD5'
        )
    return "\n".join([*lines, "Content-Length: 0"])


def _answer(status: str, cseq: int, method: str, extra: str = "") -> str:
    to = "alice" if method == "REGISTER" else "bob"
    lines = [
        f"SIP/2.0 {status}",
        f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{method}-{cseq}",
        "From: <sip:alice@example.com>;tag=ft1",
        f"To: <sip:{to}@example.com>;tag=tt",
        "Call-ID: c-1",
        f"CSeq: {cseq} {method}",
        *([extra] if extra else []),
    ]
    return "\n".join([*lines, "Content-Length: 0"])


def _challenge(nonce: str, stale: bool = False, header: str = "WWW-Authenticate") -> str:
    flag = ", stale=true" if stale else ""
    return f'{header}: Digest realm="example.com", nonce="{nonce}", algorithm=MD5{flag}'


def test_a_stale_nonce_answer_means_the_registrar_found_the_digest_valid() -> None:
    # RFC 2617 §3.2.1: stale=true is sent only for a valid digest with an old nonce
    w = Wire()
    w.send(UA, SERVER, _request("REGISTER", 1))
    w.send(SERVER, UA, _answer("401 Unauthorized", 1, "REGISTER", _challenge("n1")))
    f3 = w.send(UA, SERVER, _request("REGISTER", 2, auth="n1"))
    f4 = w.send(SERVER, UA, _answer("401 Unauthorized", 2, "REGISTER", _challenge("n2", True)))
    f5 = w.send(UA, SERVER, _request("REGISTER", 3, auth="n2"))
    w.send(SERVER, UA, _answer("403 Forbidden", 3, "REGISTER"))
    found = digests(w.run(STALE_FILE))
    assert [(f.severity, f.frames) for f in found] == [
        (Status.WARN, (f3, f4)),
        (Status.FAIL, (f5,)),
    ]
    assert "(401 Unauthorized with stale=true, f4)" in found[0].message
    assert found[1].message == WRONG


def test_a_register_never_answered_keeps_the_wrong_password_verdict() -> None:
    w = Wire()
    w.send(UA, SERVER, _request("REGISTER", 1))
    w.send(SERVER, UA, _answer("401 Unauthorized", 1, "REGISTER", _challenge("n1")))
    f3 = w.send(UA, SERVER, _request("REGISTER", 2, auth="n1"))
    (found,) = digests(w.run(STALE_FILE))
    assert (found.severity, found.message, found.frames) == (Status.FAIL, WRONG, (f3,))


def _invite_call(final: str) -> tuple[Wire, int, int, int]:
    w = Wire()
    uri = "sip:bob@example.com"
    w.send(UA, SERVER, _request("INVITE", 1, uri=uri))
    auth = _challenge("n1", header="Proxy-Authenticate")
    w.send(SERVER, UA, _answer("407 Proxy Authentication Required", 1, "INVITE", auth))
    w.send(UA, SERVER, _request("ACK", 1, uri=uri))
    f4 = w.send(UA, SERVER, _request("INVITE", 2, auth="n1", uri=uri))
    f5 = w.send(SERVER, UA, _answer(final, 2, "INVITE"))
    f6 = w.send(UA, SERVER, _request("ACK", 2, auth="n1", uri=uri))
    return w, f4, f5, f6


def test_an_invite_digest_the_server_accepted_is_a_warning() -> None:
    w, f4, f5, f6 = _invite_call("200 OK")
    found = digests(w.run(STALE_FILE))
    assert [(f.severity, f.frames) for f in found] == [
        (Status.WARN, (f4, f5)),
        (Status.WARN, (f6,)),
    ]
    assert found[0].message == (
        f"INVITE f{f4}: digest response of user alice does not match the password file "
        f"although the server accepted it (200 OK, f{f5}): the password file may be out of date"
    )
    assert found[1].message.startswith(f"ACK f{f6}: digest response of user alice does not")


def test_an_invite_digest_the_server_refused_is_a_wrong_password() -> None:
    w, f4, _, f6 = _invite_call("403 Forbidden")
    found = digests(w.run(STALE_FILE))
    assert [(f.severity, f.message) for f in found] == [
        (Status.FAIL, f"INVITE f{f4}: {WRONG}"),
        (Status.FAIL, f"ACK f{f6}: {WRONG}"),
    ]


def test_a_user_missing_from_the_password_file_is_noted_as_not_verified(tmp_path: Path) -> None:
    a = analyze_file(SIP / "register-udp.pcap", passwords={"bob": "x"})
    (flow,) = a.flows
    assert flow.status is Status.PASS
    assert not digests(a)
    (note,) = digests(a, "sip.digest.unverified")
    assert note.severity is Status.PASS
    assert note.message == (
        "digest response of REGISTER f3 not verified: no password for user 'alice' in the "
        "password file"
    )
    pw = tmp_path / "pw3.txt"
    pw.write_text("bob:x\n")
    args = ["analyze", str(SIP / "register-udp.pcap"), "--password-file", str(pw)]
    quiet = CliRunner().invoke(cli, args)
    verbose = CliRunner().invoke(cli, [*args, "-v"])
    assert quiet.exit_code == verbose.exit_code == 0
    assert "not verified" not in quiet.output
    assert "not verified: no password for user 'alice'" in verbose.output


def test_a_user_listed_twice_in_the_password_file_is_a_usage_error(tmp_path: Path) -> None:
    # QA 4a F12: the last line used to win silently, and the verdict rested on a guess
    pw = tmp_path / "twice.txt"
    pw.write_text("alice:alice-Lab-pw1\n# comment\nalice:OtherPw-66\n")
    result = CliRunner().invoke(
        cli, ["analyze", str(SIP / "register-udp.pcap"), "--password-file", str(pw)]
    )
    assert result.exit_code == 2
    assert result.stderr == f"ecc-doctor: {pw}: line 3: user alice listed twice (line 1)\n"
    assert "alice-Lab-pw1" not in result.output + result.stderr
