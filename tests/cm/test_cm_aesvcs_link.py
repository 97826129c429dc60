"""cm.aesvcs-link: the CM<->AES transport from 'status aesvcs interface' and 'status aesvcs
link' (PROTOCOLS.md 4.3; ECC app note 5.4, 6.3), on the lab in both termtypes, under faults,
and the documented screens through ``ecc-doctor sat parse`` (QA 3a G1)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ecc_doctor.cli import cli
from ecc_doctor.lab import Lab
from ecc_doctor.models import Result, Status

from .conftest import cm_of, run

pytestmark = pytest.mark.anyio

TERMTYPES = ["ossi", "vt220"]


async def one(lab: Lab, termtype: str, **cm_changes: object) -> Result:
    (result,) = await run(lab, "cm.aesvcs-link", termtype=termtype, **cm_changes)
    return result


@pytest.mark.parametrize("termtype", TERMTYPES)
async def test_passes_on_the_lab(lab: Lab, termtype: str) -> None:
    result = await one(lab, termtype)
    assert result.status is Status.PASS, result.summary
    assert result.summary == (
        "AESVCS interface on procr listening (1 connection(s)); "
        "AES link 01/01 aes70 127.0.0.1:53576 on procr up"
    )
    assert result.source == "ECC app note 5.4, 6.3"
    assert result.metrics["procr.connections"] == 1
    assert result.metrics["link01/01.msgs_sent"] >= 15
    assert result.metrics["link01/01.msgs_rcvd"] >= 15
    tables = {e.title: e for e in result.evidence if e.kind == "table"}
    assert tables["status aesvcs interface"].rows == (("procr", "yes", "1", "listening"),)
    assert tables["status aesvcs link"].rows[0][:5] == (
        "01/01",
        "aes70",
        "127.0.0.1",
        "53576",
        "procr",
    )
    text = json.dumps(result.to_dict())
    assert cm_of(lab).password not in text and cm_of(lab).aes_password not in text


@pytest.mark.parametrize("termtype", TERMTYPES)
async def test_aes_restart_fails_the_link_is_gone(lab: Lab, termtype: str) -> None:
    await lab.fault("aes-restart")
    try:
        result = await one(lab, termtype)
    finally:
        await lab.heal("aes-restart")
    assert result.status is Status.FAIL
    assert result.summary == (
        "no AES link to AE Services server aes70 in 'status aesvcs link' (none listed; procr "
        "has 0 connection(s)): AES is not connected to CM (AES down, the switch connection's "
        "password or network; app note 6.3)"
    )
    assert result.metrics == {"procr.connections": 0}


async def test_cti_link_down_leaves_the_transport_up(lab: Lab) -> None:
    # the CTI link rides on the AES link: its fault is above the transport
    await lab.fault("cti-link-down")
    by_id = {r.check_id: r for r in await run(lab, "cm.cti-link", "cm.aesvcs-link")}
    assert by_id["cm.cti-link"].status is Status.FAIL
    assert by_id["cm.aesvcs-link"].status is Status.PASS


@pytest.mark.parametrize("termtype", TERMTYPES)
async def test_disabled_or_not_listening_interface_fails(lab: Lab, termtype: str) -> None:
    emu = cm_of(lab)
    emu.aesvcs_enabled = False
    result = await one(lab, termtype)
    assert result.status is Status.FAIL
    assert result.summary.startswith(
        "AESVCS interface on procr is not enabled (Enabled? no); no AES link to AE Services "
        "server aes70"
    )
    emu.aesvcs_enabled, emu.aesvcs_status = True, "down"
    result = await one(lab, termtype)
    assert result.status is Status.FAIL
    assert result.summary.startswith("AESVCS interface on procr is down (expected listening)")


async def test_other_aes_name_or_node_fails_naming_it(lab: Lab) -> None:
    result = await one(lab, "ossi", aes_server_name="aes99")
    assert result.status is Status.FAIL
    assert result.summary.startswith(
        "no AES link to AE Services server aes99 in 'status aesvcs link' (listed: 01/01 aes70; "
        "procr has 1 connection(s))"
    )
    result = await one(lab, "vt220", aesvcs_local_node="clan1")
    assert result.status is Status.FAIL
    assert result.summary == (
        "'status aesvcs interface' lists no AESVCS interface on clan1 (listed: procr; "
        "ip-services AESVCS, [cm] aesvcs_local_node)"
    )


@pytest.mark.parametrize("termtype", TERMTYPES)
async def test_suspicious_but_working_states_warn(lab: Lab, termtype: str) -> None:
    emu = cm_of(lab)
    emu.interface_connections = 0  # the screens disagree for a moment
    result = await one(lab, termtype)
    assert result.status is Status.WARN
    assert "listening with 0 connections, yet 'status aesvcs link' lists 01/01" in result.summary
    emu.interface_connections, emu.aes_link_node = None, "clan1"
    result = await one(lab, termtype)
    assert result.status is Status.WARN
    assert result.summary.startswith(
        "AES link 01/01 aes70 127.0.0.1:53576 on clan1 is up, but not on procr"
    )


async def test_wrapped_remote_ip_is_read_through_the_vt220_probe(lab: Lab) -> None:
    emu = cm_of(lab)
    emu.wrap_remote_ip, emu.aes_link_ip = True, "2001:db8:70::38"
    result = await one(lab, "vt220")
    assert result.status is Status.PASS, result.summary
    assert "01/01 aes70 2001:db8:70::38:53576 on procr up" in result.summary


@pytest.mark.parametrize("termtype", TERMTYPES)
async def test_garbled_output_is_a_one_line_error(lab: Lab, termtype: str) -> None:
    await lab.fault("ossi-garbled")
    result = await one(lab, termtype)
    assert result.status is Status.ERROR
    assert "\n" not in result.summary and "Traceback" not in result.summary
    assert "status aesvcs interface" in result.summary


# --- the documented screens (PROTOCOLS.md 4.3) through `ecc-doctor sat parse` ----------------

INTERFACE_SCREEN = """\
status aesvcs interface

                          AE SERVICES INTERFACE STATUS

Local Node         Enabled?    Number of       Status
                               Connections

procr  yes  1  listening

Command successfully completed
"""

LINK_HEAD = """\
status aesvcs link                                            Page   1 of   1

                           AE SERVICES LINK STATUS

Srvr/ AE Services      Remote IP        Remote  Local       Msgs     Msgs
Link  Server                            Port    Node        Sent     Rcvd
"""

LINK_RECORD = {
    "Srvr/Link": "01/01",
    "AE Services Server": "aes7038",
    "Remote IP": "172.16.70.38",
    "Remote Port": "53576",
    "Local Node": "procr",
    "Msgs Sent": "629",
    "Msgs Rcvd": "614",
}


def parse(text: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["sat", "parse", "--format", "json", "-"], input=text)
    return result.exit_code, result.stdout, result.stderr


def test_documented_interface_row_parses() -> None:
    code, out, err = parse(INTERFACE_SCREEN)
    assert code == 0, err
    data = json.loads(out)
    assert data["command"] == "status aesvcs interface"
    assert data["tables"][0]["records"] == [
        {
            "Local Node": "procr",
            "Enabled": "yes",
            "Number of Connections": "1",
            "Status": "listening",
        }
    ]


@pytest.mark.parametrize(
    "rows",
    [
        "01/01 aes7038 172.16.70.38 53576 procr 629 614\n",  # PROTOCOLS.md 4.3's example row
        "01/01 aes7038                 53576   procr       629      614\n"
        "                       172.16.70.38\n",  # the Remote IP wrapped onto the next line
        "01/01 aes7038         172.16.70. 53576   procr       629      614\n"
        "                       38\n",  # ... only its end wrapped
    ],
    ids=["one-line", "ip-on-next-line", "ip-split"],
)
def test_documented_link_rows_parse_with_a_wrapped_remote_ip(rows: str) -> None:
    code, out, err = parse(LINK_HEAD + rows + "\x1b[23;1HCommand successfully completed\n")
    assert code == 0, err
    data = json.loads(out)
    assert data["command"] == "status aesvcs link"
    assert data["tables"][0]["records"] == [LINK_RECORD]


def test_link_screen_of_several_rows_and_abbreviated_command() -> None:
    text = (
        LINK_HEAD.replace("status aesvcs link", "stat aesvcs li")
        + "01/01 aes7038 172.16.70.38 53576 procr 629 614\n"
        + "02/01 aes7039                 41000   procr       1      2\n"
        + "                       172.16.70.39\n"
    )
    code, out, err = parse(text)
    assert code == 0, err
    records = json.loads(out)["tables"][0]["records"]
    assert [(r["Srvr/Link"], r["Remote IP"]) for r in records] == [
        ("01/01", "172.16.70.38"),
        ("02/01", "172.16.70.39"),
    ]


def test_link_status_in_ossi_with_the_assumed_ids() -> None:
    text = (
        "c status aesvcs link\n"
        "f0201ff00\t0202ff00\t0203ff00\t0204ff00\t0205ff00\n"
        "f0206ff00\t0207ff00\n"
        "d01/01\taes7038\t172.16.70.38\t53576\tprocr\n"
        "d629\t614\n"
        "t\n"
    )
    code, out, err = parse(text)
    assert code == 0, err
    assert json.loads(out)["tables"][0]["records"] == [LINK_RECORD]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            LINK_HEAD + "01/01 aes7038 53576 procr 629 614\n",
            "status aesvcs link: link 01/01 to aes7038: cannot read the Remote IP "
            "(none: screen cut off?)",
        ),
        (
            LINK_HEAD + "01/01 aes7038 172.16.70.999 53576 procr 629 614\n",
            "status aesvcs link: link 01/01 to aes7038: cannot read the Remote IP '172.16.70.999'",
        ),
        (
            LINK_HEAD + "01/01 aes7038 172.16.70.38 53576 procr 6\x0029 614\n",
            "status aesvcs link: cannot read row",
        ),
        (
            "AE SERVICES LINK STATUS\n01/01 aes7038 172.16.70.38 53576 procr 629 614\n",
            "status aesvcs link: column header 'Srvr/Link / AE Services Server / Remote IP ...' "
            "not found",
        ),
        (
            INTERFACE_SCREEN.replace("procr  yes  1  listening", "procr  maybe  x  \x1b[5m??"),
            "status aesvcs interface: cannot read row 'procr",
        ),
        (
            "status aesvcs interface\n\n   AE SERVICES INTERFACE STATUS\n",
            "status aesvcs interface: column header 'Local Node / Enabled? / Number of "
            "Connections / Status' not found",
        ),
    ],
    ids=["no-ip", "bad-ip", "binary-junk", "no-header", "bad-interface-row", "cut-off"],
)
def test_hostile_or_garbled_screens_are_one_error_line(text: str, message: str) -> None:
    code, out, err = parse(text)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0]
    assert "Traceback" not in err and "\x00" not in err and "\x1b" not in err
