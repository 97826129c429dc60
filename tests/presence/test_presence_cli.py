"""``ecc-doctor im-archive parse``: try record paths on a saved archive file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ecc_doctor.cli import cli
from ecc_doctor.lab.sftp import archive_xml

DOC = archive_xml([("alice@x", "bob@x", "[red]not markup[/]", 1795244400.0)])


def test_parse_shows_root_count_and_records(tmp_path: Path) -> None:
    path = tmp_path / "im.xml"
    path.write_bytes(DOC)
    result = CliRunner().invoke(cli, ["im-archive", "parse", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: root <imArchive>, 1 <message> record\n" in result.output
    assert "[red]not markup[/]" in result.output


def test_parse_json_with_site_file_record_paths(tmp_path: Path) -> None:
    path = tmp_path / "custom.xml"
    path.write_bytes(b"<log><im><who>56207</who><whom>56208</whom><txt>hi</txt></im></log>")
    site = tmp_path / "site.toml"
    site.write_text(
        '[sftp]\nhost = "h"\nusername = "u"\npath = "/p"\npassword = "env:NONE"\n'
        'record_element = "im"\nsender_paths = ["who"]\nrecipient_paths = ["whom"]\n'
        'body_paths = ["txt"]\n'
    )
    site.chmod(0o600)
    result = CliRunner().invoke(
        cli, ["im-archive", "parse", "--config", str(site), "--format", "json", str(path)]
    )
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    assert report["records"] == 1
    assert report["first_records"] == [
        {"sender": "56207", "recipients": ["56208"], "body": "hi", "timestamp": None}
    ]


def test_hostile_file_exits_1_and_missing_file_exits_2(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(b'<!DOCTYPE l [<!ENTITY a "aa"><!ENTITY b "&a;&a;">]><l>&b;</l>')
    result = CliRunner().invoke(cli, ["im-archive", "parse", str(bomb)])
    assert result.exit_code == 1
    assert "bomb.xml: entities: declares XML entity 'a': refused, not expanded" in result.output
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"  \n")
    result = CliRunner().invoke(cli, ["im-archive", "parse", str(empty)])
    assert result.exit_code == 1
    assert f"{empty}: empty (no XML content)\n" in result.output  # not "empty: empty (...)"
    missing = CliRunner().invoke(cli, ["im-archive", "parse", str(tmp_path / "nope.xml")])
    assert missing.exit_code == 2
    assert "no such file" in missing.output
