"""[sftp]: the SFTP server that receives Presence Services IM archives.

The archive file format is not public (PROTOCOLS.md section 5, NOT FOUND): file names, the
container (plain XML, zip, gzip) and the element names are all configurable here, with
defaults that fit an XMPP-like layout (``<message from= to=><body>..</body></message>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ecc_doctor.config.schema import host_problem, setting
from ecc_doctor.imarchive import Layout, path_problem
from ecc_doctor.secrets import Secret

MiB = 1024 * 1024
DEFAULT_LAYOUT = Layout()


def parse_when(text: str) -> datetime | None:
    """An ISO 8601 time (``2026-11-21T07:00:00Z``); naive times are taken as UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SftpConfig:
    """[sftp]: where Presence Services uploads IM archives (app note 6.2) and what they hold."""

    host: str = setting(doc="SFTP server address", example="10.0.0.30")
    username: str = setting(doc="SFTP login", example="archive")
    path: str = setting(doc="directory the archives are uploaded to", example="/archive/im")
    port: int = setting(22, doc="SFTP port", min=1, max=65535)
    password: Secret | None = setting(
        None, doc="password reference (or use key_file; one of the two is required)"
    )
    key_file: Path | None = setting(
        None, doc="private key file for public-key auth (must exist when the site file loads)"
    )
    known_hosts: Path | None = setting(
        None, doc="known_hosts file used to verify the host key (default ~/.ssh/known_hosts)"
    )
    accept_new_host_key: bool = setting(
        False, doc="trust an unknown host key on first use and add it to known_hosts"
    )
    upload_frequency_hours: float = setting(
        1.0,
        doc="'Message Archiving Remote Upload Frequency' set in Presence Services (hours)",
        min=0.01,
        max=24 * 31,
    )
    grace_minutes: float = setting(
        15.0,
        doc="slack added to the upload frequency before the newest file counts as stale",
        min=0,
        max=24 * 60,
    )
    file_patterns: list[str] = setting(
        factory=lambda: ["*"],
        doc="glob patterns of archive file names (dot files are always ignored)",
        example=["*.xml", "*.zip", "*.gz"],
    )
    max_list_entries: int = setting(
        10000,
        doc="stop listing the directory after this many entries (WARN; freshness is then "
        "judged on the entries listed)",
        min=1,
        max=10_000_000,
    )
    max_files_read: int = setting(
        3, doc="newest archive files downloaded and parsed per run", min=0, max=1000
    )
    max_file_bytes: int = setting(
        32 * MiB, doc="files larger than this are not downloaded (bytes)", min=1
    )
    max_total_bytes: int = setting(
        128 * MiB, doc="download budget of one run over all files (bytes)", min=1
    )
    max_xml_bytes: int = setting(
        64 * MiB, doc="cap on decompressed XML per file (zip/gzip bomb guard, bytes)", min=1
    )
    record_element: str = setting(
        DEFAULT_LAYOUT.record_element,
        doc="local name (namespace ignored) of the element holding one IM",
    )
    sender_paths: list[str] = setting(
        factory=lambda: list(DEFAULT_LAYOUT.sender_paths),
        doc="where the sender is, relative to a record: ElementTree paths, 'path/@attr' or "
        "'@attr'; the first that yields a value wins",
    )
    recipient_paths: list[str] = setting(
        factory=lambda: list(DEFAULT_LAYOUT.recipient_paths),
        doc="where the recipients are (every match of the first path that matches is kept)",
    )
    body_paths: list[str] = setting(
        factory=lambda: list(DEFAULT_LAYOUT.body_paths), doc="where the message text is"
    )
    timestamp_paths: list[str] = setting(
        factory=lambda: list(DEFAULT_LAYOUT.timestamp_paths),
        doc="where the send time is (ISO 8601 or epoch seconds/milliseconds)",
    )
    pile_up_threshold: int = setting(
        0, doc="WARN when more archive files than this wait on the server (0: off)", min=0
    )
    marker_from: str = setting("", doc="8.2: sender of an IM you sent (empty: no marker check)")
    marker_to: str = setting("", doc="8.2: its recipient")
    marker_body: str = setting("", doc="8.2: a substring of its body")
    marker_sent_after: str = setting(
        "", doc="8.2: ISO 8601 time shortly before you sent it", example="2026-11-21T07:05:00Z"
    )

    @property
    def marker_enabled(self) -> bool:
        return bool(self.marker_from or self.marker_to or self.marker_body)

    @property
    def stale_after_s(self) -> float:
        """Age in seconds past which the newest file is stale."""
        return self.upload_frequency_hours * 3600 + self.grace_minutes * 60

    def validate(self) -> str | None:
        if problem := host_problem("host", self.host):
            return problem
        if self.password is None and self.key_file is None:
            return "password: expected a secret reference, or set sftp.key_file, got neither"
        if self.key_file is not None and self.key_file.is_absolute():
            # a relative one is checked by load(), against the site file's folder
            key_path = self.key_file
            why = (
                "does not exist"
                if not key_path.exists()
                else "not a file"
                if not key_path.is_file()
                else ""
            )
            if why:
                return f"key_file: expected a private key file, got '{self.key_file}' ({why})"
        if not self.file_patterns:
            return "file_patterns: expected at least one pattern, got []"
        for key in ("sender_paths", "recipient_paths", "body_paths", "timestamp_paths"):
            if not getattr(self, key):
                return f"{key}: expected at least one path, got []"
            for path in getattr(self, key):
                if path_problem(path):
                    return (
                        f"{key}: expected an ElementTree path, 'path/@attr' or '@attr', "
                        f"got {path!r} ({path_problem(path)})"
                    )
        if not self.record_element or "/" in self.record_element:
            return f"record_element: expected an element name, got {self.record_element!r}"
        if self.marker_enabled:
            missing = [
                k
                for k in ("marker_from", "marker_to", "marker_body", "marker_sent_after")
                if not getattr(self, k)
            ]
            if missing:
                return f"{missing[0]}: expected a value when another marker_* key is set, got ''"
        if self.marker_sent_after and parse_when(self.marker_sent_after) is None:
            return (
                "marker_sent_after: expected an ISO 8601 time like 2026-11-21T07:05:00Z, "
                f"got {self.marker_sent_after!r}"
            )
        return None
