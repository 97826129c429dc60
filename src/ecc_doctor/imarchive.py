"""Presence Services IM archive files: safe, streaming, format-agnostic reading.

The archive format is not public (PROTOCOLS.md section 5), so nothing here is hard-wired:
a :class:`Layout` names the record element and where sender, recipients, body and send time
live inside a record (ElementTree paths, ``path/@attr`` or ``@attr``; the first path that
yields a value wins). Namespaces are ignored: tags and attribute names are matched by local
name. The defaults fit an XMPP-like layout::

    <archive><message from="alice@example.com" to="bob@example.com" timestamp="...">
      <body>hello</body></message></archive>

Files are plain XML, or XML inside zip or gzip when so named (unnamed containers are
recognised by their magic bytes). Reading is streaming and bounded: decompressed bytes stop
at a cap (zip/gzip bombs), entity declarations and external references are refused by
defusedxml (billion laughs, XXE) before anything is expanded, only one record is held in
memory at a time (and only up to a per-record cap: a larger record is counted, not read), and
a deadline, or the end of the check (:mod:`ecc_doctor.cancel`), stops a slow parse.
"""

from __future__ import annotations

import gzip
import time
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from defusedxml import DefusedXmlException, EntitiesForbidden
from defusedxml.ElementTree import DefusedXMLParser

from ecc_doctor import cancel

CHUNK = 64 * 1024
MAX_ZIP_MEMBERS = 100
MAX_RECORD_ELEMENTS = 1000  # elements in one record (a record past a cap is counted, not read)
MAX_RECORD_TEXT = 64 * 1024  # characters of text and attribute values in one record
MAX_DEPTH = 256  # element nesting in a document
STOP_EVERY = 256  # records between checks that the check has not ended (cancel)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ArchiveError(Exception):
    """A file that cannot be read as an IM archive. ``kind`` says why: ``empty``,
    ``malformed``, ``entities`` (entity declarations: bomb guard), ``external`` (external
    entity), ``too-big`` (decompressed cap), ``container`` (bad zip/gzip), ``timeout``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Layout:
    """Where the fields of one IM are, relative to a record element."""

    record_element: str = "message"
    sender_paths: tuple[str, ...] = ("@from", "from", "sender", "@sender", "source")
    recipient_paths: tuple[str, ...] = (
        "@to", "to", "recipient", "@recipient", "destination",
        "recipients/recipient", "participants/participant",
    )  # fmt: skip
    body_paths: tuple[str, ...] = ("body", "@body", "text", "content")
    timestamp_paths: tuple[str, ...] = (
        "@timestamp", "timestamp", "@time", "time", "delay/@stamp", "@sent", "sent", "date",
    )  # fmt: skip


@dataclass(frozen=True)
class ImRecord:
    """One IM as found in an archive file."""

    sender: str
    recipients: tuple[str, ...]
    body: str
    timestamp: datetime | None
    raw_timestamp: str = ""


@dataclass
class FileSummary:
    """What one archive file held: root element(s), record count, a few sample records."""

    roots: list[str] = field(default_factory=list)
    records: int = 0
    xml_bytes: int = 0
    members: int = 0
    oversize: int = 0  # records past the per-record cap: counted, fields not read
    samples: list[ImRecord] = field(default_factory=list)

    @property
    def root(self) -> str:
        return ", ".join(dict.fromkeys(self.roots)) or "-"


def path_problem(path: str) -> str | None:
    """Why *path* is not a usable field path, or None."""
    element_path, _, attr = path.partition("@")
    if "@" in path and (not attr or "@" in attr or "/" in attr):
        return "an attribute comes last, as 'path/@attr' or '@attr'"
    element_path = element_path.rstrip("/")
    if element_path:
        try:
            ET.Element("r").findall(element_path)
        except (SyntaxError, KeyError, TypeError) as exc:
            reason = " ".join(str(exc).split()) if isinstance(exc, SyntaxError) else ""
            return reason or "invalid ElementTree path"
    elif not attr:
        return "empty path"
    return None


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def values(record: ET.Element, path: str) -> list[str]:
    """The non-empty values *path* selects in *record*."""
    if path.startswith("@"):
        value = record.get(path[1:])
        return [value.strip()] if value and value.strip() else []
    if "/@" in path:
        elem_path, attr = path.rsplit("/@", 1)
        found = [e.get(attr) for e in record.findall(elem_path)]
        return [v.strip() for v in found if v and v.strip()]
    texts = ("".join(e.itertext()).strip() for e in record.findall(path))
    return [t for t in texts if t]


def _first(record: ET.Element, paths: tuple[str, ...]) -> list[str]:
    for path in paths:
        found = values(record, path)
        if found:
            return found
    return []


def parse_time(text: str) -> datetime | None:
    """ISO 8601 or epoch seconds/milliseconds; naive times are taken as UTC."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    if number > 1e11:  # milliseconds
        number /= 1000
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def extract(record: ET.Element, layout: Layout) -> ImRecord:
    """The fields of one record element, by the layout's paths."""
    sender = _first(record, layout.sender_paths)
    stamp = _first(record, layout.timestamp_paths)
    raw = stamp[0] if stamp else ""
    return ImRecord(
        sender=sender[0] if sender else "",
        recipients=tuple(_first(record, layout.recipient_paths)),
        body="\n".join(_first(record, layout.body_paths)),
        timestamp=parse_time(raw) if raw else None,
        raw_timestamp=raw,
    )


class _Target:
    """A parser target that builds only record subtrees, one at a time.

    A record is built up to MAX_RECORD_ELEMENTS elements and MAX_RECORD_TEXT characters of
    text and attribute values; past that it is dropped as it streams by and only counted
    (``oversize``), so one huge record costs no more memory than a normal one. Nesting
    deeper than MAX_DEPTH is refused (the parser itself keeps every open element).
    """

    def __init__(self, layout: Layout, on_record: Callable[[ImRecord], None]) -> None:
        self.layout = layout
        self.on_record = on_record
        self.root = ""
        self.count = 0
        self.oversize = 0
        self.depth = 0
        self._builder: ET.TreeBuilder | None = None
        self._record_depth = 0  # depth of the record being read; 0: outside a record
        self._elements = 0
        self._text = 0

    def _building(self, elements: int, text: int) -> ET.TreeBuilder | None:
        """The record's builder while the record stays within its caps (counting this much
        more), else None: past a cap what was built is dropped and the rest streams by."""
        if self._builder is None:
            return None
        self._elements += elements
        self._text += text
        if self._elements > MAX_RECORD_ELEMENTS or self._text > MAX_RECORD_TEXT:
            self._builder = None
        return self._builder

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ArchiveError(
                "too-big", f"elements nested deeper than {MAX_DEPTH} levels: refused"
            )
        local = _local(tag)
        if not self.root:
            self.root = local
        if not self._record_depth and local == self.layout.record_element:
            self._builder = ET.TreeBuilder()
            self._record_depth = self.depth
            self._elements = self._text = 0
        size = sum(len(k) + len(v) for k, v in attrib.items())
        if (builder := self._building(1, size)) is not None:
            builder.start(local, {_local(k): v for k, v in attrib.items()})

    def end(self, tag: str) -> None:
        elem = self._builder.end(_local(tag)) if self._builder is not None else None
        if self.depth == self._record_depth:
            self._record_depth = 0
            self._builder = None
            self.count += 1
            if elem is None:
                self.oversize += 1
            else:
                self.on_record(extract(elem, self.layout))
            if self.count % STOP_EVERY == 0:
                cancel.raise_if_stopped()
        self.depth -= 1

    def data(self, text: str) -> None:
        if (builder := self._building(0, len(text))) is not None:
            builder.data(text)

    def close(self) -> None:
        return None


class _Capped:
    """Counts decompressed bytes across streams; ArchiveError('too-big') past the cap."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.total = 0
        self.nonspace = False

    def take(self, chunk: bytes) -> bytes:
        self.total += len(chunk)
        if self.total > self.cap:
            raise ArchiveError(
                "too-big",
                f"more than {self.cap} bytes of XML after decompression (bomb guard)",
            )
        if not self.nonspace and chunk.strip():
            self.nonspace = True
        return chunk


def _parse_stream(
    stream: _Readable,
    layout: Layout,
    cap: _Capped,
    deadline: float,
    on_record: Callable[[ImRecord], None],
) -> tuple[str, int, int]:
    target = _Target(layout, on_record)
    parser = DefusedXMLParser(target=target, forbid_dtd=False, forbid_entities=True)
    try:
        while chunk := stream.read(CHUNK):
            cancel.raise_if_stopped()
            parser.feed(cap.take(chunk))
            if time.monotonic() > deadline:
                raise ArchiveError("timeout", "parsing stopped: the check ran out of time")
        if not cap.nonspace:
            raise ArchiveError("empty", "empty (no XML content)")
        parser.close()
    except EntitiesForbidden as exc:
        if exc.sysid or exc.pubid:
            shown = str(exc.sysid or exc.pubid)[:80]
            raise ArchiveError(
                "external", f"declares external entity '{exc.name}' ({shown}): refused"
            ) from exc
        raise ArchiveError(
            "entities",
            f"declares XML entity '{exc.name}': refused, not expanded (entity-expansion bomb guard)",
        ) from exc
    except DefusedXmlException as exc:
        raise ArchiveError("external", f"refused by the XML guard: {type(exc).__name__}") from exc
    except ET.ParseError as exc:
        raise ArchiveError("malformed", f"not well-formed XML: {exc}") from exc
    return target.root, target.count, target.oversize


def container_of(name: str, head: bytes) -> str:
    """'zip', 'gzip' or 'xml': by the file name, by magic bytes when the name says nothing."""
    lower = name.lower()
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".gz", ".gzip")):
        return "gzip"
    if lower.endswith(".xml"):
        return "xml"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    return "xml"


def _zip_members(zf: zipfile.ZipFile) -> Iterator[zipfile.ZipInfo]:
    infos = [i for i in zf.infolist()[: MAX_ZIP_MEMBERS + 1] if not i.is_dir()]
    if len(infos) > MAX_ZIP_MEMBERS:
        raise ArchiveError("container", f"zip holds more than {MAX_ZIP_MEMBERS} members")
    xml = [i for i in infos if i.filename.lower().endswith(".xml")]
    yield from xml or infos


def _parse_local(
    local: Path,
    name: str,
    layout: Layout,
    max_xml_bytes: int,
    deadline: float,
    on_record: Callable[[ImRecord], None],
) -> FileSummary:
    summary = FileSummary()
    cap = _Capped(max_xml_bytes)

    def one(stream: _Readable) -> None:
        root, count, oversize = _parse_stream(stream, layout, cap, deadline, keep)
        summary.roots.append(root)
        summary.records += count
        summary.oversize += oversize
        summary.members += 1

    def keep(rec: ImRecord) -> None:
        if len(summary.samples) < 3:
            summary.samples.append(rec)
        on_record(rec)

    with local.open("rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        kind = container_of(name, head)
        if kind == "xml":
            one(fh)
        elif kind == "gzip":
            with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                one(gz)
        else:
            with zipfile.ZipFile(fh) as zf:
                members = list(_zip_members(zf))
                if not members:
                    raise ArchiveError("empty", "empty zip (no members)")
                for info in members:
                    with zf.open(info) as member:
                        one(member)
    summary.xml_bytes = cap.total
    return summary


def parse_file(
    local: Path,
    name: str,
    layout: Layout,
    *,
    max_xml_bytes: int,
    deadline: float,
    on_record: Callable[[ImRecord], None] = lambda _r: None,
) -> FileSummary:
    """Read one downloaded archive file; ArchiveError says what is wrong with it.

    *name* is the remote name (it decides the container); *deadline* is a
    ``time.monotonic()`` value. Blocking: call it in a thread.
    """
    try:
        return _parse_local(local, name, layout, max_xml_bytes, deadline, on_record)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise ArchiveError("container", f"damaged container: {_one_line(exc)}") from exc
    except (RuntimeError, NotImplementedError, ValueError) as exc:  # encrypted/odd zip members
        raise ArchiveError("container", f"unreadable container: {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def describe(value: Any) -> str:
    """A short quoted rendering of a field value for summaries."""
    text = " ".join(str(value).split())
    return repr(text if len(text) <= 60 else text[:57] + "...")
