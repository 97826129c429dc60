"""The site file: one TOML file, typed and validated once at load.

>>> cfg = from_mapping({"site": {"name": "lab"}}, source="<inline>")
>>> cfg.site.name, cfg.cm
('lab', None)
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecc_doctor.config.aes import AesConfig
from ecc_doctor.config.cm import CmConfig
from ecc_doctor.config.ecc import EccConfig
from ecc_doctor.config.mgc import MgcConfig
from ecc_doctor.config.schema import build, doc_lines, toml_key
from ecc_doctor.config.sections import NetConfig, SiteInfo, TimeoutsConfig
from ecc_doctor.config.sftp import SftpConfig
from ecc_doctor.config.sip import SipConfig
from ecc_doctor.errors import ConfigError
from ecc_doctor.secrets import Secret

DEFAULT_PATH = Path("ecc-doctor.toml")

#: The system sections, in the order reports and the template show them.
SYSTEM_SECTIONS: dict[str, type[Any]] = {
    "cm": CmConfig,
    "aes": AesConfig,
    "ecc": EccConfig,
    "sftp": SftpConfig,
    "sip": SipConfig,
    "mgc": MgcConfig,
}


@dataclass(frozen=True)
class SiteConfig:
    """The whole site file. A system section is None when the file does not have it."""

    site: SiteInfo = field(default_factory=SiteInfo)
    cm: CmConfig | None = None
    aes: AesConfig | None = None
    ecc: EccConfig | None = None
    sftp: SftpConfig | None = None
    sip: SipConfig | None = None
    mgc: MgcConfig | None = None
    net: NetConfig = field(default_factory=NetConfig)
    timeouts: TimeoutsConfig = field(default_factory=TimeoutsConfig)
    # not keys of the file: where it came from, load-time warnings, lab or real site
    source: str = field(default="<defaults>", compare=False, metadata={"internal": True})
    warnings: tuple[str, ...] = field(default=(), compare=False, metadata={"internal": True})
    is_lab: bool = field(default=False, compare=False, metadata={"internal": True})

    def section(self, name: str) -> Any:
        """The section called *name*, or None if absent."""
        return getattr(self, name, None)


_NOT_KEYS = {"source", "warnings", "is_lab"}


def from_mapping(
    data: dict[str, Any], *, source: str, is_lab: bool = False, mode: int | None = None
) -> SiteConfig:
    """Validate a parsed TOML document. *mode* is the file's permission bits, if a file."""
    cfg = build(SiteConfig, data, source=source)
    warnings = tuple(_plain_secret_warnings(cfg, source, mode))
    return dataclasses.replace(cfg, source=source, warnings=warnings, is_lab=is_lab)


def load(path: Path | str = DEFAULT_PATH) -> SiteConfig:
    """Read and validate the site file; ConfigError names the file, line or key."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file (write a template with: ecc-doctor init {path})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(path, exc)) from exc
    cfg = from_mapping(data, source=str(path), mode=mode)
    _check_input_files(cfg, path.parent)
    return cfg


def _input_files(cfg: SiteConfig) -> Iterator[tuple[str, Path, bool]]:
    """(key, path as written, whether the current folder is tried first) of the files that
    are configuration: the SIP password file and the gateway's MGC list text. Captures are
    not among them: they are data that comes and goes (rotated, copied in before a run), so
    a missing one is an ERROR of the checks that read it while the other checks still run."""
    if cfg.sip is not None and cfg.sip.password_file is not None:
        yield "sip.password_file", cfg.sip.password_file, False
    if cfg.mgc is not None and cfg.mgc.gateway_text is not None:
        yield "mgc.gateway_text", cfg.mgc.gateway_text, False


def _check_input_files(cfg: SiteConfig, base: Path) -> None:
    """ConfigError for a configuration file that is not there, found as the checks find it
    (a relative path is relative to the site file's folder)."""
    for key, written, cwd_first in _input_files(cfg):
        path = written
        if not written.is_absolute() and not (cwd_first and written.exists()):
            path = base / written
        if path.is_file():
            continue
        why = "not a file" if path.exists() else "does not exist"
        where = f"{why}: {path}" if path != written else why
        raise ConfigError(
            f"{cfg.source}: {key}: expected an existing file, got '{written}' ({where})"
        )


def _toml_error(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    msg = str(exc)
    m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
    if m:
        reason = msg[: m.start()].strip()
        return f"{path}:{m.group(1)}:{m.group(2)}: TOML syntax error: {reason}"
    return f"{path}: TOML syntax error: {msg}"


def _secret_fields(cfg: SiteConfig) -> Iterator[tuple[str, Secret]]:
    """Every Secret set in the system sections, with its key ("cm.password"). Secrets are
    only top-level section fields in the schema (tests/foundation pins that)."""
    for name in SYSTEM_SECTIONS:
        section = cfg.section(name)
        if section is None:
            continue
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, Secret):
                yield f"{name}.{f.name}", value


def _plain_secret_warnings(cfg: SiteConfig, source: str, mode: int | None) -> list[str]:
    if mode is None or not mode & (stat.S_IRGRP | stat.S_IROTH):
        return []
    return [
        f"{source}: {key} holds a plain-text secret in a file other users can read; "
        f"use 'env:NAME' or 'file:PATH', or chmod 600 {source}"
        for key, secret in _secret_fields(cfg)
        if secret.is_plain
    ]


def check_secret_references(cfg: SiteConfig) -> None:
    """ConfigError naming the key of the first ``env:`` variable that is not set or ``file:``
    that cannot be opened. Only checks that they resolve: the values are read when used."""
    for key, secret in _secret_fields(cfg):
        problem = secret.problem()
        if problem:
            raise ConfigError(f"{cfg.source}: {key}: {problem}")


def check_timeout_ids(cfg: SiteConfig, known_ids: Iterable[str]) -> None:
    """ConfigError for a ``[timeouts.checks]`` key that is not a registered check's id (the
    registry, plugins included, is known only to the caller, so this is not part of load)."""
    known = list(known_ids)
    for check_id in cfg.timeouts.checks:
        if check_id not in known:
            raise ConfigError(
                f"{cfg.source}: timeouts.checks.{toml_key(check_id)}: unknown check "
                f"(known: {', '.join(known)})"
            )


def to_toml_data(cfg: SiteConfig) -> dict[str, Any]:
    """The config as TOML-ready data (secrets as their references, paths as strings)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {
                f.name: plain(getattr(value, f.name))
                for f in dataclasses.fields(value)
                if getattr(value, f.name) is not None
            }
        if isinstance(value, Secret):
            return str(value)
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    data = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name not in _NOT_KEYS and value is not None:
            data[f.name] = plain(value)
    return data


def template() -> str:
    """A commented site file for ``ecc-doctor init``: every key with its doc and default."""
    lines = [
        "# ecc-doctor site file. Sections you leave out are SKIPped with the reason.",
        "# Secrets are references: 'env:NAME' (an environment variable) or 'file:PATH'.",
        "# Plain-text secrets work but warn when this file is readable by others.",
        "",
    ]
    sections: list[tuple[str, type[Any], bool]] = [("site", SiteInfo, True)]
    sections += [(n, c, False) for n, c in SYSTEM_SECTIONS.items()]
    sections += [("net", NetConfig, True), ("timeouts", TimeoutsConfig, True)]
    for name, cls, active in sections:
        lines.append(f"# {(cls.__doc__ or '').strip()}")
        lines.append(f"[{name}]" if active else f"# [{name}]")
        examples = {f.name: f.metadata.get("example") for f in dataclasses.fields(cls)}
        for key, kind, default, doc in doc_lines(cls):
            lines.append(f"#   {key}: {doc} ({kind})")
            shown = _toml_value(examples[key]) if examples[key] is not None else None
            if default == "(required)":
                lines.append(f"# {key} = {shown or '...'}")
            elif shown is not None:
                lines.append(f"# {key} = {shown}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    """An inline TOML value (a template line must stay one line when uncommented)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def env_override_path() -> Path:
    """The site file path: $ECC_DOCTOR_CONFIG, else ./ecc-doctor.toml."""
    return Path(os.environ.get("ECC_DOCTOR_CONFIG", str(DEFAULT_PATH)))


__all__ = [
    "SYSTEM_SECTIONS",
    "AesConfig",
    "CmConfig",
    "EccConfig",
    "MgcConfig",
    "NetConfig",
    "SftpConfig",
    "SipConfig",
    "SiteConfig",
    "SiteInfo",
    "TimeoutsConfig",
    "check_secret_references",
    "check_timeout_ids",
    "from_mapping",
    "load",
    "template",
    "to_toml_data",
]
