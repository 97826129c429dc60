"""Parsers of CM SAT screens (VT220 output or text pasted by an engineer).

They give the same typed records (:mod:`ecc_doctor.probes.sat_records`) as OSSI output does,
so a check does not care how the data was read:

* ``status aesvcs cti-link`` -> :class:`CtiLinkStatus` (rows of :class:`CtiLinkRow`)
* ``display system-parameters customer-options`` / ``display system-parameters features`` /
  ``display cti-link N`` -> :class:`FieldScreen` (``label? value`` and ``label: value`` pairs)
* ``display ip-services`` -> :class:`IpServices` (service rows and AE Services servers; the
  password column is dropped at parse time and never kept)
* ``status aesvcs interface`` -> :class:`AesvcsInterfaceStatus`; ``status aesvcs link`` ->
  :class:`AesvcsLinkStatus` (a Remote IP that wrapped onto the next line is joined back)

:func:`parse_text` recognises which command's output it was given (screen or OSSI). Garbled or
truncated text raises :class:`ProtocolError` with a one-line reason.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence

from ecc_doctor.errors import ProtocolError
from ecc_doctor.probes import sat_ossi
from ecc_doctor.probes.sat_ossi import (
    CTI_LINK,
    CUSTOMER_OPTIONS,
    FEATURES,
    IP_SERVICES,
    STATUS_CTI,
    STATUS_INTERFACE,
    STATUS_LINK,
)
from ecc_doctor.probes.sat_records import (
    AesServer,
    AesvcsInterface,
    AesvcsInterfaceStatus,
    AesvcsLink,
    AesvcsLinkStatus,
    CtiLinkRow,
    CtiLinkStatus,
    FieldScreen,
    IpService,
    IpServices,
    Screen,
    from_ossi,
)
from ecc_doctor.probes.vt220 import render

COMMANDS = (
    STATUS_CTI,
    CUSTOMER_OPTIONS,
    CTI_LINK,
    FEATURES,
    IP_SERVICES,
    STATUS_INTERFACE,
    STATUS_LINK,
)

# --- cleaning -------------------------------------------------------------------------------

_PAGE = re.compile(r"\s+Page\s+\d+\s+of\s+\d+\s*$")
_NOISE = (
    re.compile(r"press CANCEL to quit\s*--\s*press NEXT PAGE to continue", re.I),
    re.compile(r"^\s*Command successfully completed\s*$", re.I),
    re.compile(r"^\s*Command:\s*$"),
)
_VERBS = {"display": "display", "change": "display", "add": "display", "status": "status"}


def clean_lines(text: str) -> list[str]:
    """Screen text as plain lines: VT220 rendered, page marks, prompts and blank lines gone."""
    lines = []
    for raw in render(text):
        line = _PAGE.sub("", raw.rstrip())
        if not line.strip() or any(p.search(line) for p in _NOISE):
            continue
        lines.append(line)
    return lines


def _match_command(words: Sequence[str]) -> str | None:
    """The canonical command that *words* abbreviate (SAT accepts ``disp cti 1``)."""
    if not words:
        return None
    verb = next(
        (v for k, v in _VERBS.items() if len(words[0]) >= 2 and k.startswith(words[0])), None
    )
    if verb is None:
        return None
    for command in COMMANDS:
        cwords = command.split()
        if cwords[0] != verb:
            continue
        rest = list(words[1:])
        if command == CTI_LINK and len(rest) == 2 and rest[1].isdigit():
            rest = rest[:1]
        if len(rest) == len(cwords) - 1 and all(
            len(w) >= 2 and c.startswith(w) for w, c in zip(rest, cwords[1:], strict=True)
        ):
            return command
    return None


def command_of(line: str) -> str | None:
    """The canonical command a screen's first line (or a ``Command:`` line) names."""
    line = _PAGE.sub("", line).strip()
    candidates = [line]
    if line.startswith("Command:"):
        candidates.append(line[len("Command:") :])
    elif line.startswith("c"):
        candidates.append(line[1:])  # an OSSI echo: 'cdisplay time' or 'c display time'
    for candidate in candidates:
        found = _match_command(candidate.lower().split())
        if found:
            return found
    return None


_TITLES = (
    ("AE SERVICES CTI LINK STATUS", STATUS_CTI),
    ("AE SERVICES INTERFACE STATUS", STATUS_INTERFACE),
    ("AE SERVICES LINK STATUS", STATUS_LINK),
    ("OPTIONAL FEATURES", CUSTOMER_OPTIONS),
    ("FEATURE-RELATED SYSTEM PARAMETERS", FEATURES),
    ("IP SERVICES", IP_SERVICES),
    ("AE Services Administration", IP_SERVICES),
    ("CTI LINK", CTI_LINK),
)


def recognise_screen(lines: Sequence[str]) -> str:
    """Which command's screen *lines* show; ProtocolError if none of ours."""
    for line in lines[:30]:
        found = command_of(line)
        if found:
            return found
    for line in lines[:30]:
        for title, command in _TITLES:
            if line.strip() == title:
                return command
    first = lines[0].strip()[:60] if lines else "(empty)"
    # ascii(): binary junk shows as escapes, never as raw bytes on the user's terminal
    raise ProtocolError(f"not a screen ecc-doctor knows (first line: {ascii(first)})")


def recognise(text: str) -> str:
    """Which command's output *text* is (screen or OSSI)."""
    if sat_ossi.looks_like_ossi(text):
        for line in text.splitlines():
            if line.startswith("c"):
                found = command_of(line)
                if found:
                    return found
        raise ProtocolError("OSSI output without a 'c' line naming a command ecc-doctor knows")
    return recognise_screen(clean_lines(text))


# --- screen parsers ---------------------------------------------------------------------------

_STATUS_ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s*$")


def _column_starts(header: str) -> list[int] | None:
    """Where the seven columns start, from the first header line (CTI, Version, Mnt, ...)."""
    starts = [m.start() for m in re.finditer(r"(?<!\S)\S", header)]
    words = header.split()
    if words[:3] == ["CTI", "Version", "Mnt"] and "AE" in words:
        ae = words.index("AE")
        keep = [0, 1, 2, ae, ae + 2, ae + 3, ae + 4]  # "AE Services" is two words
        if keep[-1] < len(starts):
            return [starts[i] for i in keep]
    return None


def _status_row(line: str, starts: list[int] | None) -> CtiLinkRow:
    m = _STATUS_ROW.match(line)
    if m:
        g = m.groups()
        return CtiLinkRow(int(g[0]), g[1], g[2], g[3], g[4], int(g[5]), int(g[6]))
    if starts:  # a blank cell (e.g. no version while the link is down): cut by column
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], len(line)], strict=True)]
        link, sent, rcvd, state = cells[0], cells[5], cells[6], cells[4]
        if link.isdigit() and sent.isdigit() and rcvd.isdigit() and state and " " not in state:
            return CtiLinkRow(int(link), cells[1], cells[2], cells[3], state, int(sent), int(rcvd))
    raise ProtocolError(
        f"status aesvcs cti-link: cannot read row {line.strip()[:60]!r} (expected "
        "link, version, mnt busy, server, state, sent, rcvd)"
    )


def parse_cti_status(lines: Sequence[str]) -> CtiLinkStatus:
    """Rows of ``status aesvcs cti-link`` (the header must be present)."""
    header = next((i for i, ln in enumerate(lines) if re.search(r"\bLink\b.*\bBusy\b", ln)), None)
    if header is None:
        raise ProtocolError(
            "status aesvcs cti-link: column header 'CTI Link / Version / Mnt Busy ...' not found"
        )
    starts = _column_starts(lines[header - 1]) if header else None
    rows = [_status_row(ln, starts) for ln in lines[header + 1 :] if not _status_chrome(ln)]
    return CtiLinkStatus(tuple(rows))


def _status_chrome(line: str) -> bool:
    """A line a later page repeats: command/page line, title, or one of the two headers."""
    words = line.split()
    return (
        bool(command_of(line))
        or line.strip() == "AE SERVICES CTI LINK STATUS"
        or words[:3] == ["CTI", "Version", "Mnt"]
        or bool(re.match(r"\s*Link\s+Busy\b", line))
    )


# a label ends in '?' or ':' right after a non-blank and before a blank or the line end
_MARK = re.compile(r"(?<=\S)[?:](?= |$)")


def label_values(line: str) -> list[tuple[str, str]]:
    """``label? value`` / ``label: value`` pairs of one screen line.

    A value follows its mark after one blank; two or more blanks end it (or mean it is
    empty), and what follows is the next label.
    """
    marks = list(_MARK.finditer(line))
    pairs: list[tuple[str, str]] = []
    label = line[: marks[0].start()].strip() if marks else ""
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(line)
        segment = line[mark.end() : end]
        if i + 1 == len(marks):
            value, following = segment.strip(), ""
        elif segment.startswith("  ") or not segment.strip():
            value, following = "", segment.strip()
        else:
            value, _, following = segment[1:].partition("  ")
        pairs.append((label, value.strip()))
        label = following.strip()
    return [(k, v) for k, v in pairs if k]


def parse_fields(command: str, lines: Sequence[str]) -> FieldScreen:
    """Every label/value pair of a form screen (pages merged in order)."""
    fields: dict[str, str] = {}
    for line in lines:
        if command_of(line):
            continue
        for label, value in label_values(line):
            fields.setdefault(label, value)
    if not fields:
        raise ProtocolError(f"{command}: no 'label: value' fields found (truncated screen?)")
    return FieldScreen(command, fields)


_AES_ROW = re.compile(r"^\s*(\d+):\s*(?:(\S+)\s+(\S+)\s+([yn])\b\s*(.*?))?\s*$")


def _service_row(line: str) -> IpService:
    tokens = line.split()
    enabled = ""
    if len(tokens) > 1 and tokens[1] in ("y", "n"):
        enabled = tokens.pop(1)
    if not 3 <= len(tokens) <= 5 or not tokens[2].isdigit():
        raise ProtocolError(
            f"display ip-services: cannot read service row {line.strip()[:60]!r} "
            "(expected type, enabled, local node, local port, remote node, remote port)"
        )
    rest = tokens[3:] + ["", ""]
    return IpService(tokens[0], enabled, tokens[1], tokens[2], rest[0], rest[1])


_AES_HEADER = re.compile(r"Server ID\s+AE Services")
_AES_PASSWORD = re.compile(r"^(\s*\d+:\s*\S+\s+)(\S+)(\s+[yn]\b.*)$")


def mask_password_column(lines: Sequence[str]) -> list[str]:
    """*lines* with the Password cell of AE Services Administration rows replaced by ``*``
    (for transcripts; the parsers never keep it)."""
    out, aes = [], False
    for line in lines:
        aes = aes or bool(_AES_HEADER.search(line))
        out.append(_AES_PASSWORD.sub(r"\1*\3", line) if aes else line)
    return out


def parse_ip_services(lines: Sequence[str]) -> IpServices:
    """Service rows (page 1) and AE Services Administration rows (its last page)."""
    services: list[IpService] = []
    servers: list[AesServer] = []
    section = ""
    for line in lines:
        text = line.strip()
        if command_of(line) or text in ("IP SERVICES", "AE Services Administration"):
            continue
        if re.match(r"Service\s+Enabled\s+Local", text):
            section = "services"
        elif re.match(r"Server ID\s+AE Services", text):
            section = "aes"
        elif re.fullmatch(r"(Type\s+Node\s+Port.*|Server)", text):
            continue
        elif section == "services":
            services.append(_service_row(line))
        elif section == "aes":
            m = _AES_ROW.match(line)
            if not m:
                raise ProtocolError(
                    f"display ip-services: cannot read AE Services row {text.split()[0][:20]!r}"
                )
            if m.group(2):  # an unadministered row shows only its number
                servers.append(AesServer(m.group(1), m.group(2), m.group(4), m.group(5)))
    if not section:
        raise ProtocolError("display ip-services: no service or AE Services header found")
    return IpServices(tuple(services), tuple(servers))


# ``status aesvcs interface`` (PROTOCOLS.md 4.3 [CODE]): title AE SERVICES INTERFACE STATUS,
# columns Local Node / Enabled? / Number of Connections / Status, e.g. ``procr yes 1 listening``
_INTERFACE_HEADER = re.compile(r"\bLocal\s+Node\s+Enabled\b")
_INTERFACE_ROW = re.compile(r"^\s*(\S+)\s+(yes|no|y|n)\s+(\d+)(?:\s+(\S.*?))?\s*$", re.I)


def _interface_chrome(line: str) -> bool:
    """A line the screen (or a later page) shows around the rows: command, title, headers."""
    text = line.strip()
    return (
        bool(command_of(line))
        or text == "AE SERVICES INTERFACE STATUS"
        or bool(_INTERFACE_HEADER.search(line))
        or bool(re.fullmatch(r"(Number of\s+)?Connections", text))
    )


def parse_interface_status(lines: Sequence[str]) -> AesvcsInterfaceStatus:
    """Rows of ``status aesvcs interface`` (the column header must be present)."""
    header = next((i for i, ln in enumerate(lines) if _INTERFACE_HEADER.search(ln)), None)
    if header is None:
        raise ProtocolError(
            f"{STATUS_INTERFACE}: column header 'Local Node / Enabled? / Number of "
            "Connections / Status' not found"
        )
    rows = []
    for line in lines[header + 1 :]:
        if _interface_chrome(line):
            continue
        m = _INTERFACE_ROW.match(line)
        if not m:
            raise ProtocolError(
                f"{STATUS_INTERFACE}: cannot read row {ascii(line.strip()[:60])} (expected "
                "local node, enabled yes/no, number of connections, status)"
            )
        node, enabled, count, status = m.groups()
        rows.append(AesvcsInterface(node, enabled, int(count), status or ""))
    return AesvcsInterfaceStatus(tuple(rows))


# ``status aesvcs link`` (PROTOCOLS.md 4.3 [CODE]): title AE SERVICES LINK STATUS, columns
# Srvr/Link / AE Services Server / Remote IP / Remote Port / Local Node / Msgs Sent / Msgs Rcvd,
# e.g. ``01/01 aes7038 172.16.70.38 53576 procr 629 614``. The Remote IP can wrap onto the next
# line: the row then lacks it (or holds its start) and the next line holds (the rest of) it.
_LINK_ROW = re.compile(r"^\s*(\d+/\d+)\s+(\S+)\s+(?:(\S+)\s+)?(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s*$")
_IP_PART = re.compile(r"^\s*[0-9A-Fa-f.:]+\s*$")


def _link_chrome(line: str) -> bool:
    text = line.strip()
    return (
        bool(command_of(line))
        or text == "AE SERVICES LINK STATUS"
        or bool(re.match(r"(Srvr|Svc)\s*/", text))
        or bool(re.match(r"Link\s+Server\b", text))
    )


def _link_row(match: re.Match[str], ip: str) -> AesvcsLink:
    link, server, _, port, node, sent, rcvd = match.groups()
    try:
        address = str(ipaddress.ip_address(ip))
    except ValueError:
        raise ProtocolError(
            f"{STATUS_LINK}: link {link} to {ascii(server)[1:-1]}: cannot read the Remote IP "
            f"{ascii(ip[:45]) if ip else '(none: screen cut off?)'}"
        ) from None
    return AesvcsLink(link, server, address, port, node, int(sent), int(rcvd))


def parse_link_status(lines: Sequence[str]) -> AesvcsLinkStatus:
    """Rows of ``status aesvcs link`` (the column header must be present); a Remote IP
    that wrapped onto the next line is joined to its row."""
    header = next(
        (i for i, ln in enumerate(lines) if "Remote" in ln and re.search(r"Srvr|Svc|AE Serv", ln)),
        None,
    )
    if header is None:
        raise ProtocolError(
            f"{STATUS_LINK}: column header 'Srvr/Link / AE Services Server / Remote IP ...' "
            "not found"
        )
    rows: list[AesvcsLink] = []
    pending: tuple[re.Match[str], str] | None = None  # a row whose IP may continue
    for line in lines[header + 1 :]:
        if _link_chrome(line):
            continue
        m = _LINK_ROW.match(line)
        if m:
            if pending:
                rows.append(_link_row(*pending))
            pending = (m, m.group(3) or "")
        elif pending and _IP_PART.match(line):
            rows.append(_link_row(pending[0], pending[1] + line.strip()))
            pending = None
        else:
            raise ProtocolError(
                f"{STATUS_LINK}: cannot read row {ascii(line.strip()[:60])} (expected srvr/link, "
                "server, remote IP, remote port, local node, msgs sent, msgs rcvd)"
            )
    if pending:
        rows.append(_link_row(*pending))
    return AesvcsLinkStatus(tuple(rows))


def parse_screen(text: str, command: str | None = None) -> Screen:
    """Parse screen text; *command* skips recognition. ProtocolError if unreadable."""
    lines = clean_lines(text)
    if not lines:
        raise ProtocolError("no screen text (empty input)")
    command = command or recognise_screen(lines)
    if command == STATUS_CTI:
        return parse_cti_status(lines)
    if command == IP_SERVICES:
        return parse_ip_services(lines)
    if command == STATUS_INTERFACE:
        return parse_interface_status(lines)
    if command == STATUS_LINK:
        return parse_link_status(lines)
    return parse_fields(command, lines)


def parse_text(text: str, fields: Mapping[str, Mapping[str, str]] | None = None) -> Screen:
    """Recognise and parse screen text or OSSI output (``ecc-doctor sat parse``)."""
    if sat_ossi.looks_like_ossi(text):
        command = recognise(text)
        response = sat_ossi.parse_ossi(text.splitlines())
        if response.error:
            raise ProtocolError(f"CM error for '{command}': {response.error}")
        return from_ossi(command, response, fields)
    return parse_screen(text)
