"""The lab CM's own OSSI writer and command table (kept apart from the probe's code)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ecc_doctor.lab.cm_ossi as lab_ossi
import ecc_doctor.lab.cm_sat as lab_cm
from ecc_doctor.probes.sat_ossi import OSSI_FIELDS, parse_ossi
from ecc_doctor.probes.sat_records import CtiLinkStatus, from_ossi
from ecc_doctor.probes.sat_screens import command_of


def _imports(module: object) -> set[str]:
    tree = ast.parse(Path(str(getattr(module, "__file__", ""))).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("module", [lab_cm, lab_ossi])
def test_lab_cm_does_not_import_probe_code(module: object) -> None:
    assert not [m for m in _imports(module) if m.startswith("ecc_doctor.probes")]


def test_lab_copy_of_the_field_id_table_agrees_with_the_probe() -> None:
    assert lab_ossi.LAB_FIELDS == OSSI_FIELDS


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("status aesvcs cti-link", ("status aesvcs cti-link", "")),
        ("stat aesvcs cti", ("status aesvcs cti-link", "")),
        ("disp cti 1", ("display cti-link", "1")),
        ("display cti-link 9", ("display cti-link", "9")),
        ("disp sys cust", ("display system-parameters customer-options", "")),
        ("d ip-services", None),  # one letter is too short
        ("list station", None),
        ("", None),
    ],
)
def test_lab_command_table(typed: str, expected: tuple[str, str] | None) -> None:
    assert lab_ossi.parse_command(typed) == expected
    if expected is not None:  # the probe reads the same abbreviation as the same command
        assert command_of(typed) == expected[0]


def test_lab_writer_output_is_read_by_the_probe_parser() -> None:
    records = [
        {
            "CTI Link": str(n),
            "Version": "7",
            "Mnt Busy": "no",
            "AE Services Server": "aes70",
            "Service State": "established",
            "Msgs Sent": "15",
            "Msgs Rcvd": "16",
        }
        for n in (1, 2)
    ]
    lines = lab_ossi.answer(lab_ossi.STATUS_CTI, lab_ossi.LAB_FIELDS[lab_ossi.STATUS_CTI], records)
    assert lines[0] == "c status aesvcs cti-link"
    assert lines.count("n") == 1
    assert all(len(ln[1:].split("\t")) <= lab_ossi.PER_LINE for ln in lines if ln[0] in "fd")
    response = parse_ossi(lines)
    assert response.command == "status aesvcs cti-link"
    parsed = from_ossi(lab_ossi.STATUS_CTI, response)
    assert isinstance(parsed, CtiLinkStatus)
    assert [(r.link, r.msgs_rcvd) for r in parsed.rows] == [(1, 16), (2, 16)]


def test_lab_error_answer() -> None:
    assert lab_ossi.error("disp cti 9", "c001ff00", "Identifier not assigned") == [
        "c disp cti 9",
        "e1 c001ff00 0 Identifier not assigned",
        "t",
    ]
