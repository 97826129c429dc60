"""'show mgc list' rows as pasted (tabs, single spaces, no search time), IPv6 spellings and
long bad lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import FIXTURES

from ecc_doctor.captures.mgc import MgcParams, analyze_frames, load_params
from ecc_doctor.captures.mgc.gateway_text import parse_gateway_text
from ecc_doctor.captures.records import ACK, PSH, RST, SYN, TCP, Frame
from ecc_doctor.errors import ConfigError
from ecc_doctor.models import Status

SAMPLE = (FIXTURES / "mgc" / "show_mgc_list.txt").read_text(encoding="utf-8")
HEADER = "PRIMARY MGC HOST, Primary Search Time : 1 min(s)"


def _table(sep: str) -> str:
    return "\n".join(
        [
            HEADER,
            "IPv4 Address" + sep + "IPv6 Address",
            "-------------------- ----------------------------------------------",
            "10.150.9.10" + sep + "-- Not Available --",
            "",
            "SECONDARY MGC HOST",
            "10.101.100.10" + sep + "-- Not Available --",
            "10.200.1.20          -- Not Available --",
            "-- Not Available --" + sep + "2001:db8::30",
            "",
            "sls disabled",
        ]
    )


@pytest.mark.parametrize("sep", ["\t", " ", "  \t "])
def test_rows_split_on_any_whitespace(sep: str) -> None:
    text = parse_gateway_text(_table(sep), source="gw.txt")
    assert text.addresses == ["10.150.9.10", "10.101.100.10", "10.200.1.20", "2001:db8::30"]


def test_a_row_that_is_no_address_is_an_error_naming_the_line() -> None:
    bad = _table("  ").replace("10.200.1.20 ", "10.200.1.2O ")
    with pytest.raises(ConfigError) as err:
        parse_gateway_text(bad, source="gw.txt")
    assert str(err.value).startswith("gw.txt:8: '10.200.1.2O")
    assert "'-- Not Available --'" in str(err.value)


def test_the_next_command_ends_the_table() -> None:
    text = parse_gateway_text(_table("  ") + "\nG450-001(super)# show system\n", source="gw")
    assert len(text.addresses or []) == 4


def test_primary_header_without_search_time_keeps_the_primary(tmp_path: Path) -> None:
    path = tmp_path / "gw.txt"
    path.write_text(SAMPLE.replace(HEADER, "PRIMARY MGC HOST"), encoding="utf-8")
    params = load_params(gateway_text=path)
    assert [c.address for c in params.controllers] == ["10.150.9.10", "10.101.100.10"]
    assert "primary_search_min" in params.assumed  # the default, said to be assumed


def test_ipv6_spellings_are_one_address(tmp_path: Path) -> None:
    path = tmp_path / "gw6.txt"
    path.write_text(
        "set mgc list 2001:DB8:1::10,2001:0db8:0001:0000:0000:0000:0000:0011,2001:db8:2:0::20\n"
        "set reset-times transition-point 2\nset reset-times primary-search 1\n"
        "set reset-times total-search 2\n",
        encoding="utf-8",
    )
    params = load_params(gateway_text=path).replace(gateway="2001:DB8:9:0::50")
    assert [c.address for c in params.controllers] == [
        "2001:db8:1::10",
        "2001:db8:1::11",
        "2001:db8:2::20",
    ]
    gw, pe, ess = "2001:db8:9::50", "2001:db8:1::10", "2001:db8:2::20"
    frames = [
        Frame(1, 0.0, gw, pe, TCP, 39000, 2945, b"\x17\x03\x03\x00\x01x", PSH | ACK),
        Frame(2, 0.1, pe, gw, TCP, 2945, 39000, b"", RST),
    ]
    for i in range(6):
        frames.append(
            Frame(
                3 + i,
                0.2 + 10 * i,
                gw,
                ("2001:db8:1::10", "2001:db8:1::11")[i % 2],
                TCP,
                40000 + i,
                2945,
                b"",
                SYN,
            )
        )
    frames += [
        Frame(9, 60.2, gw, ess, TCP, 41000, 2945, b"", SYN),
        Frame(10, 60.3, ess, gw, TCP, 2945, 41000, b"", SYN | ACK),
        Frame(11, 60.4, ess, gw, TCP, 2945, 41000, b"\x17\x03\x03\x00\x01x", PSH | ACK),
    ]
    (flow,) = analyze_frames(frames, params)
    assert flow.status is Status.PASS, flow.findings
    assert MgcParams.of(["2001:DB8::1"]).controllers[0].address == "2001:db8::1"


@pytest.mark.parametrize(
    "line",
    [
        "PRIMARY MGC HOST, Primary Search Time : " + "a" * 100_000,
        "set mgc list " + "1" * 100_000,
        "set reset-times total-search " + "9" * 100_000,
    ],
    ids=["primary-header", "set-list", "reset-digits"],
)
def test_a_long_bad_line_is_quoted_short(line: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_gateway_text(line, source="gw.txt")
    message = str(err.value)
    assert message.startswith("gw.txt:1: ") and len(message) < 400, len(message)
    assert "(100" in message  # says how long the line was


@pytest.mark.parametrize(
    "text",
    [
        "set mgc list 10.0.0.1,10.0.0.2\nset reset-times primary-search \u00b2\n",
        "PRIMARY MGC HOST, Primary Search Time : \u00b2 min(s)\n" + SAMPLE.split("\n", 1)[1],
    ],
    ids=["set", "show"],
)
def test_a_non_ascii_digit_is_a_config_error(text: str) -> None:
    """Review s7 #3: '²' passes str.isdigit() but not int(): a ConfigError naming the line,
    not an internal error (exit 3)."""
    with pytest.raises(ConfigError, match=r"^gw\.txt:\d+: "):
        parse_gateway_text(text, source="gw.txt")
