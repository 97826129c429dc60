"""Where the dashboard's exports go: is the folder writable, and why not, in words.

No Textual here: ``ecc-doctor dashboard`` checks --export-dir before the UI loads.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

_WORDS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENAMETOOLONG: "the name is too long",
}


def why_not_written(exc: OSError, directory: Path) -> str:
    """Why a file could not be written into *directory*, in words (never an errno name)."""
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and not directory.is_dir():
        blocker = next(
            (p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), None
        )
        if blocker is not None:
            return f"{blocker} is a file, not a folder"
    if exc.errno == errno.ENOENT:
        return f"files cannot be created in {directory}"
    words = _WORDS.get(exc.errno or 0)
    if words is None:
        text = exc.strerror or str(exc)
        words = text[:1].lower() + text[1:]
    return words


def folder_problem(directory: Path) -> str | None:
    """Why the dashboard could not write exports into *directory* (None: it can).

    A folder that does not exist yet is fine when it can be created (the first export
    creates it); nothing is left behind by this probe.
    """
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    probe = existing / f".ecc-doctor-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    except OSError as exc:
        return f"cannot write: {why_not_written(exc, existing)}"
    os.close(fd)
    probe.unlink()
    return None
