"""Flows beyond the listing caps still count: status, exit code, table and JSON (review-6 #2),
and ``ladder --call-id`` finds its call however many calls the capture holds (review-6 #4).

The caps are lowered (module constants) instead of writing 25,000 flows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.pcapwrite import UDP, A, B, ipv4_frame, write_pcap

from ecc_doctor.captures.sip import analyze as sip_analyze
from ecc_doctor.captures.sip.analyze import analyze_file
from ecc_doctor.cli import cli
from ecc_doctor.models import Status


def _udp(src: bytes, dst: bytes, payload: bytes) -> bytes:
    return ipv4_frame(UDP, payload, src=src, dst=dst, sport=5060, dport=5060)


def _register(i: int) -> bytes:
    """An unanswered REGISTER: a WARN flow."""
    return _udp(
        A,
        B,
        f"REGISTER sip:b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKr{i}\r\n"
        f"Call-ID: r{i}\r\nCSeq: 1 REGISTER\r\nFrom: <sip:u{i}@b>;tag={i}\r\n"
        f"To: <sip:u{i}@b>\r\nContact: <sip:u{i}@10.0.0.1>\r\nContent-Length: 0\r\n\r\n".encode(),
    )


def _call(call_id: str, rack: str) -> list[bytes]:
    """INVITE, reliable 183, PRACK with *rack*, 200 PRACK, 200 INVITE."""

    def msg(start: str, cseq: str, branch: str, extra: str = "") -> bytes:
        to_tag = "" if start.startswith("INVITE") else ";tag=b"
        return (
            f"{start}\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{branch}{call_id}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq}\r\nFrom: <sip:a@b>;tag=a\r\n"
            f"To: <sip:b@b>{to_tag}\r\n{extra}Content-Length: 0\r\n\r\n"
        ).encode()

    return [
        _udp(A, B, msg("INVITE sip:b@b SIP/2.0", "1 INVITE", "i",
                       "Supported: 100rel\r\nContact: <sip:a@10.0.0.1>\r\n")),
        _udp(B, A, msg("SIP/2.0 183 Session Progress", "1 INVITE", "i",
                       "Require: 100rel\r\nRSeq: 1\r\nContact: <sip:b@10.0.0.2>\r\n")),
        _udp(A, B, msg("PRACK sip:b@10.0.0.2 SIP/2.0", "2 PRACK", "p", f"RAck: {rack}\r\n")),
        _udp(B, A, msg("SIP/2.0 200 OK", "2 PRACK", "p")),
        _udp(B, A, msg("SIP/2.0 200 OK", "1 INVITE", "i", "Contact: <sip:b@10.0.0.2>\r\n")),
    ]  # fmt: skip


@pytest.fixture
def low_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sip_analyze, "MAX_BAD_FLOWS", 4)
    monkeypatch.setattr(sip_analyze, "MAX_GOOD_FLOWS", 2)


@pytest.fixture
def fail_past_cap(tmp_path: Path) -> Path:
    """6 WARN flows (more than the cap of 4), 3 passing calls, then one FAIL (wrong RAck)."""
    frames = [_register(i) for i in range(6)]
    for n in range(3):
        frames += _call(f"ok{n}", "1 1 INVITE")
    frames += _call("bad", "1 2 INVITE")
    path = tmp_path / "capfail.pcap"
    write_pcap(path, frames)
    return path


@pytest.mark.usefixtures("low_caps")
def test_a_fail_beyond_the_cap_is_listed_and_sets_the_status(fail_past_cap: Path) -> None:
    analysis = analyze_file(fail_past_cap)
    assert analysis.flows_total == 10
    assert analysis.counts == {"register.WARN": 6, "invite.PASS": 3, "invite.FAIL": 1}
    assert analysis.status is Status.FAIL
    (bad,) = [f for f in analysis.flows if f.status is Status.FAIL]
    assert bad.call_id == "bad"
    assert sum(f.status is Status.WARN for f in analysis.flows) == 3  # one WARN made room
    assert analysis.not_listed == {"WARN": 3, "PASS": 1}
    assert analysis.flows_not_listed == 4
    assert analysis.to_dict()["not_listed"] == {"WARN": 3, "PASS": 1}


@pytest.mark.usefixtures("low_caps")
def test_status_comes_from_the_counts_when_the_worst_is_not_listed(tmp_path: Path) -> None:
    path = tmp_path / "warns.pcap"
    write_pcap(path, [_register(i) for i in range(6)])
    analysis = analyze_file(path)
    assert len(analysis.flows) == 4 and analysis.not_listed == {"WARN": 2}
    analysis.flows.clear()  # a caller that drops the listed flows still sees the verdict
    assert analysis.status is Status.WARN


@pytest.mark.usefixtures("low_caps")
def test_cli_exit_code_table_and_json_count_unlisted_flows(fail_past_cap: Path) -> None:
    result = CliRunner().invoke(cli, ["analyze", str(fail_past_cap)])
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "✗ FAIL  invite   sip:b@b" in out and "Call-ID bad" in out
    assert "... 4 more flows not listed: 1 PASS, 3 WARN" in out
    assert "more passing flows" not in out
    assert out.rstrip().endswith("10 flows: 3 PASS, 6 WARN, 1 FAIL")
    result = CliRunner().invoke(cli, ["analyze", str(fail_past_cap), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["status"] == "FAIL"
    (file,) = doc["files"]
    assert file["flows_total"] == 10 and file["flows_not_listed"] == 4
    assert file["not_listed"] == {"WARN": 3, "PASS": 1}
    assert file["counts"] == {"register.WARN": 6, "invite.PASS": 3, "invite.FAIL": 1}


def test_cli_exit_code_with_only_unlisted_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every bad slot taken by FAILs: a further FAIL is unlisted but the exit code is still 1
    monkeypatch.setattr(sip_analyze, "MAX_BAD_FLOWS", 1)
    frames = _call("bad1", "1 2 INVITE") + _call("bad2", "1 3 INVITE")
    path = tmp_path / "fails.pcap"
    write_pcap(path, frames)
    result = CliRunner().invoke(cli, ["analyze", str(path)])
    assert result.exit_code == 1
    assert "... 1 more flow not listed: 1 FAIL" in result.stdout


def test_ladder_finds_a_call_id_beyond_the_ladder_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sip_analyze, "LADDER_CALLS", 2)
    frames: list[bytes] = []
    for n in range(6):
        frames += _call(f"c{n}", "1 1 INVITE")
    path = tmp_path / "calls.pcap"
    write_pcap(path, frames)
    result = CliRunner().invoke(cli, ["ladder", str(path), "--call-id", "c0", "--width", "100"])
    assert result.exit_code == 0, result.stderr
    assert "PRACK" in result.stdout and "183 Session Progress" in result.stdout
    analysis = analyze_file(path, ladder_call_id="c0")
    assert list(analysis.ladders) == ["c0"] and len(analysis.ladders["c0"]) == 5


@pytest.mark.anyio
@pytest.mark.usefixtures("low_caps")
async def test_checks_count_unlisted_flows(fail_past_cap: Path) -> None:
    from ecc_doctor.checks import all_checks, select
    from ecc_doctor.config import from_mapping
    from ecc_doctor.runner import run_checks

    cfg = from_mapping({"sip": {"captures": [str(fail_past_cap)]}}, source="<test>")
    results = {r.check_id: r for r in await run_checks(select(["sip"], all_checks()), cfg)}
    reg, prack = results["sip.register"], results["sip.prack"]
    assert reg.status is Status.WARN
    assert reg.summary.startswith("6 of 6 registration flows WARN")
    assert reg.metrics["flows"] == 6.0 and reg.metrics["not_listed"] == 2.0
    assert reg.details[0] == "2 more registration flows not listed (counted: 2 WARN)"
    assert prack.status is Status.FAIL and prack.metrics["failing"] == 1.0


def _ok_register(i: int) -> list[bytes]:
    """REGISTER answered 200 OK: a passing registration flow."""
    req = _register(i)
    ok = (
        f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKr{i}\r\n"
        f"Call-ID: r{i}\r\nCSeq: 1 REGISTER\r\nFrom: <sip:u{i}@b>;tag={i}\r\n"
        f"To: <sip:u{i}@b>;tag=s{i}\r\nContact: <sip:u{i}@10.0.0.1>;expires=600\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    return [req, _udp(B, A, ok)]


@pytest.mark.anyio
@pytest.mark.usefixtures("low_caps")
async def test_totals_in_the_table_head_and_passing_check_summary_count_unlisted_flows(
    tmp_path: Path,
) -> None:
    from ecc_doctor.checks import all_checks, select
    from ecc_doctor.config import from_mapping
    from ecc_doctor.runner import run_checks

    path = tmp_path / "ok.pcap"
    write_pcap(path, [f for i in range(6) for f in _ok_register(i)])
    result = CliRunner().invoke(cli, ["analyze", str(path)])
    assert result.exit_code == 0, result.output
    assert "12 SIP messages, 6 flows" in result.stdout
    cfg = from_mapping({"sip": {"captures": [str(path)]}}, source="<test>")
    (reg,) = await run_checks(select(["sip.register"], all_checks()), cfg)
    assert reg.status is Status.PASS, reg.summary
    assert reg.summary.startswith("6 registration flows correct"), reg.summary


def test_a_missing_call_id_names_the_call_ids_seen(tmp_path: Path) -> None:
    from ecc_doctor.captures.sip.ladder import build_ladder
    from ecc_doctor.errors import CheckError

    frames: list[bytes] = []
    for n in range(3):
        frames += _call(f"c{n}", "1 1 INVITE")
    path = tmp_path / "calls.pcap"
    write_pcap(path, frames)
    # only the asked-for Call-ID is kept, so the hint comes from the other Call-IDs seen
    analysis = analyze_file(path, ladder_call_id="nope")
    with pytest.raises(CheckError) as err:
        build_ladder(analysis, "nope")
    assert err.value.message == ("Call-ID 'nope' is not in the capture (Call-IDs seen: c0, c1, c2)")
    result = CliRunner().invoke(cli, ["ladder", str(path), "--call-id", "nope"])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"ecc-doctor: {err.value.message}"


def test_the_library_names_the_call_ids_seen_as_the_cli_does(tmp_path: Path) -> None:
    from ecc_doctor.captures.sip.ladder import build_ladder
    from ecc_doctor.errors import CheckError

    frames: list[bytes] = []
    for n in range(7):
        frames += _call(f"c{n}", "1 1 INVITE")
    path = write_pcap(tmp_path / "calls.pcap", frames)
    with pytest.raises(CheckError) as err:
        build_ladder(analyze_file(path, ladder_call_id="nope"), "nope")
    expected = "Call-ID 'nope' is not in the capture (5 of 7 Call-IDs seen: c0, c1, c2, c3, c4)"
    assert err.value.message == expected
    result = CliRunner().invoke(cli, ["ladder", str(path), "--call-id", "nope"])
    assert result.stderr.strip() == f"ecc-doctor: {expected}"
