"""`ecc-doctor mgc timeline` / `mgc analyze`: table, JSON, SVG, and one-line errors (exit 2)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import FIXTURES

from ecc_doctor.cli import cli

MGC = FIXTURES / "mgc"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["mgc", *args])
    return result.exit_code, result.stdout, result.stderr


def test_timeline_table_shows_attempts_and_timers() -> None:
    code, out, _ = run("timeline", "--gateway-text", str(MGC / "article.txt"))
    assert code == 0
    assert "primary-search expires (10 min)" in out
    assert "gateway resets" in out
    assert "198.51.100.20" in out and "below TP" in out
    assert "assumed: retry_interval_s = 10.0" in out


def test_timeline_json_with_loss_at_clock(tmp_path: Path) -> None:
    svg = tmp_path / "t.svg"
    code, out, _ = run(
        "timeline",
        "--config",
        str(MGC / "site.toml"),
        "--loss-at",
        "08:00",
        "--format",
        "json",
        "--svg",
        str(svg),
    )
    assert code == 0
    data = json.loads(out)
    assert data["timers"]["primary-search"] == 600.0
    first_below = next(a for a in data["attempts"] if not a["above_transition_point"])
    assert (first_below["offset_s"], first_below["target"], first_below["name"]) == (
        600.0,
        "198.51.100.20",
        "ESS",
    )
    assert first_below["at"] == "08:10:00"  # a time of day: no date is invented
    assert "2000-01-01" not in out
    ET.fromstring(svg.read_bytes())


def test_timeline_loss_at_seconds_shifts_at_column() -> None:
    code, out, _ = run(
        "timeline",
        "--gateway-text",
        str(MGC / "article.txt"),
        "--loss-at",
        "12.5",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out)["attempts"][1]["at"] == 22.5
    code, out, _ = run("timeline", "--gateway-text", str(MGC / "article.txt"), "--loss-at", "12.5")
    assert code == 0 and "22.5 s" in out  # the table says what the number is


def test_timeline_loss_at_clock_past_midnight_and_iso_date() -> None:
    code, out, _ = run(
        "timeline", "--config", str(MGC / "site.toml"), "--loss-at", "23:55", "--format", "json"
    )
    assert code == 0
    timers = {e["name"]: e["at"] for e in json.loads(out)["events"]}
    assert timers["primary-search"] == "00:05:00 (+1 day)"
    code, out, _ = run(
        "timeline",
        "--config",
        str(MGC / "site.toml"),
        "--loss-at",
        "2025-11-21T23:55:00",
        "--format",
        "json",
    )
    assert code == 0
    timers = {e["name"]: e["at"] for e in json.loads(out)["events"]}
    assert timers["primary-search"] == "2025-11-22T00:05:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gateway-text", str(MGC / "bad_six_entries.txt")], "6 controllers"),
        (["--gateway-text", str(MGC / "bad_tp5.txt")], "transition-point from 1 to 4"),
        (["--gateway-text", str(MGC / "bad_primary0.txt")], "primary-search from 1 to 60"),
        (["--gateway-text", str(MGC / "missing.txt")], "cannot read gateway text"),
        (["--gateway-text", str(MGC / "article.txt"), "--loss-at", "noon"], "--loss-at"),
        (["--gateway-text", str(MGC / "article.txt"), "--loss-at", "nan"], "--loss-at"),
        (["--gateway-text", str(MGC / "article.txt"), "--loss-at", "1e400"], "--loss-at"),
        (["--gateway-text", str(MGC / "article.txt"), "--loss-at", "-inf"], "--loss-at"),
        (["--gateway-text", str(MGC / "article.txt"), "--loss-at", "-5"], "(0 or more)"),
    ],
)
def test_timeline_errors_are_one_line_exit_2(args: list[str], message: str) -> None:
    code, out, err = run("timeline", *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err
    assert "Traceback" not in err


def test_timeline_without_any_input_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ECC_DOCTOR_CONFIG", raising=False)
    code, _, err = run("timeline")
    assert code == 2 and "--gateway-text" in err


def test_analyze_exit_codes_and_svg(tmp_path: Path) -> None:
    svg = tmp_path / "seen.svg"
    code, out, _ = run(
        "analyze",
        str(MGC / "early_crossing.pcap"),
        "--config",
        str(MGC / "site.toml"),
        "--svg",
        str(svg),
        "--format",
        "json",
    )
    assert code == 1
    # the document analyze writes (QA 3b #7), not a bare list of flows
    doc = json.loads(out)
    assert doc["schema"] == "ecc-doctor/analyze" and doc["status"] == "FAIL"
    assert doc["summary"]["exit_code"] == 1 and doc["summary"]["flows"]["FAIL"] == 1
    (entry,) = doc["files"]
    assert entry["file"] == str(MGC / "early_crossing.pcap") and entry["status"] == "FAIL"
    assert entry["counts"] == {"mgc-failover.FAIL": 1} and entry["flows_total"] == 1
    flows = doc["flows"]
    assert flows[0]["status"] == "FAIL" and flows[0]["kind"] == "mgc-failover"
    assert ET.fromstring(svg.read_bytes()).findall(
        ".//{http://www.w3.org/2000/svg}path[@class='observed-attempt']"
    )
    code, out, _ = run(
        "analyze", str(MGC / "failover_ess.pcap"), "--config", str(MGC / "site.toml")
    )
    assert code == 0 and "PASS" in out


def test_analyze_not_a_capture_is_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all")
    code, _, err = run("analyze", str(junk), "--gateway-text", str(MGC / "article.txt"))
    assert code == 2 and err.count("\n") == 1


def test_brackets_in_text_are_not_eaten_as_markup() -> None:
    code, out, _ = run("timeline", "--config", str(MGC / "site.toml"))
    # The table may wrap a long checkout path anywhere; compare with whitespace removed.
    assert code == 0 and "site.toml[mgc])" in "".join(out.split())
    code, out, _ = run("analyze", str(MGC / "odd_port.pcap"), "--config", str(MGC / "site.toml"))
    assert code == 1 and "set [mgc]" in out.replace("\n", " ")


def test_a_missing_file_of_another_section_does_not_stop_mgc(tmp_path: Path) -> None:
    # review s6b R5: mgc reads [mgc] only; CM's missing known_hosts is check's business
    site = tmp_path / "site.toml"
    site.write_text(
        (MGC / "site.toml").read_text()
        + '\n[cm]\nhost = "127.0.0.1"\nusername = "u"\npassword = "env:X"\n'
        'known_hosts = "missing_known_hosts"\n'
    )
    code, out, err = run("analyze", str(MGC / "failover_ess.pcap"), "--config", str(site))
    assert code == 0 and "PASS" in out, err
