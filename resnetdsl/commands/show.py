"""``resnetdsl show``: the fully resolved spec as YAML (extends and ``--set`` applied, every default explicit)."""

from __future__ import annotations

import argparse

from resnetdsl.commands import EXIT_OK
from resnetdsl.commands.options import add_set, add_spec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec(parser)
    parser.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    add_set(parser)


def run(args: argparse.Namespace) -> int:
    from resnetdsl.io import write_or_print
    from resnetdsl.show import show

    write_or_print(args.output, show(args.spec))
    return EXIT_OK
