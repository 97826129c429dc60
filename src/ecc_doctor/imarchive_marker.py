"""App note 8.2: does an IM we know was sent appear in the archive with the right fields?

A marker is (from, to, body substring, sent after T). Records sent at or after T are
compared field by field; an exact match PASSes when its file was uploaded within one upload
window (upload frequency + grace) of the send time (the record's timestamp, else T), and
FAILs saying how late otherwise. Once the window after T is over a missing or mismatched
record FAILs naming the field that differed. Addresses match ignoring case, a ``sip:``/``xmpp:``/``im:`` scheme and an XMPP
``/resource``; a marker address without ``@`` matches the user part (``56207`` matches
``56207@example.com``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ecc_doctor.config.sftp import SftpConfig, parse_when
from ecc_doctor.imarchive import ImRecord, describe
from ecc_doctor.models import Status

SCHEMES = ("sip:", "sips:", "xmpp:", "im:", "tel:")


def normalize(address: str) -> str:
    text = address.strip().strip("<>").lower()
    for scheme in SCHEMES:
        if text.startswith(scheme):
            text = text[len(scheme) :]
    return text.split("/", 1)[0]


def address_matches(expected: str, actual: str) -> bool:
    want, got = normalize(expected), normalize(actual)
    if want == got:
        return True
    return "@" not in want and got.split("@", 1)[0] == want


def fmt_age(seconds: float) -> str:
    """'5 h 12 min', '12 min', '40 s', '2 d 3 h'."""
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s} s"
    minutes, hours, days = s // 60 % 60, s // 3600 % 24, s // 86400
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def show(rec: ImRecord) -> str:
    """One record as an engineer reads it."""
    when = rec.timestamp.isoformat() if rec.timestamp else rec.raw_timestamp or "no time"
    to = ", ".join(rec.recipients) or "(none)"
    return f"{when} from {rec.sender or '(none)'} to {to}: {describe(rec.body)}"


@dataclass
class _Candidate:
    score: int
    file: str
    record: ImRecord
    differences: list[str]


@dataclass
class MarkerMatcher:
    """Collects records and keeps the exact match or the nearest miss."""

    sender: str
    recipient: str
    body: str
    after: datetime
    window: timedelta
    seen: int = 0
    exact: tuple[str, ImRecord, float] | None = None  # file, record, file mtime
    nearest: _Candidate | None = None
    files: set[str] = field(default_factory=set)

    @classmethod
    def from_config(cls, cfg: SftpConfig) -> MarkerMatcher | None:
        after = parse_when(cfg.marker_sent_after) if cfg.marker_enabled else None
        if after is None:
            return None
        window = timedelta(hours=cfg.upload_frequency_hours, minutes=cfg.grace_minutes)
        return cls(cfg.marker_from, cfg.marker_to, cfg.marker_body, after, window)

    def _differences(self, rec: ImRecord) -> list[str]:
        out = []
        if not address_matches(self.sender, rec.sender):
            out.append(
                f"sender {describe(rec.sender or '(none)')}, expected {describe(self.sender)}"
            )
        if not any(address_matches(self.recipient, r) for r in rec.recipients):
            got = ", ".join(rec.recipients) or "(none)"
            out.append(f"recipient {describe(got)}, expected {describe(self.recipient)}")
        if " ".join(self.body.split()) not in " ".join(rec.body.split()):
            out.append(f"body {describe(rec.body or '(none)')} lacks {describe(self.body)}")
        return out

    def feed(self, rec: ImRecord, file: str, file_mtime: float) -> None:
        """Consider one record from *file* (its mtime stands in for a missing timestamp).

        Of several exact matches (a cumulative file re-uploaded later holds the IM again) the
        one from the earliest-uploaded file is kept, whatever order the files are read in.
        """
        sent = rec.timestamp or datetime.fromtimestamp(file_mtime, UTC)
        if sent < self.after:
            return
        self.seen += 1
        self.files.add(file)
        diffs = self._differences(rec)
        if not diffs:
            if self.exact is None or file_mtime < self.exact[2]:
                self.exact = (file, rec, file_mtime)
            return
        if self.exact is not None:
            return
        score = 3 - len(diffs)
        if score > 0 and (self.nearest is None or score > self.nearest.score):
            self.nearest = _Candidate(score, file, rec, diffs)

    def verdict(self, now: datetime) -> tuple[Status, str, list[str]]:
        """(status value, one-line message, evidence lines)."""
        what = (
            f"IM from {self.sender} to {self.recipient} sent after {self.after:%Y-%m-%d %H:%M} UTC"
        )
        lines = [
            f"expected: from {self.sender}, to {self.recipient}, body containing "
            f"{describe(self.body)}, sent at or after {self.after.isoformat()}",
            f"{self.seen} records sent since then, in {len(self.files)} file(s) read",
        ]
        if self.exact is not None:
            file, rec, mtime = self.exact
            lines.append(f"match in {file}: {show(rec)}")
            sent = rec.timestamp or self.after
            delay = mtime - sent.timestamp()
            if delay > self.window.total_seconds():
                lines.append(f"{file} was uploaded {fmt_age(delay)} after the IM was sent")
                message = (
                    f"marker {what} found in {file}, but archived {fmt_age(delay)} after it was"
                    f" sent; expected within {fmt_age(self.window.total_seconds())}"
                )
                return Status.FAIL, message, lines
            return Status.PASS, f"marker {what} found in {file} with matching fields", lines
        near = ""
        if self.nearest is not None:
            n = self.nearest
            near = f"; nearest record in {n.file} differs in " + "; ".join(n.differences)
            lines.append(f"nearest: {n.file}: {show(n.record)}")
        due = self.after + self.window
        if now < due:
            message = f"marker {what} not archived yet (due by {due:%H:%M} UTC){near}"
            return Status.WARN, message, lines
        if self.nearest is not None:
            return Status.FAIL, f"marker {what}: {near.removeprefix('; ')}", lines
        message = f"marker {what} is missing from the archive ({self.seen} later records checked)"
        return Status.FAIL, message, lines
