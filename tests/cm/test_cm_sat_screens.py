"""SAT screen parsers on the ECC app note's exact screens (sections 5.1-5.4 and 9.1)."""

from __future__ import annotations

import pytest
from tests.conftest import FIXTURES, SEEDS, require_shared

from ecc_doctor.errors import ProtocolError
from ecc_doctor.probes.sat_records import CtiLinkRow, CtiLinkStatus, FieldScreen, IpServices
from ecc_doctor.probes.sat_screens import (
    command_of,
    label_values,
    parse_screen,
    parse_text,
    recognise,
)

CM = FIXTURES / "cm"
SEED = SEEDS / "000_5db4881c08198d6c.txt"


def screen(name: str) -> str:
    return (CM / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "name",
    [
        "status_aesvcs_cti_link.txt",
        "customer_options_p4.txt",
        "cti_link_1.txt",
        "ip_services_p1_p4.txt",
        "features_p5_p13.txt",
    ],
)
def test_fixture_lines_are_the_app_note_text(name: str) -> None:
    seed_lines = set(require_shared(SEED).read_text(encoding="utf-8").splitlines())
    lines = screen(name).splitlines()
    assert len(lines) > 10
    assert [ln for ln in lines if ln not in seed_lines] == []


def test_status_aesvcs_cti_link_app_note_91() -> None:
    parsed = parse_screen(screen("status_aesvcs_cti_link.txt"))
    assert isinstance(parsed, CtiLinkStatus)
    assert parsed.rows == (CtiLinkRow(1, "7", "no", "aes70", "established", 15, 15),)
    assert parsed.link(1) is not None
    assert parsed.link(2) is None


def test_status_row_with_blank_cells_is_read_by_column() -> None:
    text = screen("status_aesvcs_cti_link.txt").replace(
        "1     7        no    aes70            established   15       15",
        "2              no    aes71            down          0        3",
    )
    parsed = parse_screen(text)
    assert isinstance(parsed, CtiLinkStatus)
    assert parsed.rows == (CtiLinkRow(2, "", "no", "aes71", "down", 0, 3),)


def test_customer_options_app_note_51() -> None:
    parsed = parse_screen(screen("customer_options_p4.txt"))
    assert isinstance(parsed, FieldScreen)
    assert parsed.command == "display system-parameters customer-options"
    assert parsed.get("Computer Telephony Adjunct Links") == "y"
    assert parsed.get("computer telephony  adjunct links") == "y"
    assert parsed.get("ARS") == "y"
    assert parsed.get("ASAI Link Core Capabilities") == "n"
    assert parsed.get("DCS (Basic)") == "y"
    assert parsed.get("no such option") is None


def test_cti_link_app_note_52() -> None:
    parsed = parse_screen(screen("cti_link_1.txt"))
    assert isinstance(parsed, FieldScreen)
    assert parsed.command == "display cti-link"
    assert dict(parsed.fields) == {
        "CTI Link": "1",
        "Extension": "3332",
        "Type": "ADJ-IP",
        "COR": "1",
        "Name": "AES70",
    }


def test_features_two_pages_app_note_53() -> None:
    parsed = parse_screen(screen("features_p5_p13.txt"))
    assert isinstance(parsed, FieldScreen)
    assert parsed.command == "display system-parameters features"
    assert parsed.get("Create Universal Call ID (UCID)") == "y"
    assert parsed.get("UCID Network Node ID") == "01"
    assert parsed.get("Send UCID to ASAI") == "y"
    # empty values are empty, not the next label
    assert parsed.get("Endpoint") == ""
    assert parsed.get("Lines Per Page") == "60"
    assert parsed.get("Switch Name") == ""
    assert parsed.get("MCT Voice Recorder Trunk Group") == ""
    assert parsed.get("EC500 Routing in Survivable Mode") == "dpt-then-ec500"


def test_ip_services_app_note_54_drops_password() -> None:
    parsed = parse_screen(screen("ip_services_p1_p4.txt"))
    assert isinstance(parsed, IpServices)
    (svc,) = parsed.services
    assert (svc.service_type, svc.enabled, svc.local_node, svc.local_port) == (
        "AESVCS",
        "y",
        "procr",
        "8765",
    )
    (aes,) = parsed.aes_servers
    assert (aes.server_id, aes.name, aes.enabled, aes.status) == ("1", "aes70", "y", "in use")
    for table in parsed.tables():
        assert "Password" not in table.columns


def test_ip_services_password_never_kept_even_if_shown() -> None:
    text = screen("ip_services_p1_p4.txt").replace("*   ", "S3cr3tPw")
    parsed = parse_screen(text)
    assert "S3cr3tPw" not in repr(parsed)
    assert "S3cr3tPw" not in repr([t.records() for t in parsed.tables()])


def _vt220(lines: list[str], command: str) -> str:
    """Paint *lines* as CM does: clear, cursor-addressed rows, erase-to-end-of-line."""
    out = ["\x1b[H\x1b[2J"]
    out += [f"\x1b[{i + 1};1H\x1b[0m{text}\x1b[K" for i, text in enumerate(lines)]
    out.append(f"\x1b[23;1HCommand successfully completed\x1b[K\x1b[24;1HCommand: {command}\x1b[K")
    return "".join(out)


def test_vt220_escaped_status_screen() -> None:
    lines = [ln for ln in screen("status_aesvcs_cti_link.txt").splitlines() if ln.strip()]
    parsed = parse_screen(_vt220(lines, ""))
    assert isinstance(parsed, CtiLinkStatus)
    assert parsed.rows[0].state == "established"
    assert parsed.rows[0].msgs_rcvd == 15


def test_vt220_paged_features_screen() -> None:
    text = screen("features_p5_p13.txt")
    first, _, second = text.partition(
        "change system-parameters features                             Page  13"
    )
    page1 = [ln for ln in first.splitlines() if ln.strip()]
    page2 = ["change system-parameters features                             Page  13" + second]
    page2 = [ln for ln in "\n".join(page2).splitlines() if ln.strip()]
    more = "\x1b[24;1Hpress CANCEL to quit --  press NEXT PAGE to continue\x1b[K"
    paged = _vt220(page1, "") + more + _vt220(page2, "")
    parsed = parse_screen(paged)
    assert isinstance(parsed, FieldScreen)
    assert parsed.get("UCID Network Node ID") == "01"
    assert parsed.get("Send UCID to ASAI") == "y"


def test_pasted_screen_with_page_marks_and_crlf() -> None:
    text = screen("cti_link_1.txt").replace("\n", "\r\n")
    text += "\r\npress CANCEL to quit -- press NEXT PAGE to continue\r\nCommand successfully completed\r\n"
    parsed = parse_screen(text)
    assert isinstance(parsed, FieldScreen)
    assert parsed.get("Type") == "ADJ-IP"


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("status aesvcs cti-link", "status aesvcs cti-link"),
        ("Command: status aesvcs cti-link", "status aesvcs cti-link"),
        ("cstatus aesvcs cti-link", "status aesvcs cti-link"),
        ("c display cti-link 1", "display cti-link"),
        ("disp cti 1", "display cti-link"),
        ("add cti-link 1                       Page   1 of   3", "display cti-link"),
        ("change system-parameters features", "display system-parameters features"),
        ("disp sys cust", "display system-parameters customer-options"),
        ("display ip-services", "display ip-services"),
        ("list station", None),
        ("Computer Telephony Adjunct Links? y", None),
        ("", None),
    ],
)
def test_command_recognition(line: str, command: str | None) -> None:
    assert command_of(line) == command


def test_recognise_by_title_without_command_line() -> None:
    text = "\n".join(screen("status_aesvcs_cti_link.txt").splitlines()[1:])
    assert recognise(text) == "status aesvcs cti-link"


@pytest.mark.parametrize(
    ("line", "pairs"),
    [
        ("     Type: ADJ-IP ", [("Type", "ADJ-IP")]),
        (
            "     Create Universal Call ID (UCID)? y    UCID Network Node ID: 01 ",
            [("Create Universal Call ID (UCID)", "y"), ("UCID Network Node ID", "01")],
        ),
        (
            "  Endpoint:               Lines Per Page: 60 ",
            [("Endpoint", ""), ("Lines Per Page", "60")],
        ),
        ("     Name: AES70 link one  ", [("Name", "AES70 link one")]),
        ("SYSTEM-WIDE PARAMETERS", []),
        ("  Time: 10:45", [("Time", "10:45")]),
    ],
)
def test_label_values(line: str, pairs: list[tuple[str, str]]) -> None:
    assert label_values(line) == pairs


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("hello world\nnothing here\n", "not a screen ecc-doctor knows"),
        (
            "status aesvcs cti-link\n\nAE SERVICES CTI LINK STATUS\n"
            "CTI   Version  Mnt   AE Services      Service       Msgs     Msgs\n"
            "Link           Busy  Server           State         Sent     Rcvd\n"
            "1     7        no    aes70            establ",
            "cannot read row",
        ),
        ("status aesvcs cti-link\n\nAE SERVICES CTI LINK STATUS\n", "column header"),
        ("display cti-link 1\n   CTI LINK\n", "no 'label: value' fields"),
        ("display ip-services\n   IP SERVICES\n", "no service or AE Services header"),
        (
            "display ip-services\n Service     Enabled     Local        Local\nAESVCS  y  procr  port\n",
            "cannot read service row",
        ),
        ("\x1b[2J\x1b[1;1H\x00\x01\x02garbage\x1b[K", "not a screen"),
    ],
)
def test_garbled_or_truncated_screens_raise_protocol_error(text: str, reason: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_text(text)
    assert reason in info.value.message
    assert "\n" not in info.value.message


def _status_page(number: int, total: int, rows: list[str]) -> list[str]:
    return [
        f"status aesvcs cti-link                                        Page   {number} of   {total}",
        "                          AE SERVICES CTI LINK STATUS",
        "CTI   Version  Mnt   AE Services      Service       Msgs     Msgs",
        "Link           Busy  Server           State         Sent     Rcvd",
        *rows,
    ]


_PAGE1_ROWS = [
    "1     7        no    aes70            established   15       15",
    "2     7        no    aes70            established   20       21",
]
_PAGE2_ROWS = ["3     7        no    aes71            down          0        0"]


def _assert_three_links(parsed: object) -> None:
    assert isinstance(parsed, CtiLinkStatus)
    assert [(r.link, r.aes_server, r.state) for r in parsed.rows] == [
        (1, "aes70", "established"),
        (2, "aes70", "established"),
        (3, "aes71", "down"),
    ]


def test_two_page_status_screen_plain_text() -> None:
    prompt = "press CANCEL to quit --  press NEXT PAGE to continue"
    lines = [*_status_page(1, 2, _PAGE1_ROWS), prompt, *_status_page(2, 2, _PAGE2_ROWS)]
    _assert_three_links(parse_screen("\r\n".join(lines) + "\r\n"))
    _assert_three_links(parse_text("\n".join(lines)))


def test_two_page_status_screen_vt220() -> None:
    more = "\x1b[24;1Hpress CANCEL to quit --  press NEXT PAGE to continue\x1b[K"
    paged = (
        _vt220(_status_page(1, 2, _PAGE1_ROWS), "")
        + more
        + _vt220(_status_page(2, 2, _PAGE2_ROWS), "")
    )
    _assert_three_links(parse_screen(paged))
