"""Password-file errors in the words the rest of the tool uses (QA finding 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import FIXTURES

from ecc_doctor.captures.sip.digest import load_passwords
from ecc_doctor.cli import cli
from ecc_doctor.errors import ConfigError

SIP = FIXTURES / "sip"


def _unreadable(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.txt"
    if kind == "folder":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(b"alice:\xff\xfe\x00secret\n")
    return path


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("missing", "no such file"),
        ("folder", "it is a folder, not a file"),
        ("binary", "it is not UTF-8 text"),
    ],
)
def test_password_file_errors_say_what_is_wrong(tmp_path: Path, kind: str, why: str) -> None:
    path = _unreadable(tmp_path, kind)
    with pytest.raises(ConfigError) as caught:
        load_passwords(path)
    assert caught.value.message == f"cannot read password file {path}: {why}"
    result = CliRunner().invoke(
        cli, ["analyze", str(SIP / "register-udp.pcap"), "--password-file", str(path)]
    )
    assert result.exit_code == 2
    assert f"cannot read password file {path}: {why}" in result.output
    assert "Error" not in result.output and "secret" not in result.output
