"""``resnetdsl diff``: what differs between two specs: keys, per-stage numbers, and which tensors of A load into
B (no torch)."""

from __future__ import annotations

import argparse
import sys

from resnetdsl.commands import EXIT_INVALID, EXIT_OK
from resnetdsl.commands.options import SET_HELP, add_input, add_set


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="spec A (the weights' source): file, YAML text or preset name")
    parser.add_argument("b", help="spec B (the target)")
    add_input(parser, "input CxHxW for both (default: each spec's)")
    parser.add_argument("--tensors", action="store_true", help="list every tensor, also those that load as they are")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--html",
        default=None,
        metavar="FILE",
        help="write the visual diff as one HTML page (A and B may then also be timm:NAME, torchvision:NAME or a "
        "checkpoint .pt/.pth/.bin/.safetensors)",
    )
    add_set(parser, SET_HELP.replace("after extends", "on spec B, after extends"))


def run(args: argparse.Namespace) -> int:
    """``--set`` applies to B (:mod:`resnetdsl.cli` wraps ``args.b``)."""
    if args.html:
        return _html(args)
    import json

    from resnetdsl.compare import diff

    d = diff(args.a, args.b, input_size=args.input)
    if args.format == "json":
        sys.stdout.write(json.dumps(d.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(d.format(tensors=args.tensors))
    return EXIT_OK


def _html(args: argparse.Namespace) -> int:
    from resnetdsl.web.diff import diff_page

    try:
        page = diff_page(args.a, args.b, input_size=args.input)
    except (ValueError, FileNotFoundError) as exc:
        print(f"resnetdsl diff: {exc}", file=sys.stderr)
        return EXIT_INVALID
    page.save(args.html)
    print(f"wrote {args.html}")
    return EXIT_OK
