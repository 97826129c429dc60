"""Helpers the SSH probes (SAT, SFTP) share."""

from __future__ import annotations

from pathlib import Path

import asyncssh

from ecc_doctor.errors import ConnectError


def readable_known_hosts(path: Path) -> None:
    """ConnectError naming *path* when asyncssh cannot parse it (a user's file, not our bug).

    asyncssh raises a plain ValueError ("Invalid known hosts entry") for a malformed line,
    both here and while connecting; call this before ``asyncssh.connect``.
    """
    try:
        asyncssh.read_known_hosts(str(path))
    except ValueError as exc:
        raise ConnectError(f"known_hosts file {path} is unreadable: {exc}") from exc
