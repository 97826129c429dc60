"""Values caught when the site file loads (exit 2), and how messages show them (#19, #20)."""

from __future__ import annotations

import os
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


def test_capture_paths_are_checked_beside_the_site_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "here.pcap").write_bytes((SIP_FIXTURES / "register-udp.pcap").read_bytes())
    (folder / "adir.pcap").mkdir()
    site = folder / "site.toml"
    monkeypatch.chdir(tmp_path)  # not the site file's folder
    site.write_text('[sip]\ncaptures = ["here.pcap"]\n', encoding="utf-8")
    assert load(site).sip is not None  # found beside the site file, as sip.register finds it
    site.write_text('[sip]\ncaptures = ["here.pcap", "gone.pcap"]\n', encoding="utf-8")
    assert message(site) == (
        f"{site}: sip.captures[1]: expected an existing file, got 'gone.pcap' "
        f"(does not exist: {folder / 'gone.pcap'})"
    )
    site.write_text('[sip]\ncaptures = ["adir.pcap"]\n', encoding="utf-8")
    assert message(site).endswith(f"got 'adir.pcap' (not a file: {folder / 'adir.pcap'})")
    site.write_text('[sip]\npassword_file = "nopw.txt"\n', encoding="utf-8")
    assert "sip.password_file: expected an existing file, got 'nopw.txt'" in message(site)
    site.write_text(
        '[mgc]\ncontrollers = ["10.0.0.1"]\ngateway_text = "show-mgc.txt"\n', encoding="utf-8"
    )
    assert "mgc.gateway_text: expected an existing file, got 'show-mgc.txt'" in message(site)


def test_mgc_capture_in_the_current_folder_is_found_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "conf" / "site.toml"
    site.parent.mkdir()
    site.write_text('[mgc]\ncontrollers = ["10.0.0.1"]\ncapture = "gw.pcap"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gw.pcap").write_bytes(b"")  # mgc.failover looks here before beside the file
    assert load(site).mgc is not None
    os.remove(tmp_path / "gw.pcap")
    assert "mgc.capture: expected an existing file, got 'gw.pcap'" in message(site)


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
