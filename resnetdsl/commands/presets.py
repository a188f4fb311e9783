"""``resnetdsl presets``: the bundled presets as a table, JSON or Markdown (or only their names)."""

from __future__ import annotations

import argparse
import sys

from resnetdsl.commands import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--names", action="store_true", help="only the names, one a line")
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")


def run(args: argparse.Namespace) -> int:
    from resnetdsl.load import preset_names

    if args.names:
        sys.stdout.write("".join(f"{n}\n" for n in preset_names()))
        return EXIT_OK
    from resnetdsl.preset_table import format_presets, preset_rows

    sys.stdout.write(format_presets(preset_rows(), args.format))
    return EXIT_OK
