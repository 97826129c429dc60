"""Typed, validated config sections: a dataclass field per key, checked once at load.

A section is a frozen dataclass whose fields carry ``metadata`` made by :func:`setting`:
``doc`` (one line, used by ``ecc-doctor init`` and the docs), and optional ``min``/``max``
(numbers) or ``choices``. :func:`build` turns a TOML table into such a dataclass and raises
:class:`ConfigError` with ``<file>: <key>: expected ..., got ...`` for the first bad value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

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
        return f"a list of {_describe(get_args(tp)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return f"a table of {_describe(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in get_args(tp) if a is not type(None))
    return str(tp)


class _Ctx:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, expected: str, value: Any) -> ConfigError:
        shown = value if not isinstance(value, str) or len(value) < 60 else value[:57] + "..."
        return ConfigError(f"{self.source}: {key}: expected {expected}, got {shown!r}")


def _convert(ctx: _Ctx, key: str, tp: Any, value: Any, meta: Mapping[str, Any]) -> Any:
    origin = get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in get_args(tp) if a is not type(None)]
        errors: list[ConfigError] = []
        for arg in args:
            try:
                return _convert(ctx, key, arg, value, meta)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise ctx.fail(key, _describe(tp), value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ctx.fail(key, "true or false", value)
        return value
    if tp in (int, float):
        ok = isinstance(value, int) if tp is int else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            raise ctx.fail(key, _describe(tp), value)
        lo, hi = meta.get("min"), meta.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ctx.fail(key, f"{_describe(tp)} from {lo} to {hi}", value)
        return tp(value)
    if tp in (str, Path, Secret):
        if not isinstance(value, str) or (tp is not str and not value):
            raise ctx.fail(key, _describe(tp), value)
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ctx.fail(key, "one of " + ", ".join(choices), value)
        if tp is Path:
            return Path(value).expanduser()
        return Secret(value) if tp is Secret else value
    if origin is Literal:
        if value not in get_args(tp):
            raise ctx.fail(key, _describe(tp), value)
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ctx.fail(key, _describe(tp), value)
        (item_tp,) = get_args(tp)
        return [_convert(ctx, f"{key}[{i}]", item_tp, v, meta) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ctx.fail(key, _describe(tp), value)
        _, val_tp = get_args(tp)
        return {str(k): _convert(ctx, f"{key}.{k}", val_tp, v, meta) for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise ctx.fail(key, "a table", value)
        return build(tp, value, source=ctx.source, prefix=key)
    raise ConfigError(f"{ctx.source}: {key}: unsupported setting type {tp!r}")  # a bug of ours


def build(cls: type[T], data: Mapping[str, Any], *, source: str, prefix: str = "") -> T:
    """Validate *data* against the dataclass *cls* and return an instance."""
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
            known = ", ".join(sorted({fl.name for fl in fields.values()}))
            raise ConfigError(f"{source}: unknown key '{dotted}{key}' (known keys: {known})")
        kwargs[f.name] = _convert(ctx, dotted + key, hints[f.name], value, f.metadata)
    for f in keys:
        required = f.default is _MISSING and f.default_factory is _MISSING
        if required and f.name not in kwargs:
            raise ConfigError(
                f"{source}: {dotted}{f.name}: required key is missing ({f.metadata.get('doc', '')})"
            )
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        problem = validate()
        if problem:
            raise ConfigError(f"{source}: {dotted}{problem}")
    return obj


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
