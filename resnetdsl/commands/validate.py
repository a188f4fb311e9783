"""``resnetdsl validate``: check spec files (paths, directories, globs) and print every problem with
``file:line:col``, as text, JSON or GitHub annotations."""

from __future__ import annotations

import argparse
import sys

from resnetdsl.commands import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from resnetdsl.commands.options import SET_HELP, add_set


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", help="files, directories (searched for *.yaml, *.yml) or globs")
    parser.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default=None,
        help="output format (default: github under GitHub Actions, else text)",
    )
    add_set(parser, SET_HELP.replace("after extends", "in every spec, after extends"))


def run(args: argparse.Namespace) -> int:
    """0 when every file is valid, 1 when some file is not, 2 when a path names nothing to check."""
    from resnetdsl.validate import FORMATTERS, Format, UsageError, default_format, escape_data, validate_paths
    from resnetdsl.validate import write_escaped as write

    fmt: Format = args.format or default_format()
    try:
        report = validate_paths(args.paths, getattr(args, "overrides", None), show_progress=True)
    except UsageError as exc:
        for problem in exc.problems:
            write(sys.stderr, f"resnetdsl validate: error: {problem}\n")
            if fmt == "github":
                write(sys.stdout, f"::error title=resnetdsl validate::{escape_data(problem)}\n")
        return EXIT_USAGE
    write(sys.stdout, FORMATTERS[fmt](report))
    return EXIT_OK if report.ok else EXIT_INVALID
