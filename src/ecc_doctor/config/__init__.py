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
from ecc_doctor.config.positions import Key, key_lines, line_of
from ecc_doctor.config.schema import SettingError, build, doc_lines, toml_key
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
    #: (TOML key's parts, line) of every key in the file, for messages (empty: not a file)
    key_lines: tuple[tuple[Key, int], ...] = field(
        default=(), compare=False, repr=False, metadata={"internal": True}
    )

    def section(self, name: str) -> Any:
        """The section called *name*, or None if absent."""
        return getattr(self, name, None)

    def where(self, *key: str) -> str:
        """``source:line`` of *key* ("cm", "password") when known, else the source."""
        line = line_of(list(self.key_lines), key)
        return f"{self.source}:{line}" if line else self.source


_NOT_KEYS = {"source", "warnings", "is_lab", "key_lines"}


def from_mapping(
    data: dict[str, Any], *, source: str, is_lab: bool = False, mode: int | None = None
) -> SiteConfig:
    """Validate a parsed TOML document. *mode* is the file's permission bits, if a file."""
    cfg = build(SiteConfig, data, source=source)
    warnings = tuple(_plain_secret_warnings(cfg, source, mode))
    return dataclasses.replace(cfg, source=source, warnings=warnings, is_lab=is_lab)


def load(path: Path | str = DEFAULT_PATH, *, require_files: bool = True) -> SiteConfig:
    """Read and validate the site file; ConfigError names the file, line or key.

    Every path in the file (files, captures, ``file:`` secrets) is taken relative to the
    site file's folder and given to the probes as an absolute path; a configuration file
    that must be there (CA, certificate, key, known_hosts, password file, gateway text) and
    is not is a ConfigError. Captures are data that comes and goes: a missing one is an
    ERROR of the check that reads it. *require_files* False skips that test, for the
    commands that read one section of the site file (``mgc``, ``sat parse``, ``im-archive
    parse``): a missing CA of another system does not stop them."""
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
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(path, exc, text)) from exc
    lines = tuple(key_lines(text))
    try:
        cfg = from_mapping(data, source=str(path), mode=mode)
    except SettingError as exc:
        line = line_of(list(lines), exc.key)
        if line is None:
            raise
        raise SettingError(exc.source, exc.key, exc.detail, line=line) from None
    cfg = dataclasses.replace(cfg, key_lines=lines)
    return _resolve_paths(cfg, Path(os.path.abspath(path)).parent, require_files)


#: Path keys that name configuration files, which must exist when the site file loads (what
#: they should be, for the message). known_hosts need not when accept_new_host_key creates it.
_REQUIRED_FILES = {
    "ca_file": "a CA bundle file (PEM)",
    "client_cert": "a certificate file (PEM)",
    "client_key": "a key file (PEM)",
    "callback_cert": "a certificate file (PEM)",
    "callback_key": "a key file (PEM)",
    "key_file": "a private key file",
    "known_hosts": "a known_hosts file",
    "password_file": "an existing file",
    "gateway_text": "an existing file",
}


def _resolve_paths(cfg: SiteConfig, base: Path, require_files: bool = True) -> SiteConfig:
    """*cfg* with every relative path in the system sections (and ``file:`` secret) taken
    relative to *base*, the site file's folder; ConfigError for a required file missing."""
    changes: dict[str, Any] = {}
    for name in SYSTEM_SECTIONS:
        section = cfg.section(name)
        if section is None:
            continue
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            resolved = _rebased(value, base)
            if require_files and f.name in _REQUIRED_FILES and isinstance(value, Path):
                _check_file(cfg, section, (name, f.name), value, resolved)
            if resolved is not value:
                fields[f.name] = resolved
        if fields:
            changes[name] = dataclasses.replace(section, **fields)
    return dataclasses.replace(cfg, **changes) if changes else cfg


def _rebased(value: Any, base: Path) -> Any:
    """*value* (a path, a secret, a list of paths) made relative to *base*; else itself."""
    if isinstance(value, Path):
        return value if value.is_absolute() else base / value
    if isinstance(value, Secret) and str(value).startswith("file:"):
        written = Path(str(value)[5:]).expanduser()
        return value if written.is_absolute() else Secret(f"file:{base / written}")
    if isinstance(value, list) and any(isinstance(v, Path) for v in value):
        return [_rebased(v, base) for v in value]
    return value


def _check_file(cfg: SiteConfig, section: Any, key: Key, written: Path, path: Path) -> None:
    if path.is_file():
        return
    if key[1] == "known_hosts" and not path.exists() and section.accept_new_host_key:
        return  # trust on first use creates it
    why = "not a file" if path.exists() else "does not exist"
    where = f"{why}: {path}" if path != written else why
    hint = ""
    if key[1] == "known_hosts" and not path.exists():
        hint = f"; add the host key with ssh-keyscan, or set {key[0]}.accept_new_host_key = true"
    raise ConfigError(
        f"{cfg.where(*key)}: {'.'.join(key)}: expected {_REQUIRED_FILES[key[1]]}, "
        f"got '{written}' ({where}{hint})"
    )


def _toml_error(path: Path, exc: tomllib.TOMLDecodeError, text: str) -> str:
    msg = str(exc)
    m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
    if m:
        reason = msg[: m.start()].strip()
        line = int(m.group(1))
        lines = text.splitlines()
        if 0 < line <= len(lines) and _bare_word_value(lines[line - 1]):
            reason += " (text values need quotes)"
        return f"{path}:{m.group(1)}:{m.group(2)}: TOML syntax error: {reason}"
    return f"{path}: TOML syntax error: {msg}"


_KEY_VALUE = re.compile(r"""^\s*[A-Za-z0-9_."' -]+?\s*=\s*(?P<value>.*?)\s*$""")


def _bare_word_value(line: str) -> bool:
    """True for ``key = some text`` whose value is unquoted text, not a TOML value
    (``host = 127.0.0.1``, ``name = ACME HQ``)."""
    m = _KEY_VALUE.match(line)
    if not m or not m.group("value") or m.group("value")[0] in "\"'[{":
        return False
    try:
        tomllib.loads(f"x = {m.group('value')}")
    except tomllib.TOMLDecodeError:
        return True
    return False


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
    """ConfigError naming the key of every ``env:`` variable that is not set and ``file:``
    that cannot be opened, all in one message (one run shows them all). Only checks that
    they resolve: the values are read when used."""
    problems = [
        f"{cfg.where(*key.split('.'))}: {key}: {problem}"
        for key, secret in _secret_fields(cfg)
        if (problem := secret.problem())
    ]
    if problems:
        raise ConfigError("; ".join(problems))


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
        "# Relative paths (ca_file, known_hosts, key_file, captures, file: secrets, ...) are",
        "# relative to this file's folder; a CA/cert/key/known_hosts file must exist.",
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
