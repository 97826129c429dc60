"""Typed, validated config sections: a dataclass field per key, checked once at load.

A section is a frozen dataclass whose fields carry ``metadata`` made by :func:`setting`:
``doc`` (one line, used by ``ecc-doctor init`` and the docs), and optional ``min``/``max``
(numbers) or ``choices``. :func:`build` turns a TOML table into such a dataclass and raises
:class:`ConfigError` with ``<file>: <key>: expected ..., got ...`` for the first bad value.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import json
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from ecc_doctor.errors import ConfigError
from ecc_doctor.secrets import Secret

T = TypeVar("T")
_MISSING = dataclasses.MISSING


def setting(
    default: Any = _MISSING,
    *,
    doc: str,
    min: float | None = None,  # noqa: A002 - mirrors the TOML vocabulary
    max: float | None = None,  # noqa: A002
    choices: tuple[str, ...] | None = None,
    factory: Any = None,
    example: Any = None,
) -> Any:
    """Declare one config key. Without a default the key is required."""
    meta = {"doc": doc, "min": min, "max": max, "choices": choices, "example": example}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    if default is _MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is Path:
        return "a file path (string)"
    if tp is Secret:
        return "a secret reference ('env:NAME' or 'file:PATH')"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin is list:
        return f"a list of {_plural(get_args(tp)[0])}"
    if origin is dict:
        return f"a table of {_plural(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in get_args(tp) if a is not type(None))
    return str(tp)


_PLURALS: dict[Any, str] = {
    str: "strings",
    bool: "true/false values",
    int: "integers",
    float: "numbers",
    Path: "file paths (strings)",
    Secret: "secret references ('env:NAME' or 'file:PATH')",
}


def _plural(tp: Any) -> str:
    """What a list or table of *tp* holds: "integers", "tables of strings"."""
    if tp in _PLURALS:
        return _PLURALS[tp]
    origin = get_origin(tp)
    if origin is list:
        return f"lists of {_plural(get_args(tp)[0])}"
    if origin is dict:
        return f"tables of {_plural(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "tables"
    return f"values of {_describe(tp)}"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(key: str) -> str:
    """*key* as it is written in a dotted TOML key: bare, or quoted when it needs it
    (``timeouts.checks."cm.license"``)."""
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def shown(value: Any) -> str:
    """A value in a message as the site file spells it (``true``, not Python's ``True``);
    strings quoted and cut at 60 characters."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) < 60 else value[:57] + "...")
    if isinstance(value, list):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(str(k))} = {shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return repr(value)


def url_problem(
    key: str, url: str, expected: str = "an http(s):// URL", *, https_only: bool = False
) -> str | None:
    """'key: expected an http(s):// URL ..., got ...' when *url* is not http(s) with a host;
    with *https_only*, plain http:// is refused too (credentials would travel in clear). A
    user name or password in the URL is refused (it would show in every transcript)."""
    if "@" in url:  # before anything that shows the value: it may hold a password
        return f"{key}: expected no user name or password in the URL (use the secret keys; value not shown)"
    if not url.startswith(("https://", "http://")):
        return f"{key}: expected {expected}, got {url!r}"
    if https_only and url.startswith("http://"):
        return (
            f"{key}: expected an https:// URL (over http:// the credentials would travel "
            f"unencrypted), got {url!r}"
        )
    host = urlsplit(url).netloc
    if not host.strip() or host.startswith(":") or any(c.isspace() for c in host):
        return f"{key}: expected {expected} with a host name or address, got {url!r}"
    return None


def host_problem(key: str, value: str, *, empty_ok: bool = False) -> str | None:
    """'key: expected a host name or address, got ...' for an empty or blank host (it would
    only fail later, as a DNS error), or a host with spaces in it; None when it looks usable.
    *empty_ok*: the empty string means something (e.g. "bind every address")."""
    if not value and empty_ok:
        return None
    if not value.strip():
        got = "an empty string" if not value else "a blank string"
        return f"{key}: expected a host name or address, got {got}"
    if any(c.isspace() for c in value):
        return f"{key}: expected a host name or address without spaces, got {value!r}"
    if "[" in value or "]" in value:
        # "[::1]" copied out of a URL would fail later as a DNS error on "[::1]"
        bare = value.strip("[]")
        return f"{key}: write an IPv6 address without brackets ({bare!r}), got {value!r}"
    return None


Key = tuple[str, ...]


class SettingError(ConfigError):
    """A bad value of one key: ``<file>: <detail>``, and where the key is (*key*, the TOML
    key's parts) so that :func:`ecc_doctor.config.load` can say ``<file>:<line>: <detail>``."""

    def __init__(self, source: str, key: Key, detail: str, *, line: int | None = None) -> None:
        super().__init__(f"{source}:{line}: {detail}" if line else f"{source}: {detail}")
        self.source = source
        self.key = key
        self.detail = " ".join(detail.split())


class _Ctx:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, expected: str, value: Any, path: Key = ()) -> ConfigError:
        return SettingError(self.source, path, f"{key}: expected {expected}, got {shown(value)}")


def _convert(
    ctx: _Ctx, key: str, tp: Any, value: Any, meta: Mapping[str, Any], path: Key = ()
) -> Any:
    """*key* as messages show it (``cm.cti_links[0]``), *path* as the TOML key's parts."""
    origin = get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in get_args(tp) if a is not type(None)]
        errors: list[ConfigError] = []
        for arg in args:
            try:
                return _convert(ctx, key, arg, value, meta, path)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise ctx.fail(key, _describe(tp), value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ctx.fail(key, "true or false", value, path)
        return value
    if tp in (int, float):
        ok = isinstance(value, int) if tp is int else isinstance(value, (int, float))
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?[0-9][0-9_.eE+-]*\s*", value):
            raise ctx.fail(key, f"{_describe(tp)} (a number without quotes)", value, path)
        if isinstance(value, bool) or not ok:
            raise ctx.fail(key, _describe(tp), value, path)
        lo, hi = meta.get("min"), meta.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ctx.fail(key, f"{_describe(tp)} from {lo} to {hi}", value, path)
        return tp(value)
    if tp is Secret and not isinstance(value, str):
        # a password written without quotes (a number, a list, a table) is not echoed into
        # the logs the error goes to (QA 4a F3)
        kind = {bool: "true/false", int: "a number", float: "a number", list: "a list"}.get(
            type(value), "a table" if isinstance(value, dict) else type(value).__name__
        )
        raise SettingError(
            ctx.source, path, f"{key}: expected {_describe(tp)}, got {kind} (value not shown)"
        )
    if tp in (str, Path, Secret):
        if not isinstance(value, str) or (tp is not str and not value):
            raise ctx.fail(key, _describe(tp), value, path)
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ctx.fail(key, "one of " + ", ".join(choices), value, path)
        if tp is Path:
            return Path(value).expanduser()
        if tp is Secret:
            return _secret(ctx, key, value, path)
        return value
    if origin is Literal:
        if value not in get_args(tp):
            raise ctx.fail(key, _describe(tp), value, path)
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ctx.fail(key, _describe(tp), value, path)
        (item_tp,) = get_args(tp)
        return [_convert(ctx, f"{key}[{i}]", item_tp, v, meta, path) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ctx.fail(key, _describe(tp), value, path)
        _, val_tp = get_args(tp)
        return {
            str(k): _convert(ctx, f"{key}.{toml_key(str(k))}", val_tp, v, meta, (*path, str(k)))
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise ctx.fail(key, "a table", value, path)
        return build(tp, value, source=ctx.source, prefix=key, path=path)
    raise ConfigError(f"{ctx.source}: {key}: unsupported setting type {tp!r}")  # a bug of ours


def _secret(ctx: _Ctx, key: str, value: str, path: Key) -> Secret:
    for scheme, what in (("env:", "NAME"), ("file:", "PATH")):
        if value.startswith(scheme) and not value[len(scheme) :].strip():
            raise SettingError(
                ctx.source,
                path,
                f"{key}: expected '{scheme}{what}', got an empty reference {shown(value)}",
            )
    return Secret(value)


def build(
    cls: type[T], data: Mapping[str, Any], *, source: str, prefix: str = "", path: Key = ()
) -> T:
    """Validate *data* against the dataclass *cls* and return an instance. *prefix* is the
    section's key as messages show it, *path* its TOML key's parts (for the line number)."""
    ctx = _Ctx(source)
    hints = get_type_hints(cls)
    keys = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]  # type: ignore[arg-type]
    fields = {f.name.replace("_", "-"): f for f in keys}
    fields.update({f.name: f for f in keys})
    dotted = f"{prefix}." if prefix else ""
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        f = fields.get(key)
        if f is None:
            names = sorted({fl.name for fl in fields.values()})
            raise SettingError(source, (*path, key), _unknown(dotted, key, value, names))
        kwargs[f.name] = _convert(ctx, dotted + key, hints[f.name], value, f.metadata, (*path, key))
    for f in keys:
        required = f.default is _MISSING and f.default_factory is _MISSING
        if required and f.name not in kwargs:
            raise SettingError(
                source,
                path,
                f"{dotted}{f.name}: required key is missing ({f.metadata.get('doc', '')})",
            )
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        problem = validate()
        if problem:
            name = re.match(r"[A-Za-z0-9_]*", problem).group()  # type: ignore[union-attr]
            written = next((k for k in data if fields[k].name == name), None)
            where = (*path, written) if written is not None else path
            raise SettingError(source, where, f"{dotted}{problem}")
    return obj


def _unknown(dotted: str, key: str, value: Any, names: list[str]) -> str:
    """'unknown key ...' / 'unknown section [...]', with the closest known name if any."""
    close = difflib.get_close_matches(key.replace("-", "_"), names, n=1, cutoff=0.6)
    if not dotted and isinstance(value, dict):
        if close:
            return f"unknown section [{toml_key(key)}]: did you mean [{close[0]}]?"
        return f"unknown section [{toml_key(key)}] (known sections: {', '.join(names)})"
    if close:
        return f"unknown key '{dotted}{toml_key(key)}': did you mean '{close[0]}'?"
    return f"unknown key '{dotted}{toml_key(key)}' (known keys: {', '.join(names)})"


def doc_lines(cls: type[Any]) -> list[tuple[str, str, str, str]]:
    """(key, type description, default shown, doc) for every field of *cls*."""
    hints = get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not _MISSING:
            default = "" if f.default is None else repr(f.default)
        elif f.default_factory is not _MISSING:
            default = repr(f.default_factory())
        else:
            default = "(required)"
        out.append((f.name, _describe(hints[f.name]), default, str(f.metadata.get("doc", ""))))
    return out
