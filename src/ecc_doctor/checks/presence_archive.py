"""presence.im-archive: Presence Services uploads IM archives to SFTP, fresh and readable.

App note 6.2 sets the remote path and upload frequency; 8.1 checks that archived files
arrive on the SFTP server; 8.2 compares an IM's fields (source, destination, body) with
what was sent. The file format is not public: see :mod:`ecc_doctor.imarchive`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ecc_doctor.config.sftp import SftpConfig, parse_when
from ecc_doctor.context import CheckContext
from ecc_doctor.imarchive import (
    MAX_RECORD_ELEMENTS,
    MAX_RECORD_TEXT,
    ArchiveError,
    FileSummary,
    ImRecord,
    Layout,
    parse_file,
)
from ecc_doctor.imarchive_marker import MarkerMatcher, fmt_age
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.netaddr import host_port
from ecc_doctor.probes.sftp import (
    FileTooLarge,
    Listing,
    RemoteEntry,
    RemotePathError,
    SftpSession,
    open_session,
)

ID = "presence.im-archive"
TITLE = "Presence Services IM archives arrive on SFTP, fresh, readable and holding the IMs sent"
SOURCE = "Presence/Avotus app note 6.2, 8.1, 8.2"
NEEDS = ("sftp",)

FUTURE_SKEW_S = 300
SHOWN_FILES = 20
ERROR_KINDS = {"timeout"}


def fmt_size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


@dataclass
class Verdicts:
    """Findings gathered while checking; the result rolls them up (worst first)."""

    items: list[tuple[Status, str]] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def add(self, status: Status, message: str) -> None:
        self.items.append((status, message))

    @property
    def status(self) -> Status:
        return Status.worst([s for s, _ in self.items])

    def summary(self) -> str:
        worst = self.status
        return "; ".join(m for s, m in self.items if s == worst)


def layout_of(cfg: SftpConfig) -> Layout:
    return Layout(
        record_element=cfg.record_element,
        sender_paths=tuple(cfg.sender_paths),
        recipient_paths=tuple(cfg.recipient_paths),
        body_paths=tuple(cfg.body_paths),
        timestamp_paths=tuple(cfg.timestamp_paths),
    )


def archive_files(listing: Listing, patterns: list[str]) -> list[RemoteEntry]:
    """Regular files matching *patterns* (no dot files), newest first."""
    found = [
        e
        for e in listing.entries
        if e.kind == "file"
        and not e.name.startswith(".")
        and any(fnmatch.fnmatchcase(e.name, p) for p in patterns)
    ]
    return sorted(found, key=lambda e: (e.mtime, e.name), reverse=True)


def _listing_notes(
    listing: Listing, files: list[RemoteEntry], cfg: SftpConfig, v: Verdicts
) -> None:
    if listing.bounded:
        v.add(
            Status.WARN,
            f"listing of {cfg.path} stopped after {listing.limit} entries (sftp.max_list_entries):"
            " the newest archive may not be among them",
        )
    invalid = [e.name for e in listing.entries if e.kind == "invalid"]
    if invalid:
        v.add(
            Status.WARN,
            f"the server listed {len(invalid)} names that are not plain file names "
            f"(e.g. {invalid[0]!r}): ignored",
        )
    links = sum(1 for e in listing.entries if e.kind == "symlink")
    others = sum(1 for e in listing.entries if e.kind in ("dir", "other"))
    if links or others:
        v.details.append(f"ignored: {links} symlinks (not followed), {others} directories/other")
    limit = cfg.pile_up_threshold
    if limit and len(files) > limit:
        more = "at least " if listing.bounded else ""
        v.add(
            Status.WARN,
            f"{more}{len(files)} archive files wait in {cfg.path} (more than {limit}):"
            " is the collector (Avotus EUR) fetching and removing them?",
        )


def _freshness(
    files: list[RemoteEntry], listing: Listing, cfg: SftpConfig, now: float, v: Verdicts
) -> None:
    every = f"uploads are expected every {cfg.upload_frequency_hours:g} h"
    if not files:
        where = f"among the first {listing.limit} entries of" if listing.bounded else "in"
        v.add(
            Status.WARN,
            f"no archive files {where} {cfg.path} (patterns {', '.join(cfg.file_patterns)}):"
            " nothing uploaded yet, or the collector has already taken them",
        )
        return
    newest = files[0]
    age = now - newest.mtime
    # a cut-short listing proves freshness when it holds a fresh file, never staleness
    what = (
        f"newest of the first {listing.limit} listed, {newest.name}, is"
        if listing.bounded
        else f"newest archive {newest.name} is"
    )
    if age < -FUTURE_SKEW_S:
        v.add(
            Status.WARN,
            f"{what} dated {fmt_age(-age)} in the future: check the SFTP server's clock",
        )
    elif age > cfg.stale_after_s:
        v.add(
            Status.WARN if listing.bounded else Status.FAIL,
            # the modification time, not a time in the name: say so, they can differ
            f"{what} {fmt_age(age)} old by its modification time; {every}",
        )
    else:
        v.add(Status.PASS, f"{what} {fmt_age(age)} old ({every})")


def _files_to_read(files: list[RemoteEntry], cfg: SftpConfig) -> list[RemoteEntry]:
    chosen = files[: cfg.max_files_read]
    after = parse_when(cfg.marker_sent_after) if cfg.marker_enabled else None
    if after is not None:
        since = after.timestamp() - cfg.grace_minutes * 60
        marker_files = sorted((f for f in files if f.mtime >= since), key=lambda e: e.mtime)
        chosen += [f for f in marker_files[: cfg.max_files_read] if f not in chosen]
    return chosen


@dataclass
class FileOutcome:
    entry: RemoteEntry
    status: Status
    note: str
    summary: FileSummary | None = None
    read: int = 0  # bytes downloaded (counted against sftp.max_total_bytes)


def _too_large(entry: RemoteEntry, exc: FileTooLarge, cap: int, cfg: SftpConfig) -> FileOutcome:
    if not exc.read:  # refused by its listed size
        note = (
            f"{fmt_size(entry.size)}, over sftp.max_file_bytes ({fmt_size(cfg.max_file_bytes)}):"
            " not downloaded, content not verified"
        )
        return FileOutcome(entry, Status.ERROR, note)
    served = f"listed as {fmt_size(entry.size)}, but more than {fmt_size(cap)} were served"
    if cap >= cfg.max_file_bytes:
        note = f"{served} (over sftp.max_file_bytes): read stopped at the cap, content not verified"
        return FileOutcome(entry, Status.ERROR, note, read=exc.read)
    note = f"{served}: read stopped at the sftp.max_total_bytes budget, content not verified"
    return FileOutcome(entry, Status.WARN, note, read=exc.read)


def _unreadable(entry: RemoteEntry, exc: RemotePathError) -> FileOutcome:
    if exc.reason == "missing":  # listed a moment ago: the collector (Avotus EUR) took it
        note = "removed while checking (taken by the collector?)"
        return FileOutcome(entry, Status.WARN, note, read=exc.read)
    if exc.reason == "denied":
        note = "permission denied: the SFTP account cannot read it, content not verified"
        return FileOutcome(entry, Status.ERROR, note, read=exc.read)
    return FileOutcome(entry, Status.ERROR, str(exc), read=exc.read)


async def _read_one(
    ctx: CheckContext,
    session: SftpSession,
    entry: RemoteEntry,
    cfg: SftpConfig,
    matcher: MarkerMatcher | None,
    cap: int,
) -> FileOutcome:
    if entry.size == 0:
        return FileOutcome(entry, Status.WARN, "empty file")
    try:
        download = await session.download(cfg.path, entry, cap)
    except FileTooLarge as exc:
        return _too_large(entry, exc, cap, cfg)
    except RemotePathError as exc:
        return _unreadable(entry, exc)
    local = download.path

    def sink(rec: ImRecord) -> None:
        if matcher is not None:
            matcher.feed(rec, entry.name, entry.mtime)

    deadline = time.monotonic() + max(ctx.remaining() - 0.5, 0.1)
    try:
        summary = await asyncio.to_thread(
            parse_file, local, entry.name, layout_of(cfg),
            max_xml_bytes=cfg.max_xml_bytes, deadline=deadline, on_record=sink,
        )  # fmt: skip
    except ArchiveError as exc:
        status = Status.WARN if exc.kind == "empty" else Status.FAIL
        if exc.kind in ERROR_KINDS:
            status = Status.ERROR
        return FileOutcome(entry, status, exc.message, read=download.read)
    finally:
        local.unlink(missing_ok=True)
    if summary.records == 0:
        note = (
            f"well-formed (root <{summary.root}>) but no <{cfg.record_element}> records: set "
            "sftp.record_element to the element that holds one IM"
        )
        return FileOutcome(entry, Status.WARN, note, summary, download.read)
    if summary.oversize:
        note = (
            f"{summary.records} records, {summary.oversize} of them over the per-record cap "
            f"({MAX_RECORD_ELEMENTS} elements or {MAX_RECORD_TEXT // 1024} KiB of text): "
            "counted, their fields not read"
        )
        return FileOutcome(entry, Status.WARN, note, summary, download.read)
    return FileOutcome(entry, Status.PASS, f"{summary.records} records", summary, download.read)


async def _read_files(
    ctx: CheckContext,
    session: SftpSession,
    chosen: list[RemoteEntry],
    cfg: SftpConfig,
    matcher: MarkerMatcher | None,
    v: Verdicts,
) -> list[FileOutcome]:
    outcomes: list[FileOutcome] = []
    spent = 0  # bytes actually read, not listed sizes (a size can lie, a file can grow)
    for entry in chosen:
        left = cfg.max_total_bytes - spent
        if entry.size <= cfg.max_file_bytes and (entry.size > left or left <= 0):
            v.details.append(f"{entry.name}: not read, sftp.max_total_bytes budget spent")
            continue
        outcome = await _read_one(ctx, session, entry, cfg, matcher, min(cfg.max_file_bytes, left))
        spent += outcome.read
        outcomes.append(outcome)
        if outcome.status is not Status.PASS:
            v.add(outcome.status, f"archive {entry.name}: {outcome.note}")
    return outcomes


def _content_verdict(outcomes: list[FileOutcome], v: Verdicts) -> None:
    good = [o for o in outcomes if o.summary is not None and o.status is Status.PASS]
    if good:
        records = sum(o.summary.records for o in good if o.summary)
        roots = ", ".join(dict.fromkeys(f"<{o.summary.root}>" for o in good if o.summary))
        v.add(Status.PASS, f"{len(good)} files read: {records} IM records, root {roots}")


def _evidence(files: list[RemoteEntry], outcomes: list[FileOutcome], now: float) -> Evidence:
    by_entry = {id(o.entry): o for o in outcomes}
    rows = []
    for e in files[:SHOWN_FILES]:
        o = by_entry.get(id(e))
        root = f"<{o.summary.root}>" if o and o.summary else ""
        records = str(o.summary.records) if o and o.summary else ""
        verdict = f"{o.status.value}: {o.note}" if o else "not read"
        rows.append((e.name, fmt_size(e.size), fmt_age(now - e.mtime), root, records, verdict))
    if len(files) > SHOWN_FILES:
        rows.append((f"... {len(files) - SHOWN_FILES} older files", "", "", "", "", ""))
    cols = ("file", "size", "age", "root", "records", "read")
    return Evidence.table("archive files, newest first", cols, rows)


async def _inspect(ctx: CheckContext, session: SftpSession, cfg: SftpConfig) -> Result:
    try:
        listing = await session.list_dir(cfg.path, cfg.max_list_entries)
    except RemotePathError as exc:
        if exc.reason == "broken-link":
            return ctx.result(Status.FAIL, f"archive directory {exc.message}")
        if exc.reason == "not-dir":
            return ctx.result(Status.FAIL, f"archive path {exc.message}")
        if exc.reason != "missing":
            raise
        return ctx.result(
            Status.FAIL,
            f"archive directory {cfg.path} does not exist on {cfg.host} (the 'Message "
            "Archiving Remote Path' of app note 6.2)",
        )
    now = time.time()
    v = Verdicts()
    files = archive_files(listing, cfg.file_patterns)
    _freshness(files, listing, cfg, now, v)
    _listing_notes(listing, files, cfg, v)
    matcher = MarkerMatcher.from_config(cfg)
    outcomes = await _read_files(ctx, session, _files_to_read(files, cfg), cfg, matcher, v)
    _content_verdict(outcomes, v)
    evidence = [_evidence(files, outcomes, now)]
    if matcher is not None:
        status, message, lines = matcher.verdict(datetime.now(UTC))
        v.add(status, message)
        evidence.append(Evidence.text("marker IM (app note 8.2)", lines))
    else:  # a PASS must not read as if step 8.2 was done (QA 4b #3)
        v.add(
            Status.PASS,
            "app note 8.2 not verified (set [sftp] marker_from, marker_to, marker_body and "
            "marker_sent_after to an IM you sent, to find it in the archive)",
        )
    metrics = {
        "files": float(len(files)),
        "files_read": float(len(outcomes)),
        "records": float(sum(o.summary.records for o in outcomes if o.summary)),
    }
    if files:
        metrics["newest_age_s"] = round(now - files[0].mtime, 1)
    details = [m for _, m in v.items] + v.details
    return ctx.result(v.status, v.summary(), details=details, metrics=metrics, evidence=evidence)


async def check(ctx: CheckContext) -> Result:
    cfg: SftpConfig = ctx.section("sftp")
    transcript = ctx.transcript(f"SFTP {host_port(cfg.host, cfg.port)} {cfg.path}")
    async with open_session(cfg, transcript, ctx.connect_timeout) as session:
        return await _inspect(ctx, session, cfg)
