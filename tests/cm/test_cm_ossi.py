"""OSSI line protocol: records, errors, multi-line f/d, quirks; field-ID table and overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecc_doctor.config import from_mapping
from ecc_doctor.errors import ConfigError, ProtocolError
from ecc_doctor.lab.cm_ossi import answer
from ecc_doctor.probes.sat_ossi import (
    OSSI_FIELDS,
    STATUS_CTI,
    check_overrides,
    field_map,
    parse_ossi,
    secret_ids,
)
from ecc_doctor.probes.sat_records import CtiLinkStatus, FieldScreen, IpServices, from_ossi
from ecc_doctor.probes.sat_screens import parse_text

STATUS_TWO_LINKS = [
    "cstatus aesvcs cti-link",
    "f0001ff00\t0002ff00\t0003ff00\t0004ff00",
    "f0005ff00\t0006ff00\t0007ff00",
    "d1\t7\tno\taes70",
    "destablished\t15\t15",
    "n",
    "d2\t7\tno\taes71",
    "ddown\t0\t0",
    "t",
]


def test_multi_record_multi_line_fields_and_data() -> None:
    response = parse_ossi(STATUS_TWO_LINKS)
    assert response.command == "status aesvcs cti-link"
    assert response.error is None
    assert len(response.records) == 2
    assert response.records[0]["0005ff00"] == "established"
    assert response.records[1]["0004ff00"] == "aes71"
    parsed = from_ossi(STATUS_CTI, response)
    assert isinstance(parsed, CtiLinkStatus)
    assert [(r.link, r.state, r.msgs_sent) for r in parsed.rows] == [
        (1, "established", 15),
        (2, "down", 0),
    ]


def test_error_line_keeps_cm_message() -> None:
    response = parse_ossi(["cdisplay cti-link 9", "e1 c001ff00 0 Identifier not assigned", "t"])
    assert response.error == "Identifier not assigned"
    assert response.error_field == "c001ff00"
    assert response.records == ()
    with pytest.raises(ProtocolError, match="Identifier not assigned"):
        parse_text("cdisplay cti-link 9\nf0001ff00\ne1 c001ff00 0 Identifier not assigned\nt\n")


def test_short_error_line() -> None:
    assert parse_ossi(["e1 oops", "t"]).error == "1 oops"


def test_dropped_trailing_empty_field_is_restored() -> None:
    response = parse_ossi(["cdisplay cti-link 1", "fc001ff00\tc002ff00\tc003ff00", "d1\t3332", "t"])
    assert response.records == ({"c001ff00": "1", "c002ff00": "3332", "c003ff00": ""},)


def test_fields_repeated_after_n_start_a_new_field_list() -> None:
    records = [
        {"1501ff00": "AESVCS", "1502ff00": "y", "1503ff00": "procr", "1504ff00": "8765"},
        {
            "1541ff00": "1",
            "1542ff00": "aes70",
            "1543ff00": "pw-on-cm",
            "1544ff00": "y",
            "1545ff00": "in use",
        },
    ]
    # the lab's writer, keyed by field ID directly (labels map each ID to itself)
    lines = answer("display ip-services", {k: k for r in records for k in r}, records)
    response = parse_ossi(lines, mask=secret_ids(field_map()))
    parsed = from_ossi("display ip-services", response)
    assert isinstance(parsed, IpServices)
    assert parsed.services[0].local_port == "8765"
    assert parsed.aes_servers[0].status == "in use"
    assert "pw-on-cm" not in repr(parsed)
    assert "pw-on-cm" not in "\n".join(response.masked_lines)
    assert any("aes70\t*\ty" in line for line in response.masked_lines)


def test_duplicate_field_ids_keep_the_first() -> None:
    response = parse_ossi(["f0001ff00\t0001ff00", "da\tb", "t"])
    assert response.records == ({"0001ff00": "a"},)


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["cstatus aesvcs cti-link", "f0001ff00\t0005ff00", "d1"], "without the closing 't'"),
        (["f0001ff00\t0005ff00\t0006ff00", "d1", "t"], "has 1 value for 3 field IDs"),
        (["f0001ff00", "d1\t2\t3", "t"], "has 3 values for 1 field ID "),
        (["fnot-hex", "d1", "t"], "not 8-hex-digit IDs"),
        (["f0001ff00", "x1", "t"], "not a c/f/d/n/e/t line"),
    ],
)
def test_garbled_ossi_raises_protocol_error(lines: list[str], reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        parse_ossi(lines)


def test_missing_mapped_field_names_the_override() -> None:
    response = parse_ossi(["f0001ff00", "d1", "t"])
    with pytest.raises(ProtocolError, match=r"0005ff00 \(Service State\).*cm.ossi_fields"):
        from_ossi(STATUS_CTI, response)


def test_unknown_ids_for_a_form_name_the_override() -> None:
    response = parse_ossi(["fabcdef01", "dy", "t"])
    with pytest.raises(ProtocolError, match="no known OSSI field IDs"):
        from_ossi("display system-parameters features", response)


def test_overridden_field_ids_are_used() -> None:
    fields = field_map({"display system-parameters features": {"Send UCID to ASAI": "1234ABCD"}})
    assert fields["display system-parameters features"]["Send UCID to ASAI"] == "1234abcd"
    response = parse_ossi(["f1234abcd\tf501ff00", "dy\tn", "t"])
    parsed = from_ossi("display system-parameters features", response, fields)
    assert isinstance(parsed, FieldScreen)
    assert parsed.get("Send UCID to ASAI") == "y"
    assert parsed.get("Create Universal Call ID (UCID)") == "n"


def test_every_table_id_is_8_hex_and_unique_per_command() -> None:
    for labels in OSSI_FIELDS.values():
        ids = list(labels.values())
        assert len(set(ids)) == len(ids)
        assert check_overrides({}) is None
    assert check_overrides(OSSI_FIELDS) is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"list station": {"Name": "00000000"}}, "cm.ossi_fields: expected one of"),
        ({STATUS_CTI: {"Colour": "00000000"}}, "expected a label among"),
        ({STATUS_CTI: {"Service State": "5ff00"}}, "expected 8 hex digits, got '5ff00'"),
    ],
)
def test_config_rejects_bad_ossi_field_overrides(
    override: dict[str, dict[str, str]], message: str
) -> None:
    data = {"cm": {"host": "cm", "username": "u", "password": "env:X", "ossi_fields": override}}
    with pytest.raises(ConfigError, match=message):
        from_mapping(data, source="site.toml")


def test_config_rejects_a_screen_termtype() -> None:
    # vt220 is accepted (tests/cm/test_cm_vt220_mode.py); other screen termtypes are not
    data = {"cm": {"host": "cm", "username": "u", "password": "env:X", "termtype": "4410"}}
    with pytest.raises(ConfigError, match="cm.termtype: expected an OSSI terminal type"):
        from_mapping(data, source="site.toml")


def test_ossi_text_is_recognised_and_parsed() -> None:
    parsed = parse_text("\n".join(STATUS_TWO_LINKS) + "\n")
    assert isinstance(parsed, CtiLinkStatus)
    assert parsed.link(2) is not None


def test_ossi_without_command_line_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="without a 'c' line"):
        parse_text("f0001ff00\nd1\nt\n")


def test_documented_field_id_table_matches_the_code() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "CM-SAT.md").read_text(encoding="utf-8")
    rows = {
        tuple(cell.strip() for cell in line.strip("|").split("|"))
        for line in doc.splitlines()
        if line.startswith("| ") and line.count("|") == 4
    }
    for command, labels in OSSI_FIELDS.items():
        for label, fid in labels.items():
            assert (command, label, fid) in rows
