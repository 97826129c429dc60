"""CM OSSI line protocol (c/f/d/n/e/t) and ecc-doctor's own OSSI field-ID table.

OSSI output is line based (PROTOCOLS.md 4.2): ``c`` echoes the command, ``f`` lines carry
tab-separated 8-hex-digit field IDs, ``d`` lines the values (positional, several lines per
record allowed), ``n`` starts the next record, ``e`` is an error and ``t`` ends the output.

**The field IDs below are ours, not Avaya's.** Avaya does not publish the OSSI field IDs of
these screens; the way to learn them is to run the command on a real CM in ``ossi`` and in
``vt220`` and compare (PROTOCOLS.md 4.2). :data:`OSSI_FIELDS` is the one documented table the
probe and the parsers use (the lab emulator keeps a copy, ``lab/cm_ossi.py``, tested to agree); a site overrides any entry with
``[cm.ossi_fields."<command>"] "<label>" = "<8 hex digits>"`` once it knows its CM's IDs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ecc_doctor.errors import ProtocolError

STATUS_CTI = "status aesvcs cti-link"
CUSTOMER_OPTIONS = "display system-parameters customer-options"
CTI_LINK = "display cti-link"
FEATURES = "display system-parameters features"
IP_SERVICES = "display ip-services"
STATUS_INTERFACE = "status aesvcs interface"
STATUS_LINK = "status aesvcs link"

#: command -> label -> OSSI field ID. ASSUMED IDs (see the module docstring): override them
#: per site in ``[cm.ossi_fields]``. Labels are the VT220 screen's labels/column names, so a
#: record read over OSSI and one read from a screen look the same.
OSSI_FIELDS: dict[str, dict[str, str]] = {
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

#: Labels whose values are secrets: never kept, never shown, masked in transcripts.
SECRET_LABELS = frozenset({"Password"})

_FIELD_ID = re.compile(r"[0-9a-fA-F]{8}")


def field_map(
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """:data:`OSSI_FIELDS` with a site's overrides applied (per command, per label)."""
    merged = {cmd: dict(labels) for cmd, labels in OSSI_FIELDS.items()}
    for cmd, labels in (overrides or {}).items():
        merged.setdefault(cmd, {}).update({k: v.lower() for k, v in labels.items()})
    return merged


def check_overrides(overrides: Mapping[str, Mapping[str, str]]) -> str | None:
    """A config problem in ``[cm.ossi_fields]`` ("key: expected ..., got ...") or None."""
    for cmd, labels in overrides.items():
        if cmd not in OSSI_FIELDS:
            known = ", ".join(OSSI_FIELDS)
            return f"ossi_fields: expected one of {known}, got {cmd!r}"
        for label, fid in labels.items():
            if label not in OSSI_FIELDS[cmd]:
                known = ", ".join(OSSI_FIELDS[cmd])
                return f"ossi_fields.{cmd}: expected a label among {known}, got {label!r}"
            if not _FIELD_ID.fullmatch(fid):
                return f"ossi_fields.{cmd}.{label}: expected 8 hex digits, got {fid!r}"
    return None


#: values of ``display ip-services`` shown whatever their field ID: flags, numbers of up to 5
#: digits (ports, IDs; a longer one may be an all-digit password), addresses, states. Its AE Services page holds the password of AES's switch connection, and when a CM's
#: field IDs differ from our table the password's ID is not known: any other value is masked.
HARMLESS_VALUE = re.compile(r"(?i)(|y|n|\d{1,5}|\d+(\.\d+){3}|in use|idle|down|procr|aesvcs)")


def shown_ids(fields: Mapping[str, Mapping[str, str]], command: str) -> frozenset[str] | None:
    """For a command whose output holds a secret (ip-services), the field IDs (lower case)
    whose values may be shown: the known labels that are not secret. None: every value may
    be shown but the secret IDs (:func:`secret_ids`)."""
    if command != IP_SERVICES:
        return None
    return frozenset(
        fid.lower() for lab, fid in fields.get(command, {}).items() if lab not in SECRET_LABELS
    )


def secret_ids(fields: Mapping[str, Mapping[str, str]]) -> frozenset[str]:
    """Field IDs (lower case) whose values must be masked."""
    return frozenset(
        fid.lower()
        for labels in fields.values()
        for lab, fid in labels.items()
        if lab in SECRET_LABELS
    )


@dataclass(frozen=True)
class OssiResponse:
    """One OSSI command's output: records of field ID -> value, or the CM's error."""

    command: str = ""
    records: tuple[dict[str, str], ...] = ()
    error: str | None = None
    error_field: str = ""
    masked_lines: tuple[str, ...] = field(default=(), compare=False)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class _Builder:
    """Accumulates f/d lines into records, handling the quirks pbxd/JavaOSSI document."""

    def __init__(self, mask: frozenset[str], shown: frozenset[str] | None = None) -> None:
        self.mask = mask
        self.shown = shown
        self.command = ""
        self.fields: list[str] = []
        self.values: list[str] = []
        self.records: list[dict[str, str]] = []
        self.error: str | None = None
        self.error_field = ""
        self.after_n = False
        self.masked: list[str] = []

    def close_record(self) -> None:
        if not self.values:
            return
        if len(self.values) == len(self.fields) - 1:
            self.values.append("")  # CM drops a trailing empty field (JavaOSSI quirk)
        if len(self.values) != len(self.fields):
            raise ProtocolError(
                f"OSSI record has {_count(len(self.values), 'value')} for "
                f"{_count(len(self.fields), 'field ID')} (its f and d lines do not match)"
            )
        # duplicate IDs happen on some commands (pbxd): the first occurrence wins
        record: dict[str, str] = {}
        for fid, value in zip(self.fields, self.values, strict=True):
            record.setdefault(fid, value)
        self.records.append(record)
        self.values = []

    def f_line(self, body: str) -> None:
        ids = [i.strip().lower() for i in body.split("\t") if i.strip()]
        bad = [i for i in ids if not _FIELD_ID.fullmatch(i)]
        if bad or not ids:
            raise ProtocolError(f"OSSI field line is not 8-hex-digit IDs: {body[:60]!r}")
        if self.after_n:
            self.fields = []
            self.after_n = False
        self.fields += ids

    def d_line(self, body: str) -> str:
        values = body.split("\t")
        start = len(self.values)
        self.values += [v.strip() for v in values]
        self.after_n = False
        shown = ["*" if self._hidden(i + start, v) else v for i, v in enumerate(values)]
        return "d" + "\t".join(shown)

    def _hidden(self, index: int, value: str) -> bool:
        fid = self.fields[index] if index < len(self.fields) else ""
        if fid in self.mask:
            return True
        return (
            self.shown is not None
            and fid not in self.shown
            and not HARMLESS_VALUE.fullmatch(value.strip())
        )

    def e_line(self, body: str) -> None:
        parts = body.split(" ", 3)
        if len(parts) == 4:
            self.error_field, self.error = parts[1], parts[3].strip()
        else:
            self.error = body.strip() or "unspecified error"


def parse_ossi(
    lines: Iterable[str],
    *,
    mask: frozenset[str] = frozenset(),
    show_only: frozenset[str] | None = None,
) -> OssiResponse:
    """Parse OSSI output lines up to and including the closing ``t``.

    ``masked_lines`` (for transcripts) show ``*`` for the values of the *mask* IDs, and with
    *show_only* (:func:`shown_ids`), also for any value of another ID that is not a
    HARMLESS_VALUE. Raises ProtocolError for a line that is not OSSI, mismatched f/d counts,
    or output that ends without ``t`` (truncated).
    """
    b = _Builder(mask, show_only)
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        kind, body = line[0], line[1:]
        shown = line
        if kind == "c":
            b.command = body.strip()
        elif kind == "f":
            b.f_line(body)
        elif kind == "d":
            shown = b.d_line(body)
        elif kind == "n" and not body.strip():
            b.close_record()
            b.after_n = True
        elif kind == "e":
            b.e_line(body)
        elif kind == "t" and not body.strip():
            b.masked.append(shown)
            b.close_record()
            return OssiResponse(
                b.command, tuple(b.records), b.error, b.error_field, tuple(b.masked)
            )
        else:
            raise ProtocolError(f"OSSI line {number} is not a c/f/d/n/e/t line: {line[:60]!r}")
        b.masked.append(shown)
    raise ProtocolError("OSSI output ends without the closing 't' line (truncated?)")


def looks_like_ossi(text: str) -> bool:
    """True when *text* has an OSSI field-ID line, or is a whole c ... t answer without one
    (CM's error output: ``c<command>``, ``e...``, ``t``)."""
    lines = [ln.rstrip("\r") for ln in text.splitlines() if ln.strip()]
    if any(
        ln.startswith("f") and all(_FIELD_ID.fullmatch(i) for i in ln[1:].strip().split("\t"))
        for ln in lines
        if len(ln.strip()) > 1
    ):
        return True
    return (
        len(lines) >= 2
        and lines[0].startswith("c")
        and lines[-1].strip() == "t"
        and all(ln[0] in "cfdnet" for ln in lines)
    )
