"""The ``resnetdsl`` command line: build the top-level parser, run the chosen command, map its errors to exit
codes. No logic of its own.

Each command lives in its own module under :mod:`resnetdsl.commands` (its arguments and its handler); this module
imports only the one that runs, so ``validate``, ``summary`` or ``render`` never import torch, nor one another.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Collection, Sequence

from resnetdsl import TorchMissing
from resnetdsl.commands import COMMANDS, EXIT_INVALID, EXIT_OK, EXIT_USAGE, command_module
from resnetdsl.errors import Issue, SpecError, print_issues
from resnetdsl.io import OutputError

__all__ = ["EXIT_INVALID", "EXIT_OK", "EXIT_USAGE", "main", "make_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def make_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser of ``resnetdsl``, with the arguments of every command, or only of those named in ``commands``
    (the others are listed, with their help line, but their modules are not imported)."""
    from resnetdsl import __version__

    p = _Parser(prog="resnetdsl", description="Describe a ResNet in YAML; build, analyse, draw and check it.")
    p.add_argument("--version", action="version", version=f"resnetdsl {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        parser = sub.add_parser(command.name, help=command.help)
        if commands is None or command.name in commands:
            module = command_module(command)
            module.add_arguments(parser)
            parser.set_defaults(handler=module.run)
    return p


def _named_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option (the top level takes no values)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _overrides(args: argparse.Namespace) -> None:
    """``--set`` strings → overrides, wrapped around the spec argument so that every command's checking path
    applies them (``args.overrides`` for commands that check several specs)."""
    sets = getattr(args, "set", None)
    if not sets:
        return
    from resnetdsl.load import Overridden, parse_set

    found: list[Issue] = []
    items = []
    for text in sets:
        try:
            items.append(parse_set(text))
        except SpecError as exc:
            found += exc.issues
    if found:
        raise SpecError(found)
    args.overrides = tuple(items)
    for attr in ("spec", "b"):
        if hasattr(args, attr):
            setattr(args, attr, Overridden(getattr(args, attr), args.overrides))


_PLUGINS = "pydantic.plugin._loader"


def _without_pydantic_plugins() -> None:
    """Let pydantic find no plugins in this process, as ``PYDANTIC_DISABLE_PLUGINS=__all__`` does, without the
    search: finding them reads the metadata of every installed package (``importlib.metadata``), a tenth of a
    command's start. Plugins observe an application's validations; a command that checks spec files has none
    to observe. Setting ``PYDANTIC_DISABLE_PLUGINS`` (any value, even empty) leaves the search to pydantic.

    pydantic asks its loader module for ``get_plugins`` alone; this one answers that, and takes any other name
    from the real module."""
    if "PYDANTIC_DISABLE_PLUGINS" in os.environ or _PLUGINS in sys.modules:
        return
    import types

    def real(name: str) -> object:
        if name.startswith("__"):  # what the import system asks a module (__path__, …): this one has none
            raise AttributeError(name)
        import importlib.util
        from importlib.machinery import PathFinder

        found = PathFinder.find_spec(_PLUGINS, sys.modules["pydantic.plugin"].__path__)
        if found is None or found.loader is None:
            raise AttributeError(name)
        module = importlib.util.module_from_spec(found)
        found.loader.exec_module(module)
        sys.modules[_PLUGINS] = module
        return getattr(module, name)

    stub = types.ModuleType(_PLUGINS, "pydantic's plugin loader, answering that there are none (resnetdsl.cli)")
    stub.get_plugins = tuple  # type: ignore[attr-defined]
    stub.__getattr__ = real  # type: ignore[method-assign]
    sys.modules[_PLUGINS] = stub


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resnetdsl`` command. Returns the exit code."""
    _without_pydantic_plugins()
    words = list(sys.argv[1:] if argv is None else argv)
    named = _named_command(words)
    args = make_parser(() if named is None else (named,)).parse_args(words)
    try:
        _overrides(args)
        code: int = args.handler(args)
        return code
    except SpecError as exc:
        print_issues(exc.issues)
        return EXIT_INVALID
    except (OutputError, TorchMissing) as exc:
        print(f"resnetdsl: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug, or an environment problem: one line, not a traceback
        if os.environ.get("RESNETDSL_DEBUG"):
            raise
        print(f"resnetdsl: error: {type(exc).__name__}: {exc} (set RESNETDSL_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
