"""``resnetdsl summary``: shapes, parameters and MACs from the spec alone (no torch), as a table, JSON, Markdown
or CSV; with ``--batch``, the memory of a training step."""

from __future__ import annotations

import argparse
import sys

from resnetdsl.commands import EXIT_OK
from resnetdsl.commands.options import add_input, add_set, add_spec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec(parser)
    add_input(parser)
    parser.add_argument("--depth", choices=("stage", "block", "layer"), default="block")
    parser.add_argument("--format", choices=("table", "json", "markdown", "csv"), default="table")
    add_set(parser)
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="table only: also the memory a training step at this batch needs (activations kept for backward, "
        "per stage, float32 and bfloat16; parameters, gradients, SGD and Adam state)",
    )


def run(args: argparse.Namespace) -> int:
    """The summary on stdout; warnings on stderr."""
    from resnetdsl.check import check
    from resnetdsl.errors import print_issues
    from resnetdsl.summary import format_summary, summary_of

    analysis = check(args.spec, input_size=args.input, input_name="--input").analysis
    summary = summary_of(analysis)
    sys.stdout.write(format_summary(summary, args.format, args.depth))
    if args.batch:
        from resnetdsl.memory import DTYPE_BYTES, activation_report, format_memory

        reports = {dtype: activation_report(analysis, args.batch, dtype) for dtype in DTYPE_BYTES}
        sys.stdout.write(format_memory(reports))
    print_issues(summary.warnings)
    return EXIT_OK
