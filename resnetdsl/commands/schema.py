"""``resnetdsl schema``: the JSON Schema of the spec language, on stdout or written atomically to a file."""

from __future__ import annotations

import argparse
import sys

from resnetdsl.commands import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")


def run(args: argparse.Namespace) -> int:
    from resnetdsl.validate import schema_text
    from resnetdsl.validate import write_escaped as write

    text = schema_text()
    if args.output:
        from resnetdsl.io import atomic_write_text

        atomic_write_text(args.output, text)
        write(sys.stderr, f"wrote {args.output}\n")
    else:
        write(sys.stdout, text)
    return EXIT_OK
