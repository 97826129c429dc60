"""Exit codes a pipeline can trust (modelled on pytest's ExitCode)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  #: every check PASS, WARN or SKIP
    CHECKS_FAILED = 1  #: some check FAIL or ERROR (or WARN with --strict)
    USAGE = 2  #: bad command line or site file
    INTERNAL = 3  #: ecc-doctor itself crashed (a bug: please report it)
    INTERRUPTED = 130  #: stopped with Ctrl-C, SIGTERM or SIGHUP (every session closed)


REPORT_URL = "https://github.com/ecc-doctor/ecc-doctor/issues"
