"""Typed records of CM SAT output, shared by the screen parser and the OSSI mapping.

``status aesvcs cti-link`` -> :class:`CtiLinkStatus`; ``status aesvcs interface`` ->
:class:`AesvcsInterfaceStatus`; ``status aesvcs link`` -> :class:`AesvcsLinkStatus`; form screens (customer-options,
features, ``display cti-link N``) -> :class:`FieldScreen`; ``display ip-services`` ->
:class:`IpServices` (the password column is never kept). :func:`from_ossi` maps OSSI records
(field ID -> value) onto them through the field-ID table of :mod:`ecc_doctor.probes.sat_ossi`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ecc_doctor.errors import ProtocolError
from ecc_doctor.probes import sat_ossi
from ecc_doctor.probes.sat_ossi import (
    IP_SERVICES,
    STATUS_CTI,
    STATUS_INTERFACE,
    STATUS_LINK,
    OssiResponse,
)

STATUS_COLUMNS = (
    "CTI Link",
    "Version",
    "Mnt Busy",
    "AE Services Server",
    "Service State",
    "Msgs Sent",
    "Msgs Rcvd",
)
SERVICE_COLUMNS = (
    "Service Type",
    "Enabled",
    "Local Node",
    "Local Port",
    "Remote Node",
    "Remote Port",
)
AES_COLUMNS = ("Server ID", "AE Services Server", "Enabled", "Status")
INTERFACE_COLUMNS = ("Local Node", "Enabled", "Number of Connections", "Status")
LINK_COLUMNS = (
    "Srvr/Link",
    "AE Services Server",
    "Remote IP",
    "Remote Port",
    "Local Node",
    "Msgs Sent",
    "Msgs Rcvd",
)
#: the screen titles of the form screens (the app note's screens; PROTOCOLS.md 4.3)
FORM_TITLES = {
    sat_ossi.CUSTOMER_OPTIONS: "OPTIONAL FEATURES",
    sat_ossi.FEATURES: "FEATURE-RELATED SYSTEM PARAMETERS",
    sat_ossi.CTI_LINK: "CTI LINK",
}


@dataclass(frozen=True)
class Table:
    """A table for display: title, column names, rows of strings."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class CtiLinkRow:
    """One row of ``status aesvcs cti-link``."""

    link: int
    version: str
    mnt_busy: str
    aes_server: str
    state: str
    msgs_sent: int
    msgs_rcvd: int

    def cells(self) -> tuple[str, ...]:
        return (
            str(self.link),
            self.version,
            self.mnt_busy,
            self.aes_server,
            self.state,
            str(self.msgs_sent),
            str(self.msgs_rcvd),
        )


@dataclass(frozen=True)
class CtiLinkStatus:
    """``status aesvcs cti-link``: one row per administered AE Services CTI link."""

    rows: tuple[CtiLinkRow, ...]
    command: str = STATUS_CTI

    def link(self, number: int) -> CtiLinkRow | None:
        return next((r for r in self.rows if r.link == number), None)

    def tables(self) -> list[Table]:
        return [
            Table(
                "AE SERVICES CTI LINK STATUS", STATUS_COLUMNS, tuple(r.cells() for r in self.rows)
            )
        ]


def _norm(label: str) -> str:
    return " ".join(label.lower().split())


@dataclass(frozen=True)
class FieldScreen:
    """A form screen: labels and their values (customer-options, features, cti-link)."""

    command: str
    fields: Mapping[str, str] = field(default_factory=dict)
    #: read from OSSI: the field IDs used (label -> ID); None for a screen
    ossi_ids: Mapping[str, str] | None = field(default=None, compare=False)

    def missing(self, labels: Sequence[str]) -> ProtocolError:
        """The error for *labels* this screen lacks: in OSSI, which field IDs and where to
        set them (as cm.cti-link says); on a screen, that it did not show them."""
        if self.ossi_ids is not None:
            ids = ", ".join(f"{self.ossi_ids.get(label, '?')} ({label})" for label in labels)
            plural = "s" if len(labels) > 1 else ""
            return ProtocolError(
                f"{self.command}: OSSI output lacks field{plural} {ids}; "
                + set_ids_hint(self.command)
            )
        shown = ", ".join(f"'{label}'" for label in labels)
        return ProtocolError(f"the '{self.command}' screen did not show {shown}")

    def get(self, label: str) -> str | None:
        """The value of *label* (case and spacing ignored), or None if the screen lacks it."""
        wanted = _norm(label)
        return next((v for k, v in self.fields.items() if _norm(k) == wanted), None)

    def tables(self) -> list[Table]:
        title = FORM_TITLES.get(self.command, self.command)
        return [Table(title, ("Field", "Value"), tuple(self.fields.items()))]


@dataclass(frozen=True)
class IpService:
    """One row of the IP SERVICES page."""

    service_type: str
    enabled: str
    local_node: str
    local_port: str
    remote_node: str = ""
    remote_port: str = ""

    def cells(self) -> tuple[str, ...]:
        return (
            self.service_type,
            self.enabled,
            self.local_node,
            self.local_port,
            self.remote_node,
            self.remote_port,
        )


@dataclass(frozen=True)
class AesServer:
    """One row of the AE Services Administration page (the password is never kept)."""

    server_id: str
    name: str
    enabled: str
    status: str

    def cells(self) -> tuple[str, ...]:
        return (self.server_id, self.name, self.enabled, self.status)


@dataclass(frozen=True)
class IpServices:
    """``display ip-services``: service rows and AE Services servers."""

    services: tuple[IpService, ...]
    aes_servers: tuple[AesServer, ...]
    command: str = IP_SERVICES

    def tables(self) -> list[Table]:
        return [
            Table("IP SERVICES", SERVICE_COLUMNS, tuple(s.cells() for s in self.services)),
            Table(
                "AE Services Administration",
                AES_COLUMNS,
                tuple(a.cells() for a in self.aes_servers),
            ),
        ]


@dataclass(frozen=True)
class AesvcsInterface:
    """One row of ``status aesvcs interface`` (AE SERVICES INTERFACE STATUS)."""

    local_node: str
    enabled: str
    connections: int
    status: str

    @property
    def is_enabled(self) -> bool:
        return self.enabled.lower() in ("yes", "y")

    def cells(self) -> tuple[str, ...]:
        return (self.local_node, self.enabled, str(self.connections), self.status)


@dataclass(frozen=True)
class AesvcsInterfaceStatus:
    """``status aesvcs interface``: CM's AESVCS interfaces (the app note's is procr)."""

    rows: tuple[AesvcsInterface, ...]
    command: str = STATUS_INTERFACE

    def node(self, name: str) -> AesvcsInterface | None:
        return next((r for r in self.rows if r.local_node.lower() == name.lower()), None)

    def tables(self) -> list[Table]:
        return [
            Table(
                "AE SERVICES INTERFACE STATUS",
                INTERFACE_COLUMNS,
                tuple(r.cells() for r in self.rows),
            )
        ]


@dataclass(frozen=True)
class AesvcsLink:
    """One row of ``status aesvcs link``: a link of an AE Services server to CM."""

    srvr_link: str
    aes_server: str
    remote_ip: str
    remote_port: str
    local_node: str
    msgs_sent: int
    msgs_rcvd: int

    def cells(self) -> tuple[str, ...]:
        return (
            self.srvr_link,
            self.aes_server,
            self.remote_ip,
            self.remote_port,
            self.local_node,
            str(self.msgs_sent),
            str(self.msgs_rcvd),
        )


@dataclass(frozen=True)
class AesvcsLinkStatus:
    """``status aesvcs link``: one row per AE Services link that is up."""

    rows: tuple[AesvcsLink, ...]
    command: str = STATUS_LINK

    def tables(self) -> list[Table]:
        return [Table("AE SERVICES LINK STATUS", LINK_COLUMNS, tuple(r.cells() for r in self.rows))]


Screen = CtiLinkStatus | FieldScreen | IpServices | AesvcsInterfaceStatus | AesvcsLinkStatus


# --- OSSI records -> the same types ----------------------------------------------------------


def _labelled(record: Mapping[str, str], ids: Mapping[str, str]) -> dict[str, str]:
    by_id = {fid.lower(): label for label, fid in ids.items()}
    return {by_id[k]: v for k, v in record.items() if k in by_id}


class UnknownFieldIds(ProtocolError):
    """OSSI output whose field IDs are not (all) in the field-ID table for its command."""


def raw_tables(
    command: str, response: OssiResponse, fields: Mapping[str, Mapping[str, str]] | None = None
) -> list[Table]:
    """OSSI records as they came (field ID, the label ecc-doctor knows for it, value), for
    learning a CM's field IDs. Password values are hidden; in ``display ip-services``, whose
    password ID is what is unknown, so is any value that is not a flag, number, address or
    state."""
    ids = (fields or sat_ossi.field_map()).get(command, {})
    labels = {fid.lower(): label for label, fid in ids.items()}
    tables = []
    for n, record in enumerate(response.records, 1):
        rows = []
        for fid, value in record.items():
            label = labels.get(fid.lower(), "")
            hide = label in sat_ossi.SECRET_LABELS or (
                command == IP_SERVICES and not sat_ossi.HARMLESS_VALUE.fullmatch(value.strip())
            )
            shown = f"(hidden, {len(value)} characters)" if hide else value
            rows.append((fid, label, shown))
        tables.append(Table(f"OSSI record {n}", ("Field ID", "Label", "Value"), tuple(rows)))
    return tables


def set_ids_hint(command: str) -> str:
    """How to fix an OSSI field ID this CM does not send: teach ecc-doctor the IDs, or use
    the VT220 screens, whose layouts are documented and need none (PROTOCOLS.md 4.2)."""
    return (
        f'set [cm.ossi_fields."{command}"] to this CM\'s field IDs, or set [cm] termtype = '
        '"vt220", which needs none'
    )


def _need(command: str, rec: Mapping[str, str], label: str, ids: Mapping[str, str]) -> str:
    if label not in rec:
        raise UnknownFieldIds(
            f"{command}: OSSI record lacks field {ids.get(label, '?')} ({label}); "
            + set_ids_hint(command)
        )
    return rec[label]


def _int(command: str, label: str, value: str) -> int:
    if not value.strip().isdigit():
        raise ProtocolError(f"{command}: {label} is not a number: {value[:20]!r}")
    return int(value)


def _status_row(r: Mapping[str, str], ids: Mapping[str, str]) -> CtiLinkRow:
    cmd = STATUS_CTI
    return CtiLinkRow(
        link=_int(cmd, "CTI Link", _need(cmd, r, "CTI Link", ids)),
        version=r.get("Version", ""),
        mnt_busy=r.get("Mnt Busy", ""),
        aes_server=r.get("AE Services Server", ""),
        state=_need(cmd, r, "Service State", ids),
        msgs_sent=_int(cmd, "Msgs Sent", r.get("Msgs Sent") or "0"),
        msgs_rcvd=_int(cmd, "Msgs Rcvd", r.get("Msgs Rcvd") or "0"),
    )


def _interface_row(r: Mapping[str, str], ids: Mapping[str, str]) -> AesvcsInterface:
    cmd = STATUS_INTERFACE
    return AesvcsInterface(
        local_node=_need(cmd, r, "Local Node", ids),
        enabled=_need(cmd, r, "Enabled", ids),
        connections=_int(cmd, "Number of Connections", r.get("Number of Connections") or "0"),
        status=_need(cmd, r, "Status", ids),
    )


def _link_row(r: Mapping[str, str], ids: Mapping[str, str]) -> AesvcsLink:
    cmd = STATUS_LINK
    return AesvcsLink(
        srvr_link=_need(cmd, r, "Srvr/Link", ids),
        aes_server=_need(cmd, r, "AE Services Server", ids),
        remote_ip=r.get("Remote IP", ""),
        remote_port=r.get("Remote Port", ""),
        local_node=_need(cmd, r, "Local Node", ids),
        msgs_sent=_int(cmd, "Msgs Sent", r.get("Msgs Sent") or "0"),
        msgs_rcvd=_int(cmd, "Msgs Rcvd", r.get("Msgs Rcvd") or "0"),
    )


def _ip_services(recs: list[dict[str, str]]) -> IpServices:
    # each record is a service row (Service Type) or an AE Services server row
    services = [
        IpService(*(r.get(c, "") for c in SERVICE_COLUMNS)) for r in recs if "Service Type" in r
    ]
    servers = [
        AesServer(
            server_id=r.get("Server ID", ""),
            name=r["AE Services Server"],
            enabled=r.get("Server Enabled", ""),
            status=r.get("Status", ""),
        )
        for r in recs
        if "Service Type" not in r and r.get("AE Services Server")
    ]
    return IpServices(tuple(services), tuple(servers))


def from_ossi(
    command: str, response: OssiResponse, fields: Mapping[str, Mapping[str, str]] | None = None
) -> Screen:
    """Map OSSI records (field ID -> value) onto the typed records, via the field-ID table."""
    ids = (fields or sat_ossi.field_map()).get(command, {})
    recs = [_labelled(r, ids) for r in response.records]
    if command == STATUS_CTI:
        return CtiLinkStatus(tuple(_status_row(r, ids) for r in recs))
    if command == STATUS_INTERFACE:
        return AesvcsInterfaceStatus(tuple(_interface_row(r, ids) for r in recs))
    if command == STATUS_LINK:
        return AesvcsLinkStatus(tuple(_link_row(r, ids) for r in recs))
    if command == IP_SERVICES:
        services = _ip_services(recs)
        if recs and not services.services and not services.aes_servers:
            raise UnknownFieldIds(
                f"{command}: no OSSI record has the field {ids.get('Service Type', '?')} "
                f"(Service Type) or {ids.get('AE Services Server', '?')} (AE Services Server); "
                + set_ids_hint(command)
            )
        # a record none of whose (non-secret) IDs we know; a blank server row has known IDs
        unplaced = [r for r in recs if not set(r) - sat_ossi.SECRET_LABELS]
        if not services.aes_servers and unplaced:
            # records that are neither a service nor an AE Services server, and no server
            # found: that may be the AE Services Administration page under other IDs; "no AE
            # Services server" would be a verdict on our table, not on the CM (QA 4a F2)
            raise UnknownFieldIds(
                f"{command}: no record has the field {ids.get('AE Services Server', '?')} (AE "
                "Services Server), and some records have no field ID ecc-doctor knows; "
                + set_ids_hint(command)
            )
        return services
    merged: dict[str, str] = {}
    for r in recs:
        merged.update({k: v for k, v in r.items() if k not in sat_ossi.SECRET_LABELS})
    if not merged:
        raise UnknownFieldIds(
            f"{command}: no known OSSI field IDs in the output; " + set_ids_hint(command)
        )
    return FieldScreen(command, merged, ossi_ids=dict(ids))
