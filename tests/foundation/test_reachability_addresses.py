"""net.reachability: IPv6 addresses are shown bracketed, and [net] extra is parsed one way."""

from __future__ import annotations

import pytest

from ecc_doctor.checks import CHECKS, spec_of
from ecc_doctor.checks.reachability import endpoints
from ecc_doctor.config import from_mapping
from ecc_doctor.errors import ConfigError, ConnectError
from ecc_doctor.netaddr import host_port
from ecc_doctor.probes.tcp import connect_latency
from ecc_doctor.runner import run_checks


def test_host_port_brackets_ipv6_only() -> None:
    assert host_port("::1", 1) == "[::1]:1"
    assert host_port("127.0.0.1", 22) == "127.0.0.1:22"
    assert host_port("cm.example", 5022) == "cm.example:5022"


@pytest.mark.anyio
async def test_refused_ipv6_endpoint_is_shown_bracketed() -> None:
    with pytest.raises(ConnectError) as info:
        await connect_latency("::1", 1, 2.0)
    assert info.value.message.startswith("[::1]:1: ")


@pytest.mark.anyio
async def test_reachability_table_and_summary_bracket_ipv6() -> None:
    cfg = from_mapping({"net": {"extra": ["lo6=[::1]:1"]}}, source="<t>")
    (result,) = await run_checks([spec_of(CHECKS["net.reachability"])], cfg)
    table = next(e for e in result.evidence if e.kind == "table")
    assert table.rows[0][:2] == ("lo6", "[::1]:1")


def test_extra_is_split_at_the_first_equals_sign_everywhere() -> None:
    cfg = from_mapping({"net": {"extra": ["sm1=10.0.0.20:5061", "10.0.0.21:5060"]}}, source="<t>")
    assert endpoints(cfg) == [("sm1", "10.0.0.20", 5061), ("extra[1]", "10.0.0.21", 5060)]
    with pytest.raises(ConfigError, match=r"extra\[0\]: expected 'host:port' or 'name=host:port'"):
        from_mapping({"net": {"extra": ["a=b=c:22"]}}, source="<t>")


@pytest.mark.parametrize(
    "item",
    [
        "[::1:22",  # unclosed bracket
        "::1]:22",  # stray closing bracket
        "a[b]c:22",  # brackets inside a host
        "::1:22",  # IPv6 without brackets: where does the port start?
        "sm1=fe80::1:5060",
        "h:\u0662\u0662",  # Arabic-Indic digits are digits to str.isdigit, not a port
        "h:\uff12\uff12",  # fullwidth digits
        "h:+22",
        "h:",
        ":22",
        "[]:22",
        "h:0",
        "h:65536",
    ],
)
def test_malformed_endpoints_are_one_line_config_errors(item: str) -> None:
    from ecc_doctor.config.sections import parse_endpoint

    assert parse_endpoint(item) is None
    with pytest.raises(ConfigError) as info:
        from_mapping({"net": {"extra": ["ok=10.0.0.1:22", item]}}, source="<t>")
    message = info.value.message
    assert "\n" not in message
    target = item.partition("=")[2] or item
    if target.count(":") > 1 and not {"[", "]"} & set(target):  # IPv6 without brackets
        assert message.endswith(
            f"extra[1]: an IPv6 address needs brackets, as '[addr]:port' (e.g. '[::1]:5061'), "
            f"got {item!r}"
        )
    else:
        assert message.endswith(f"extra[1]: expected 'host:port' or 'name=host:port', got {item!r}")


@pytest.mark.parametrize(
    ("item", "parsed"),
    [
        ("[::1]:22", ("", "::1", 22)),
        ("lo6=[fe80::1]:5060", ("lo6", "fe80::1", 5060)),
        ("cm.example:5022", ("", "cm.example", 5022)),
        ("sm1=10.0.0.20:65535", ("sm1", "10.0.0.20", 65535)),
    ],
)
def test_wellformed_endpoints_parse(item: str, parsed: tuple[str, str, int]) -> None:
    from ecc_doctor.config.sections import parse_endpoint

    assert parse_endpoint(item) == parsed
