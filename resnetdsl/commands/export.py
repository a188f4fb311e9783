"""``resnetdsl export``: the network as standalone PyTorch source (no torch needed to write it) or as ONNX, with
random weights (``--seed``) or a trained checkpoint (``--weights``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnetdsl.commands import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from resnetdsl.commands.options import add_input, add_set, add_spec, seed

if TYPE_CHECKING:
    from resnetdsl.plan import Plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec(parser)
    parser.add_argument("--format", choices=("python", "onnx"), required=True)
    parser.add_argument("-o", "--output", default=None, help="output file (python: default stdout)")
    parser.add_argument("--seed", type=seed, default=None, help="onnx: weight seed (0 to 2**63-1)")
    add_input(parser, "onnx: traced input CxHxW (default: the spec's)")
    parser.add_argument(
        "--weights", default=None, help="checkpoint to load strictly (python: written beside -o, as .pt)"
    )
    add_set(parser)


def run(args: argparse.Namespace) -> int:
    """The source on stdout or in ``-o``; ONNX into ``-o``; with ``--weights``, the checkpoint loaded strictly
    (the ONNX file holds it; beside the source it is written as ``.pt``). Warnings go to stderr."""
    from resnetdsl.check import check
    from resnetdsl.errors import print_issues

    checked = check(args.spec, input_size=args.input, input_name="--input")
    print_issues(checked.warnings)
    if args.format == "python":
        from resnetdsl.export.settings import refuse_unexported

        try:
            refuse_unexported(checked.plan)
        except ValueError as exc:  # a setting the source cannot carry: refused, not dropped
            print(f"resnetdsl: error: {exc}", file=sys.stderr)
            return EXIT_INVALID
    weights = args.weights
    if args.output in (None, "-") and (args.format == "onnx" or weights):
        print(f"resnetdsl: error: {'--weights' if weights else '--format onnx'} needs -o FILE", file=sys.stderr)
        return EXIT_USAGE
    model = None
    if args.format == "onnx" or weights:
        from resnetdsl.export.checkpoint import CheckpointError, model_to_export

        try:
            model = model_to_export(checked.plan, seed=args.seed, weights=weights)
        except CheckpointError as exc:
            print(f"resnetdsl: error: --weights: {exc}", file=sys.stderr)
            return EXIT_INVALID
    if args.format == "python":
        return _python(checked.plan, args.output, model)
    from resnetdsl.export.onnx import to_onnx

    _, h, w = checked.analysis.input_shape  # the spec's input, or --input
    assert model is not None
    try:
        to_onnx(model, args.output, input_size=(h, w))
    except ImportError as exc:
        print(f"resnetdsl: error: ONNX export needs the onnx package ({exc})", file=sys.stderr)
        return EXIT_INVALID
    print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _python(plan: Plan, output: str | None, model: Any) -> int:
    """The source on stdout or in ``output``; the weights of ``model`` (when given) first, beside it as ``.pt``,
    so that a failure leaves no source without them."""
    from resnetdsl.export.python import to_python

    text = to_python(plan)
    if output in (None, "-"):
        sys.stdout.write(text)
        return EXIT_OK
    from resnetdsl.io import atomic_write_text

    if model is not None:
        from resnetdsl.export.checkpoint import state_path, write_state

        if state_path(output) == Path(output):
            print(
                "resnetdsl: error: with --weights, -o names the .py file (the weights go beside it, .pt)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        write_state(model, state_path(output))
        print(f"wrote {state_path(output)}", file=sys.stderr)
    atomic_write_text(output, text)
    print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK
