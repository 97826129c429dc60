"""Every command's option help reads alike (QA session 5 #18): a capitalised sentence, or a
literal the user types first (``user:password lines: ...``, ``tcp: ...``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click

from ecc_doctor.cli import cli


def _options(cmd: click.Command, name: str, ctx: click.Context) -> Iterator[tuple[str, str]]:
    if isinstance(cmd, click.Group):
        for sub in cmd.list_commands(ctx):
            found = cmd.get_command(ctx, sub)
            assert found is not None, sub
            yield from _options(found, f"{name} {sub}", ctx)
        return
    for param in cmd.params:
        if isinstance(param, click.Option) and param.help:
            yield f"{name} {param.opts[0]}", param.help


def _plain(text: str) -> str:
    """The help without an area tag such as ``(mgc) ``."""
    return re.sub(r"^\(\w+\) ", "", text)


def test_option_help_starts_with_a_capital_or_a_literal() -> None:
    ctx = click.Context(cli)
    options = list(_options(cli, "ecc-doctor", ctx))
    assert len(options) > 40  # every command was walked (the lazy ones too)
    odd = [
        f"{where}: {text[:40]!r}"
        for where, text in options
        if not (_plain(text)[0].isupper() or ":" in _plain(text).split()[0])
    ]
    assert odd == []
