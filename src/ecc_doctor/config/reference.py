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
        "exit code 2 and one line naming the file, the key and what was expected.",
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
