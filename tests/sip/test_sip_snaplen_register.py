"""REGISTER messages cut by the snapshot length make no flow of placeholders (QA finding 21)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from tests.conftest import FIXTURES
from tests.pcapwrite import cut_snaplen

from ecc_doctor.captures.sip.analyze import analyze_file
from ecc_doctor.cli import cli

SIP = FIXTURES / "sip"


def test_registers_cut_before_their_cseq_make_no_flow(tmp_path: Path) -> None:
    # 200 bytes per frame: every message ends inside its Via/From headers
    path = cut_snaplen(SIP / "register-udp.pcap", tmp_path / "small_snap.pcap", 200)
    a = analyze_file(path)
    assert a.flows == []
    assert sum(1 for n in a.notes if n.rule == "capture.snaplen") == 12
    assert any(n.rule == "sip.parse" and n.message.startswith("REGISTER f1: ") for n in a.notes)
    result = CliRunner().invoke(cli, ["analyze", str(path)])
    assert result.exit_code == 0
    assert "sip::" not in result.output and "CSeq -1" not in result.output


def test_invites_cut_before_their_cseq_make_no_flow(tmp_path: Path) -> None:
    # the same for an INVITE dialog: no "invite sip::" flow of placeholders that FAILs
    path = cut_snaplen(SIP / "prack-ok-udp.pcap", tmp_path / "small_snap.pcap", 200)
    a = analyze_file(path)
    assert a.flows == []
    assert any(n.rule == "sip.parse" and n.message.startswith("INVITE f1: ") for n in a.notes)
    result = CliRunner().invoke(cli, ["analyze", str(path)])
    assert result.exit_code == 0
    assert "sip::" not in result.output and "CSeq -1" not in result.output
