"""``resnetdsl build``: build the torch model, print its parameter count and output shape; load a checkpoint
into it or save its state_dict."""

from __future__ import annotations

import argparse
import sys

from resnetdsl.commands import EXIT_INVALID, EXIT_OK
from resnetdsl.commands.options import SEED_HELP, add_input, add_set, add_spec, seed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec(parser)
    add_input(parser)
    parser.add_argument("--seed", type=seed, default=None, help=SEED_HELP)
    parser.add_argument("-o", "--output", default=None, help="save the state_dict to this .pt file")
    parser.add_argument("--print", action="store_true", dest="print_model", help="print the module tree")
    parser.add_argument(
        "--weights",
        default=None,
        help="load a checkpoint (.pt/.pth state dict or .safetensors) into the model and print the report",
    )
    parser.add_argument(
        "--strict", action="store_true", help="with --weights: fail unless every tensor loads (or adapts) exactly"
    )
    add_set(parser)


def run(args: argparse.Namespace) -> int:
    from resnetdsl import build_model, require_torch
    from resnetdsl.check import check
    from resnetdsl.errors import print_issues

    checked = check(args.spec, input_size=args.input, input_name="--input")  # problems fail here, not in torch
    require_torch()
    print_issues(checked.warnings)
    plan = checked.plan
    c, h, w = checked.analysis.input_shape
    model = build_model(plan, seed=args.seed)
    import torch

    if args.weights:
        from resnetdsl.weights import WeightError, load_weights

        try:
            print(load_weights(model, args.weights, strict=args.strict).format())
        except WeightError as exc:
            print(f"resnetdsl: error: --strict: the checkpoint does not fit exactly\n{exc}", file=sys.stderr)
            return EXIT_INVALID
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, c, h, w))
    n = sum(p.numel() for p in model.parameters())
    if args.print_model:
        print(model)
    print(f"{plan.name}: {n:,} parameters; input 1×{c}×{h}×{w} → output {'×'.join(map(str, out.shape))}")
    if args.output:
        _save(model, args.output)
    return EXIT_OK


def _save(model: object, path: str) -> None:
    """The model's state_dict into ``path``, atomically."""
    import io

    import torch

    from resnetdsl.io import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)  # type: ignore[attr-defined]
    atomic_write_bytes(path, buf.getvalue())
    print(f"wrote {path}")
