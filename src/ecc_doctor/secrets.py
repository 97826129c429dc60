"""Secrets given as references (``env:NAME``, ``file:PATH``) and their redaction everywhere.

A :class:`Secret` never shows its value in ``str``/``repr``. Every value revealed is remembered
process-wide so that :func:`redact` can scrub it from transcripts, reports and error messages,
even if a peer echoed it back.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ecc_doctor.errors import ConfigError

MASK = "********"
_lock = threading.Lock()
_known: set[str] = set()


def remember(value: str) -> None:
    """Register a secret value so that :func:`redact` removes it from any text."""
    if len(value) >= 3:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """Replace every known secret value in *text* with a mask."""
    if not _known or not text:
        return text
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


class Secret:
    """A password or token: a reference resolved on use, never printed.

    >>> s = Secret("env:CM_PASSWORD")
    >>> str(s)
    'env:CM_PASSWORD'
    """

    __slots__ = ("_ref",)

    def __init__(self, ref: str) -> None:
        self._ref = ref

    @property
    def is_plain(self) -> bool:
        """True when the site file holds the value itself (discouraged)."""
        return not (self._ref.startswith("env:") or self._ref.startswith("file:"))

    @property
    def reference(self) -> str:
        """How the secret is referenced, safe to show (the mask for plain values)."""
        return MASK if self.is_plain else self._ref

    def problem(self) -> str | None:
        """Why this reference cannot be resolved now, or None.

        The config loader calls this for every secret so that a missing variable or an
        unreadable file is a config error naming the key. The value is not kept, but it is
        registered for masking at once: a peer that shows a secret of the site file (a file
        name on the SFTP server, an error body) is masked whichever checks run (QA 4a F10).
        """
        try:
            remember(self._resolve())
        except ConfigError as exc:
            # the message's whitespace is collapsed (EccDoctorError): so is its prefix
            return exc.message.removeprefix(" ".join(f"secret {self._ref}:".split()) + " ")
        return None

    def reveal(self) -> str:
        """Resolve the value; raises ConfigError if the variable or file is missing."""
        value = self._resolve()
        remember(value)
        return value

    def _resolve(self) -> str:
        for scheme, what in (("env:", "NAME"), ("file:", "PATH")):
            if self._ref.startswith(scheme) and not self._ref[len(scheme) :].strip():
                raise ConfigError(
                    f"secret {self._ref}: the reference is empty (expected {scheme}{what})"
                )
        if self._ref.startswith("env:"):
            name = self._ref[4:]
            value = os.environ.get(name)
            if value is None:
                raise ConfigError(f"secret {self._ref}: environment variable {name} is not set")
            return value
        if self._ref.startswith("file:"):
            path = Path(self._ref[5:]).expanduser()
            try:
                return path.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(
                    f"secret {self._ref}: cannot read {path}: {exc.strerror}"
                ) from exc
            except UnicodeDecodeError as exc:
                raise ConfigError(f"secret {self._ref}: {path} is not UTF-8 text") from exc
        return self._ref

    def __str__(self) -> str:
        return self.reference

    def __repr__(self) -> str:
        return f"Secret({self.reference!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._ref == self._ref

    def __hash__(self) -> int:
        return hash(self._ref)
