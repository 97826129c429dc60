"""The ``ecc-doctor`` command."""

from __future__ import annotations

import importlib
from typing import Any

import click

from ecc_doctor import __version__

#: Subcommands living in their own modules, imported only when used (keeps start-up fast:
#: scapy and textual are slow to import). name -> "module:attribute" (a click command).
LAZY_COMMANDS: dict[str, str] = {
}


class LazyGroup(click.Group):
    """A click group whose LAZY_COMMANDS are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module_name, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            command: Any = getattr(importlib.import_module(module_name), attr)
            if isinstance(command, click.Command):
                return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ecc-doctor")
def cli() -> None:
    """Verify and diagnose an Avaya Aura site: CM, AES, Breeze ECC, Presence, SIP, H.248."""


def main() -> None:
    cli()
