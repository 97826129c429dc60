"""The configuration reference (docs/CONFIGURATION.md), generated from the section classes.

``python -m ecc_doctor.config.reference > docs/CONFIGURATION.md``; a test keeps it current.
"""

from __future__ import annotations

from typing import Any

from ecc_doctor.config import SYSTEM_SECTIONS
from ecc_doctor.config.schema import doc_lines
from ecc_doctor.config.sections import NetConfig, SiteInfo, TimeoutsConfig


def markdown() -> str:
    sections: list[tuple[str, type[Any]]] = [("site", SiteInfo)]
    sections += list(SYSTEM_SECTIONS.items())
    sections += [("net", NetConfig), ("timeouts", TimeoutsConfig)]
    out = [
        "# Configuration reference",
        "",
        "Generated from the code (`python -m ecc_doctor.config.reference`); do not edit by hand.",
        "",
        "One TOML site file (`--config`, default `./ecc-doctor.toml`, or `$ECC_DOCTOR_CONFIG`).",
        "A check whose section is absent is SKIPped with the reason. Secrets are references:",
        "`env:NAME` or `file:PATH` (a plain value works but warns when the file is readable by",
        "others). Keys may be written with `_` or `-`. Every bad value stops ecc-doctor with",
        "exit code 2 and one line naming the file, the line, the key and what was expected",
        "(`site.toml:7: cm.port: expected an integer ...`).",
        "",
        "**Paths.** Every path in the site file is relative to the site file's folder, wherever",
        "ecc-doctor runs from (cron, CI, another folder): `ca_file`, `client_cert`/`client_key`,",
        "`callback_cert`/`callback_key`, `known_hosts`, `key_file`, `password_file`,",
        "`gateway_text`, `captures`, `capture` and `file:` secrets. `~` is the home folder;",
        "absolute paths are taken as they are. A CA, certificate, key, known_hosts, password or",
        "gateway-text file that does not exist stops ecc-doctor at load (exit code 2, one line",
        "naming the key and the resolved path); a `known_hosts` file may be missing only with",
        "`accept_new_host_key = true`, which creates it. Captures are data that comes and goes:",
        "a missing capture is an ERROR of the check that reads it, the other checks still run.",
        "Without a `known_hosts` key, `~/.ssh/known_hosts` is used (checked when connecting).",
        "",
    ]
    for name, cls in sections:
        out += [f"## `[{name}]`", "", (cls.__doc__ or "").strip(), ""]
        out += ["| key | type | default | meaning |", "|---|---|---|---|"]
        for key, kind, default, doc in doc_lines(cls):
            cell = default.replace("|", "\\|") if default else ""
            out.append(
                f"| `{key}` | {kind} | `{cell}` | {doc.replace('|', '/')} |"
                if cell
                else f"| `{key}` | {kind} |  | {doc.replace('|', '/')} |"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(markdown())
