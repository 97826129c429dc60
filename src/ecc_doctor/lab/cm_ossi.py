"""The lab CM's own OSSI writer and SAT command table, written from PROTOCOLS.md 4.2.

This module deliberately shares no code with the probe (:mod:`ecc_doctor.probes.sat_ossi`,
:mod:`ecc_doctor.probes.sat_screens`): the lab follows the protocol notes, so a framing or
abbreviation mistake in the probe makes a lab test fail instead of being mirrored here.

What CM sends over OSSI (PROTOCOLS.md 4.2, CM -> client):

* ``c <command>`` echoes the command (with a blank after ``c``, as the notes show it);
* ``f<id>\\t<id>...`` field IDs (8 hex digits), a long record over several ``f`` lines;
* ``d<val>\\t<val>...`` values, positional to the ``f`` IDs, over several lines;
* ``n`` between records of list/status commands;
* ``e<code> <field> <code> <message>`` an error ("two error codes followed by the message");
* ``t`` ends the output.

:data:`LAB_FIELDS` is the lab's copy of ecc-doctor's field-ID table. The real IDs are NOT
FOUND (PROTOCOLS.md 4.2: learn them by comparing ossi and vt220 output on a real CM), so the
IDs are ecc-doctor's documented assumption (docs/CM-SAT.md); a test keeps this copy and the
probe's :data:`~ecc_doctor.probes.sat_ossi.OSSI_FIELDS` equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

STATUS_CTI = "status aesvcs cti-link"
CUSTOMER_OPTIONS = "display system-parameters customer-options"
CTI_LINK = "display cti-link"
FEATURES = "display system-parameters features"
IP_SERVICES = "display ip-services"
STATUS_INTERFACE = "status aesvcs interface"
STATUS_LINK = "status aesvcs link"

#: The commands the lab CM answers: canonical name -> (its words, takes a number argument).
LAB_COMMANDS: dict[str, tuple[tuple[str, ...], bool]] = {
    STATUS_CTI: (("status", "aesvcs", "cti-link"), False),
    CUSTOMER_OPTIONS: (("display", "system-parameters", "customer-options"), False),
    CTI_LINK: (("display", "cti-link"), True),
    FEATURES: (("display", "system-parameters", "features"), False),
    IP_SERVICES: (("display", "ip-services"), False),
    STATUS_INTERFACE: (("status", "aesvcs", "interface"), False),
    STATUS_LINK: (("status", "aesvcs", "link"), False),
}

#: SAT takes a word shortened to at least this many letters ("disp cti 1").
MIN_ABBREV = 2

#: The lab's copy of the documented, assumed field-ID table (see the module docstring).
LAB_FIELDS: dict[str, dict[str, str]] = {
    STATUS_CTI: {
        "CTI Link": "0001ff00",
        "Version": "0002ff00",
        "Mnt Busy": "0003ff00",
        "AE Services Server": "0004ff00",
        "Service State": "0005ff00",
        "Msgs Sent": "0006ff00",
        "Msgs Rcvd": "0007ff00",
    },
    CUSTOMER_OPTIONS: {
        "Computer Telephony Adjunct Links": "6a01ff00",
        "ASAI Link Core Capabilities": "6a02ff00",
        "ASAI Link Plus Capabilities": "6a03ff00",
    },
    CTI_LINK: {
        "CTI Link": "c001ff00",
        "Extension": "c002ff00",
        "Type": "c003ff00",
        "Name": "c004ff00",
        "COR": "c005ff00",
    },
    FEATURES: {
        "Create Universal Call ID (UCID)": "f501ff00",
        "UCID Network Node ID": "f502ff00",
        "Send UCID to ASAI": "f503ff00",
    },
    IP_SERVICES: {
        "Service Type": "1501ff00",
        "Enabled": "1502ff00",
        "Local Node": "1503ff00",
        "Local Port": "1504ff00",
        "Remote Node": "1505ff00",
        "Remote Port": "1506ff00",
        "Server ID": "1541ff00",
        "AE Services Server": "1542ff00",
        "Password": "1543ff00",
        "Server Enabled": "1544ff00",
        "Status": "1545ff00",
    },
    STATUS_INTERFACE: {
        "Local Node": "0101ff00",
        "Enabled": "0102ff00",
        "Number of Connections": "0103ff00",
        "Status": "0104ff00",
    },
    STATUS_LINK: {
        "Srvr/Link": "0201ff00",
        "AE Services Server": "0202ff00",
        "Remote IP": "0203ff00",
        "Remote Port": "0204ff00",
        "Local Node": "0205ff00",
        "Msgs Sent": "0206ff00",
        "Msgs Rcvd": "0207ff00",
    },
}

#: IDs and values per f/d line (a real CM splits long records over several lines).
PER_LINE = 5


def _abbreviates(typed: str, word: str) -> bool:
    return typed == word or (len(typed) >= MIN_ABBREV and word.startswith(typed))


def parse_command(text: str) -> tuple[str, str] | None:
    """(canonical command, its argument) for what a user typed, or None if unknown."""
    typed = text.lower().split()
    for canonical, (words, takes_number) in LAB_COMMANDS.items():
        argument = ""
        if takes_number and len(typed) == len(words) + 1:
            argument = typed[-1]
            typed_words = typed[:-1]
        else:
            typed_words = typed
        if len(typed_words) == len(words) and all(
            _abbreviates(t, w) for t, w in zip(typed_words, words, strict=True)
        ):
            return canonical, argument
    return None


def echo(command: str) -> str:
    """CM's echo of a command: ``c <command>``."""
    return f"c {command}"


def error(command: str, field_id: str, message: str) -> list[str]:
    """An error answer: the echo, ``e1 <field> 0 <message>``, ``t``."""
    return [echo(command), f"e1 {field_id} 0 {message}", "t"]


def answer(
    command: str, labels: Mapping[str, str], records: Sequence[Mapping[str, str]]
) -> list[str]:
    """The OSSI lines of *records* (label -> value), IDs from *labels* (label -> field ID)."""
    out = [echo(command)]
    last_ids: list[str] = []
    for number, record in enumerate(records):
        if number:
            out.append("n")
        ids = [labels[label] for label in record]
        values = list(record.values())
        if ids != last_ids:
            for i in range(0, len(ids), PER_LINE):
                out.append("f" + "\t".join(ids[i : i + PER_LINE]))
            last_ids = ids
        for i in range(0, len(values), PER_LINE):
            out.append("d" + "\t".join(values[i : i + PER_LINE]))
    out.append("t")
    return out
