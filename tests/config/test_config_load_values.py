"""Values caught when the site file loads (exit 2), and how messages show them (#19, #20)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecc_doctor.config import check_timeout_ids, from_mapping, load
from ecc_doctor.errors import ConfigError
from ecc_doctor.secrets import Secret

SIP_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sip"


def message(site: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load(site)
    return info.value.message


def test_input_files_are_checked_beside_the_site_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "pw.txt").write_text("alice:x\n", encoding="utf-8")
    (folder / "adir.txt").mkdir()
    site = folder / "site.toml"
    monkeypatch.chdir(tmp_path)  # not the site file's folder
    site.write_text('[sip]\npassword_file = "pw.txt"\n', encoding="utf-8")
    assert load(site).sip is not None  # found beside the site file, as the checks find it
    site.write_text('[sip]\npassword_file = "nopw.txt"\n', encoding="utf-8")
    assert message(site) == (
        f"{site}:2: sip.password_file: expected an existing file, got 'nopw.txt' "
        f"(does not exist: {folder / 'nopw.txt'})"
    )
    site.write_text('[sip]\npassword_file = "adir.txt"\n', encoding="utf-8")
    assert message(site).endswith(f"got 'adir.txt' (not a file: {folder / 'adir.txt'})")
    site.write_text(
        '[mgc]\ncontrollers = ["10.0.0.1"]\ngateway_text = "show-mgc.txt"\n', encoding="utf-8"
    )
    assert "mgc.gateway_text: expected an existing file, got 'show-mgc.txt'" in message(site)


def test_a_missing_capture_is_not_a_config_error(tmp_path: Path) -> None:
    """Captures are data: a missing one is an ERROR of the check that reads it
    (tests/sip/test_sip_check.py, tests/mgc/test_mgc_check.py), the other checks still run."""
    site = tmp_path / "site.toml"
    site.write_text(
        '[sip]\ncaptures = ["gone.pcap"]\n[mgc]\ncontrollers = ["10.0.0.1"]\ncapture = "gw.pcap"\n',
        encoding="utf-8",
    )
    cfg = load(site)
    assert cfg.sip is not None and cfg.mgc is not None


def test_keys_with_dots_are_quoted_alike_at_load_and_in_the_registry_check() -> None:
    with pytest.raises(ConfigError) as bad_value:
        from_mapping({"timeouts": {"checks": {"cm.license": "x"}}}, source="s.toml")
    assert bad_value.value.message == (
        "s.toml: timeouts.checks.\"cm.license\": expected a number, got 'x'"
    )
    cfg = from_mapping({"timeouts": {"checks": {"cm.nosuch": 5}}}, source="s.toml")
    with pytest.raises(ConfigError) as unknown:
        check_timeout_ids(cfg, ["cm.license"])
    assert unknown.value.message.startswith('s.toml: timeouts.checks."cm.nosuch": unknown check')


def test_values_are_shown_as_toml_writes_them() -> None:
    with pytest.raises(ConfigError) as info:
        from_mapping({"cm": {"cti_links": [True]}}, source="s.toml")
    assert info.value.message == "s.toml: cm.cti_links[0]: expected an integer, got true"
    with pytest.raises(ConfigError) as listed:
        from_mapping({"net": {"extra": [False, "a:1"]}}, source="s.toml")
    assert listed.value.message == "s.toml: net.extra[0]: expected a string, got false"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("env:", "the reference is empty (expected env:NAME)"),
        ("file:", "the reference is empty (expected file:PATH)"),
        ("env:  ", "the reference is empty (expected env:NAME)"),
    ],
)
def test_empty_secret_reference_says_so(ref: str, expected: str) -> None:
    assert Secret(ref).problem() == expected
    with pytest.raises(ConfigError) as info:
        Secret(ref).reveal()
    assert "  " not in info.value.message and "Is a directory" not in info.value.message
