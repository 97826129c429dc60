"""Transcripts: what a probe session sent and received, secrets redacted, bounded in size."""

from __future__ import annotations

import time

from ecc_doctor.models import Evidence
from ecc_doctor.secrets import redact

MAX_LINES = 2000
MAX_LINE = 400


class Transcript:
    """Records one probe session's dialogue. Lines look like ``+0.012 > text``.

    ``>`` is what we sent, ``<`` what we received, ``#`` our own notes.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self._t0 = time.monotonic()
        self._lines: list[str] = []
        self._dropped = 0
        #: host keys trusted on first use in this session (accept_new_host_key), as noted:
        #: the runner names them in the result's details, the sign-off record's own lines
        self.trusted_keys: list[str] = []

    def sent(self, text: str) -> None:
        self._add(">", text)

    def received(self, text: str) -> None:
        self._add("<", text)

    def note(self, text: str) -> None:
        self._add("#", text)

    def host_key_trusted(self, text: str) -> None:
        """A host key added to known_hosts on first use: noted, and kept for the details."""
        self.note(text)
        self.trusted_keys.append(redact(text))

    def _add(self, mark: str, text: str) -> None:
        stamp = f"+{time.monotonic() - self._t0:.3f}"
        for raw in redact(text).splitlines() or [""]:
            if len(self._lines) >= MAX_LINES:
                self._dropped += 1
                continue
            line = raw if len(raw) <= MAX_LINE else raw[:MAX_LINE] + f"… ({len(raw)} chars)"
            self._lines.append(f"{stamp} {mark} {line}")

    def lines_until(self, moment: float) -> list[str]:
        """The lines recorded up to *moment* (a ``time.monotonic()`` value): e.g. without
        those a cancelled session's cleanup added after a check's deadline."""
        limit = moment - self._t0
        return [line for line in self._lines if float(line.split(" ", 1)[0]) <= limit]

    @property
    def lines(self) -> tuple[str, ...]:
        tail = (f"# … {self._dropped} more lines not kept",) if self._dropped else ()
        return tuple(self._lines) + tail

    def to_evidence(self) -> Evidence:
        return Evidence(title=self.title, kind="transcript", lines=self.lines)
