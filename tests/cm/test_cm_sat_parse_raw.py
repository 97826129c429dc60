"""``sat parse`` of OSSI output with field IDs ecc-doctor does not know lists the records raw
with a hint (QA 3a F2b); headings name the screen title once (QA 3a F5)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from tests.conftest import FIXTURES

from ecc_doctor.cli import cli

UNKNOWN = (
    "c status aesvcs cti-link\n"
    "f1001ff00\t1002ff00\t1003ff00\t1004ff00\t1005ff00\t1006ff00\t1007ff00\n"
    "d1\t7\tno\taes70\testablished\t15\t15\n"
    "t\n"
)


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["sat", "parse", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_unknown_ids_are_listed_raw_with_a_hint() -> None:
    code, out, err = invoke("--format", "json", "-", stdin=UNKNOWN)
    assert code == 0, err
    data = json.loads(out)
    assert data["command"] == "status aesvcs cti-link" and data["raw"] is True
    records = data["tables"][0]["records"]
    assert {"Field ID": "1005ff00", "Label": "", "Value": "established"} in records
    assert err.count("\n") == 1
    assert 'set [cm.ossi_fields."status aesvcs cti-link"]' in err
    assert "0001ff00 (CTI Link)" in err


def test_raw_ip_services_never_shows_a_password() -> None:
    ossi = "c display ip-services\nf1001ff00\t1002ff00\t1003ff00\nd1\taes70\tS3cret-pw\nt\n"
    code, out, err = invoke("-", stdin=ossi)
    assert code == 0, err
    assert "S3cret-pw" not in out + err
    assert "(hidden, 9 characters)" in out


def test_headings_name_the_screen_title_once() -> None:
    code, out, _ = invoke(str(FIXTURES / "cm" / "cti_link_1.txt"))
    assert code == 0
    assert out.splitlines()[0].strip() == "display cti-link: CTI LINK"
    code, out, _ = invoke(str(FIXTURES / "cm" / "features_p5_p13.txt"))
    assert code == 0
    assert out.splitlines()[0].strip() == (
        "display system-parameters features: FEATURE-RELATED SYSTEM PARAMETERS"
    )
