"""The commands of ``resnetdsl``, one module each, holding its arguments and its handler.

A command's module defines two functions::

    def add_arguments(parser: argparse.ArgumentParser) -> None: ...   # its arguments and flags
    def run(args: argparse.Namespace) -> int: ...                     # its work; returns the exit code

and imports what its work needs inside ``run`` (torch and graphviz only where the command needs them), so that
importing it stays cheap. :data:`COMMANDS` lists the commands in the order ``resnetdsl --help`` shows them, each
with that one line of help and its module: the top-level parser is built from this table alone, and
:mod:`resnetdsl.cli` imports a command's module only when that command runs (``tests/test_commands.py`` pins the
modules each command imports). Flags that several commands share (``--input``, ``--seed``, ``--set``) are in
:mod:`.options`.

- Adding a flag: one ``parser.add_argument`` in the command's ``add_arguments``, read in its ``run``; a row in
  docs/cli.md (a test compares docs/cli.md with the parser).
- Adding a command: a module here with those two functions, and its line in :data:`COMMANDS`; a section in
  docs/cli.md.
- Errors: raise :class:`~resnetdsl.errors.SpecError` (every issue printed, exit 1),
  :class:`~resnetdsl.io.OutputError` or :class:`~resnetdsl.TorchMissing` (one line, exit 1), or return the code;
  :mod:`resnetdsl.cli` maps the exceptions and turns anything else into one line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Protocol

from resnetdsl.records import record

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


@record
class Command:
    """One subcommand: its name, its line in ``resnetdsl --help`` and its module under this package."""

    name: str
    help: str
    module: str


COMMANDS: tuple[Command, ...] = (
    Command("build", "build the torch model and print its parameter count and output shape", "build"),
    Command("summary", "shapes, parameters and MACs from the spec alone (no torch)", "summary"),
    Command("render", "draw the network with Graphviz", "render"),
    Command("export", "write the network as standalone PyTorch source or as ONNX", "export"),
    Command("validate", "check spec files; every problem with file:line:col", "validate"),
    Command("schema", "print or write the JSON Schema of the spec language", "schema"),
    Command("presets", "the bundled presets: description, parameters, GMACs and input size", "presets"),
    Command("show", "the fully resolved spec (extends and --set applied, every default explicit)", "show"),
    Command("diff", "what differs between two specs: keys, per-stage numbers, weight compatibility", "diff"),
    Command("import", "write the spec of a torchvision or timm ResNet (built without weights)", "import_"),
    Command("serve", "the live editor: YAML with completion and the checker's marks, the diagram as you type", "serve"),
    Command(
        "space", "explore a design space: every candidate checked and measured, those under a budget listed", "space"
    ),
)


class CommandModule(Protocol):
    """What a command's module provides."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def command_module(command: Command) -> CommandModule:
    """The module of ``command`` (imported on first use)."""
    module: CommandModule = importlib.import_module(f"{__name__}.{command.module}")
    return module
