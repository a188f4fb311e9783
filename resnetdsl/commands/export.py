"""``resnetdsl export``: the network as standalone PyTorch source (no torch needed to write it) or as ONNX."""

from __future__ import annotations

import argparse
import sys

from resnetdsl.commands import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from resnetdsl.commands.options import add_input, add_set, add_spec, seed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec(parser)
    parser.add_argument("--format", choices=("python", "onnx"), required=True)
    parser.add_argument("-o", "--output", default=None, help="output file (python: default stdout)")
    parser.add_argument("--seed", type=seed, default=None, help="onnx: weight seed (0 to 2**63-1)")
    add_input(parser, "onnx: traced input CxHxW (default: the spec's)")
    add_set(parser)


def run(args: argparse.Namespace) -> int:
    """The source on stdout or in ``-o``; ONNX into ``-o``. Warnings go to stderr."""
    from resnetdsl.check import check
    from resnetdsl.errors import print_issues

    checked = check(args.spec, input_size=args.input, input_name="--input")
    print_issues(checked.warnings)
    if args.format == "python":
        from resnetdsl.export.python import to_python
        from resnetdsl.export.settings import refuse_unexported

        try:
            refuse_unexported(checked.plan)
        except ValueError as exc:  # a setting the source cannot carry: refused, not dropped
            print(f"resnetdsl: error: {exc}", file=sys.stderr)
            return EXIT_INVALID
        text = to_python(checked.plan)
        if args.output in (None, "-"):
            sys.stdout.write(text)
            return EXIT_OK
        from resnetdsl.io import atomic_write_text

        atomic_write_text(args.output, text)
    else:
        if args.output in (None, "-"):
            print("resnetdsl: error: --format onnx needs -o FILE", file=sys.stderr)
            return EXIT_USAGE
        from resnetdsl import build_model
        from resnetdsl.export.onnx import to_onnx

        _, h, w = checked.analysis.input_shape
        try:
            to_onnx(build_model(checked.plan, seed=args.seed), args.output, input_size=(h, w))
        except ImportError as exc:
            print(f"resnetdsl: error: ONNX export needs the onnx and onnxscript packages ({exc})", file=sys.stderr)
            return EXIT_INVALID
    print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK
