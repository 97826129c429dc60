"""[mgc] settings and the gateway's own text: parsed values and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import FIXTURES

from ecc_doctor.captures.mgc import load_params
from ecc_doctor.captures.mgc.gateway_text import parse_gateway_text
from ecc_doctor.config import from_mapping
from ecc_doctor.errors import ConfigError

MGC = FIXTURES / "mgc"


def test_show_mgc_list_sample_from_protocols_parses() -> None:
    params = load_params(gateway_text=MGC / "show_mgc_list.txt")
    assert [c.address for c in params.controllers] == ["10.150.9.10", "10.101.100.10"]
    assert params.primary_search_min == 1
    assert params.sls is False
    # the sample says nothing about these: the uncertain defaults stay, and are listed
    assert params.transition_point == 1
    assert params.total_search_min == 30
    assert "total_search_min" in params.assumed
    assert "primary_search_min" not in params.assumed


def test_article_set_commands_parse() -> None:
    params = load_params(gateway_text=MGC / "article.txt")
    assert [c.address for c in params.controllers] == [
        "192.0.2.10",
        "192.0.2.11",
        "198.51.100.20",
        "203.0.113.30",
    ]
    assert (params.transition_point, params.primary_search_min, params.total_search_min) == (
        2,
        10,
        15,
    )
    assert [c.address for c in params.above] == ["192.0.2.10", "192.0.2.11"]


def test_prompts_and_sls_and_loose_recovery_lines() -> None:
    text = (
        "G450-001(super)# set mgc list 10.0.0.1, 10.0.0.2\n"
        "Transition Point : 2\nTotal Search Time : 20 min(s)\nsls enabled\n"
    )
    parsed = parse_gateway_text(text, source="gw.txt")
    assert parsed.addresses == ["10.0.0.1", "10.0.0.2"]
    assert parsed.values == {"transition_point": 2, "total_search_min": 20}
    assert parsed.sls is True


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "bad_six_entries.txt",
            "bad_six_entries.txt:2: 'set mgc list 10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,"
            "10.0.0.6': 6 controllers, a gateway's MGC list holds at most 4 (the G450's 5th slot "
            "is SLS)",
        ),
        (
            "bad_tp5.txt",
            "bad_tp5.txt:2: 'set reset-times transition-point 5': expected transition-point "
            "from 1 to 4, got '5'",
        ),
        (
            "bad_primary0.txt",
            "bad_primary0.txt:2: 'set reset-times primary-search 0': expected primary-search "
            "from 1 to 60 minutes, got '0'",
        ),
    ],
)
def test_bad_gateway_text_is_one_line_naming_the_line(name: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_params(gateway_text=MGC / name)
    assert err.value.message == f"{MGC / name}{message.removeprefix(name)}"
    assert "\n" not in err.value.message


def test_transition_point_beyond_the_list_names_its_line(tmp_path: Path) -> None:
    gw = tmp_path / "gw.txt"
    gw.write_text("set mgc list 10.0.0.1,10.0.0.2,10.0.0.3\nset reset-times transition-point 4\n")
    with pytest.raises(ConfigError) as err:
        load_params(gateway_text=gw)
    assert err.value.message == (
        f"{gw}:2: transition-point 4 is beyond the MGC list (3 entries); expected 1 to 3"
    )


def test_total_shorter_than_primary(tmp_path: Path) -> None:
    gw = tmp_path / "gw.txt"
    gw.write_text(
        "set mgc list 10.0.0.1\nset reset-times primary-search 20\n"
        "set reset-times total-search 10\n"
    )
    with pytest.raises(ConfigError, match=r"gw.txt:3: total-search \(10 min\) is shorter"):
        load_params(gateway_text=gw)


def test_text_without_a_list_is_an_error(tmp_path: Path) -> None:
    gw = tmp_path / "gw.txt"
    gw.write_text("hello\nshow system\n")
    with pytest.raises(ConfigError, match="no MGC list found"):
        load_params(gateway_text=gw)


@pytest.mark.parametrize(
    ("mgc", "message"),
    [
        (
            {"controllers": [f"10.0.0.{i}" for i in range(1, 7)]},
            "site.toml: mgc.controllers: expected at most 4 entries (the G450's 5th slot is "
            "SLS: set sls = true), got 6",
        ),
        (
            {"controllers": ["10.0.0.1", "10.0.0.2", "10.0.0.3"], "transition_point": 5},
            "site.toml: mgc.transition_point: expected an integer from 1 to 4, got 5",
        ),
        (
            {"controllers": ["10.0.0.1", "10.0.0.2", "10.0.0.3"], "transition_point": 4},
            "site.toml: mgc.transition_point: expected 1 to 3 (the list length), got 4",
        ),
        (
            {"controllers": ["10.0.0.1"], "primary_search_min": 0},
            "site.toml: mgc.primary_search_min: expected an integer from 1 to 60, got 0",
        ),
        (
            {"controllers": ["10.0.0.1"], "primary_search_min": 20, "total_search_min": 10},
            "site.toml: mgc.total_search_min: expected at least primary_search_min (20), got 10",
        ),
        (
            {"controllers": ["pe.example"]},
            "site.toml: mgc.controllers[0]: expected an IPv4/IPv6 address, got 'pe.example'",
        ),
        ({}, "site.toml: mgc.controllers: expected 1 to 4 addresses (or gateway_text), got none"),
    ],
)
def test_bad_mgc_section(mgc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_mapping({"mgc": mgc}, source="site.toml")
    assert err.value.message == message


def test_site_file_names_and_new_keys() -> None:
    params = load_params(config_path=MGC / "site.toml")
    assert [c.short for c in params.controllers] == ["PE", "CLAN", "ESS", "LSP"]
    assert params.gateway == "192.0.2.50"
    assert (params.port, params.tls_port, params.retry_interval_s) == (2945, 1039, 10.0)
    assert "transition_point" not in params.assumed
    assert "port" in params.assumed


def test_gateway_text_overrides_the_site_file_and_keeps_names(tmp_path: Path) -> None:
    gw = tmp_path / "gw.txt"
    gw.write_text("set mgc list 192.0.2.11,192.0.2.10\nset reset-times total-search 20\n")
    params = load_params(MGC / "site.toml", gw)
    assert [c.short for c in params.controllers] == ["CLAN", "PE"]
    assert params.total_search_min == 20
    assert params.primary_search_min == 10


def test_section_with_only_gateway_text_beside_the_site_file(tmp_path: Path) -> None:
    from ecc_doctor import config as site
    from ecc_doctor.captures.mgc import build_timeline
    from ecc_doctor.captures.mgc.params import from_config

    (tmp_path / "gw.txt").write_text((MGC / "article.txt").read_text())
    path = tmp_path / "site.toml"
    path.write_text('[mgc]\ngateway_text = "gw.txt"\n')
    cfg = site.load(path)
    assert cfg.mgc is not None
    params = from_config(cfg.mgc, f"{path} [mgc]")  # as the dashboard calls it
    assert (len(params.controllers), params.transition_point) == (4, 2)
    assert build_timeline(params).total_expiry_s == 900.0
    assert load_params(path).controllers == params.controllers


def test_empty_list_cannot_make_a_timeline() -> None:
    from ecc_doctor.captures.mgc import MgcParams, build_timeline

    with pytest.raises(ConfigError, match="the MGC list is empty"):
        build_timeline(MgcParams(controllers=()))
