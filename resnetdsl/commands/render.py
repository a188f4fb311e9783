"""``resnetdsl render``: draw the network with Graphviz (svg, png, pdf), write its DOT source, or write the
interactive HTML page (:mod:`resnetdsl.web.page`)."""

from __future__ import annotations

import argparse
import sys

from resnetdsl.commands import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from resnetdsl.commands.options import add_input, add_set, add_spec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec(parser)
    parser.add_argument("-o", "--output", default=None, help="output file (format from its extension)")
    parser.add_argument(
        "--format",
        choices=("svg", "png", "pdf", "dot", "html"),
        default=None,
        help="output format (default: from -o's extension, else svg); png is drawn at 96 dpi, shrunk to fit 32,000 px "
        "a side down to half size, and refused beyond (use svg or pdf, or --collapse); html: the interactive page",
    )
    parser.add_argument("--detail", choices=("stage", "block", "layer"), default="block")
    parser.add_argument(
        "--collapse",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw runs of identical blocks once, as ×N, at block and layer level (default: only in stages deeper "
        "than 8 blocks)",
    )
    parser.add_argument("--rankdir", choices=("TB", "LR"), default="TB")
    add_input(parser)
    add_set(parser)


def run(args: argparse.Namespace) -> int:
    """Without ``-o``: ``--format dot`` prints the DOT source to stdout; other formats are written to
    ``<name>.<format>`` (default ``svg``) in the current directory. The analyzer's warnings go to stderr, as
    ``summary`` prints them; a drawing Graphviz cannot make cleanly is an error (exit 1), and nothing is written.
    """
    if _wants_html(args):
        return _html(args)
    from resnetdsl.render.engine import EngineNotFound, RenderError, format_of, safe_filename, write

    try:
        fmt = format_of(args.output, args.format, cli=True) if args.output else (args.format or "svg")
    except ValueError as exc:
        print(f"resnetdsl render: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from resnetdsl.check import check
    from resnetdsl.errors import print_issues
    from resnetdsl.render.graph import dot_of

    checked = check(args.spec, input_size=args.input, input_name="--input")
    print_issues(checked.warnings)
    dg = dot_of(checked.analysis, detail=args.detail, collapse=args.collapse, rankdir=args.rankdir)
    if args.output is None and fmt == "dot":
        sys.stdout.write(dg.source)
        return EXIT_OK
    path = args.output or f"{safe_filename(checked.plan.name)}.{fmt}"
    try:
        write(dg, path, fmt)
    except (EngineNotFound, RenderError) as exc:
        print(f"resnetdsl render: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"wrote {path}")
    return EXIT_OK


HTML_SUFFIXES = (".html", ".htm")


def _wants_html(args: argparse.Namespace) -> bool:
    """The interactive page: ``--format html``, or ``-o`` ending in ``.html`` without a format."""
    if args.format == "html":
        return True
    return args.format is None and bool(args.output) and str(args.output).lower().endswith(HTML_SUFFIXES)


def _html(args: argparse.Namespace) -> int:
    from resnetdsl.check import check
    from resnetdsl.errors import print_issues
    from resnetdsl.render import safe_filename
    from resnetdsl.render.graph import View
    from resnetdsl.show import resolved, to_yaml
    from resnetdsl.web.page import diagram_page

    checked = check(args.spec, input_size=args.input, input_name="--input")
    print_issues(checked.warnings)
    spec_text = to_yaml(resolved(args.spec)) if checked.spec is not None else None
    page = diagram_page(checked.analysis, View(args.detail, args.collapse, args.rankdir), spec_text=spec_text)
    path = args.output or f"{safe_filename(checked.plan.name)}.html"
    page.save(path)
    print(f"wrote {path}")
    return EXIT_OK
