"""``ecc-doctor sat parse`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from tests.conftest import FIXTURES

from ecc_doctor.cli import cli

CM = FIXTURES / "cm"


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["sat", "parse", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_app_note_status_screen_as_a_table() -> None:
    code, out, err = invoke(str(CM / "status_aesvcs_cti_link.txt"))
    assert code == 0, err
    assert "AE SERVICES CTI LINK STATUS" in out
    row = next(line for line in out.splitlines() if "established" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells == ["1", "7", "no", "aes70", "established", "15", "15"]


def test_app_note_status_screen_as_json_from_stdin() -> None:
    text = (CM / "status_aesvcs_cti_link.txt").read_text(encoding="utf-8")
    code, out, err = invoke("--format", "json", "-", stdin=text)
    assert code == 0, err
    data = json.loads(out)
    assert data["command"] == "status aesvcs cti-link"
    assert data["tables"][0]["records"] == [
        {
            "CTI Link": "1",
            "Version": "7",
            "Mnt Busy": "no",
            "AE Services Server": "aes70",
            "Service State": "established",
            "Msgs Sent": "15",
            "Msgs Rcvd": "15",
        }
    ]


def test_each_app_note_screen_is_recognised() -> None:
    expected = {
        "customer_options_p4.txt": "display system-parameters customer-options",
        "cti_link_1.txt": "display cti-link",
        "features_p5_p13.txt": "display system-parameters features",
        "ip_services_p1_p4.txt": "display ip-services",
    }
    for name, command in expected.items():
        code, out, err = invoke("--format", "json", str(CM / name))
        assert code == 0, err
        assert json.loads(out)["command"] == command


def test_ossi_output_with_site_field_ids(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        '[cm]\nhost = "cm"\nusername = "u"\npassword = "env:NOPE"\n'
        '[cm.ossi_fields."display system-parameters features"]\n'
        '"Send UCID to ASAI" = "0a0b0c0d"\n',
        encoding="utf-8",
    )
    ossi = "cdisplay system-parameters features\nf0a0b0c0d\tf502ff00\ndy\t07\nt\n"
    code, out, err = invoke("--format", "json", "--config", str(site), stdin=ossi)
    assert code == 0, err
    records = json.loads(out)["tables"][0]["records"]
    assert {"Field": "Send UCID to ASAI", "Value": "y"} in records
    assert {"Field": "UCID Network Node ID", "Value": "07"} in records


def test_unrecognised_text_is_one_line_exit_2() -> None:
    code, out, err = invoke(stdin="just some text\nthat is not a SAT screen\n")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("ecc-doctor: not a screen ecc-doctor knows")
    assert "Traceback" not in err


def test_truncated_ossi_and_binary_garbage_are_one_line_exit_2(tmp_path: Path) -> None:
    code, _, err = invoke(stdin="cstatus aesvcs cti-link\nf0001ff00\t0005ff00\nd1\n")
    assert code == 2
    assert "without the closing 't' line" in err
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(255, -1, -1)) * 4)  # high bytes first: not UTF-8
    code, _, err = invoke(str(garbage))
    assert code == 2
    assert err.count("\n") == 1
    # junk shows as escapes: no raw byte reaches the terminal
    assert err.isascii() and err.rstrip("\n").isprintable()


def test_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    code, _, err = invoke(str(tmp_path / "nope.txt"))
    assert code == 2
    assert "No such file or directory" in err
    assert err.count("\n") == 1


def test_ossi_error_output_without_f_line_shows_cm_message() -> None:
    for echo in ("cdisplay cti-link 9", "c display cti-link 9"):
        code, out, err = invoke(stdin=f"{echo}\ne1 c001ff00 0 Identifier not assigned\nt\n")
        assert code == 2
        assert out == ""
        assert err.count("\n") == 1
        assert "CM error for 'display cti-link': Identifier not assigned" in err
        assert "truncated" not in err


def test_two_page_status_screen_through_the_cli() -> None:
    page = [
        "status aesvcs cti-link                                        Page   {} of   2",
        "                          AE SERVICES CTI LINK STATUS",
        "CTI   Version  Mnt   AE Services      Service       Msgs     Msgs",
        "Link           Busy  Server           State         Sent     Rcvd",
    ]
    text = "\r\n".join(
        [
            page[0].format(1),
            *page[1:],
            "1     7        no    aes70            established   15       15",
            "press CANCEL to quit --  press NEXT PAGE to continue",
            page[0].format(2),
            *page[1:],
            "2     7        no    aes70            established   20       21",
        ]
    )
    code, out, err = invoke("--format", "json", "-", stdin=text)
    assert code == 0, err
    records = json.loads(out)["tables"][0]["records"]
    assert [r["CTI Link"] for r in records] == ["1", "2"]
