"""The web pages' command-line arguments and handlers: ``render … -o net.html``, ``diff A B --html FILE`` and
``serve [SPEC]``.

The parser (:func:`resnetdsl.cli.make_parser`) calls :func:`add_render_html`, :func:`add_diff_html` and
:func:`add_serve`; this module imports only the standard library, and each handler imports what it needs when it
runs, so no other command loads the pages, the model or the server.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HTML_SUFFIXES = (".html", ".htm")
DEFAULT_PORT = 8765
DEFAULT_SERVE_SPEC = "resnet18"


def wants_html(args: argparse.Namespace) -> bool:
    """``render`` writes the interactive page: ``--format html``, or ``-o`` ending in ``.html`` without a format."""
    if args.format == "html":
        return True
    return args.format is None and bool(args.output) and str(args.output).lower().endswith(HTML_SUFFIXES)


def add_render_html(parser: argparse.ArgumentParser) -> None:
    """``render``: ``--format html`` (or ``-o net.html``) writes the interactive page; other formats as before."""
    parser.set_defaults(handler=render_main)


def add_diff_html(parser: argparse.ArgumentParser) -> None:
    """``diff``: ``--html FILE`` writes the visual diff; A and B may then also be ``timm:NAME``,
    ``torchvision:NAME`` or a checkpoint file."""
    parser.add_argument(
        "--html",
        default=None,
        metavar="FILE",
        help="write the visual diff as one HTML page (A and B may then also be timm:NAME, torchvision:NAME or a "
        "checkpoint .pt/.pth/.bin/.safetensors)",
    )
    parser.set_defaults(handler=diff_main)


def add_serve(sub: Any, *, input_type: Callable[[str], Any]) -> None:
    """The ``serve`` command."""
    s = sub.add_parser(
        "serve", help="the live editor: YAML with completion and the checker's marks, the diagram as you type"
    )
    s.add_argument(
        "spec", nargs="?", default=None, help=f"spec file or preset name to start from (default: {DEFAULT_SERVE_SPEC})"
    )
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)")
    s.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host is NAME:PORT (repeatable; the default answers 127.0.0.1 and localhost)",
    )
    s.add_argument("--write", action="store_true", help="let the page save its text back to SPEC (a file)")
    s.add_argument("--input", type=input_type, default=None, help="input CxHxW for the shapes (default: the spec's)")
    s.add_argument("--detail", choices=("stage", "block", "layer"), default="block", help="what is open at first")
    s.add_argument("--open", action="store_true", help="open the page in the web browser")
    s.add_argument("--verbose", action="store_true", help="log every request to stderr")
    s.set_defaults(handler=serve_main)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got '{text}'") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {value}")
    return value


# --- handlers ----------------------------------------------------------------------------------------------------


def render_main(args: argparse.Namespace) -> int:
    if not wants_html(args):
        code: int = importlib.import_module("resnetdsl.render").cli_main(args)
        return code
    from resnetdsl.check import check
    from resnetdsl.cli import print_issues
    from resnetdsl.render import safe_filename
    from resnetdsl.show import resolved, to_yaml
    from resnetdsl.web.page import diagram_page

    checked = check(args.spec, input_size=args.input, input_name="--input")
    print_issues(checked.warnings)
    spec_text = to_yaml(resolved(args.spec)) if checked.spec is not None else None
    page = diagram_page(
        checked.analysis, detail=args.detail, collapse=args.collapse, rankdir=args.rankdir, spec_text=spec_text
    )
    path = args.output or f"{safe_filename(checked.plan.name)}.html"
    page.save(path)
    print(f"wrote {path}")
    return 0


def diff_main(args: argparse.Namespace) -> int:
    if not args.html:
        code: int = importlib.import_module("resnetdsl.compare").cli_main(args)
        return code
    from resnetdsl.web.diff import diff_page

    try:
        page = diff_page(args.a, args.b, input_size=args.input)
    except (ValueError, FileNotFoundError) as exc:
        print(f"resnetdsl diff: {exc}", file=sys.stderr)
        return 1
    page.save(args.html)
    print(f"wrote {args.html}")
    return 0


def _initial(spec: str | None) -> tuple[str, Path | None]:
    """The editor's first text, and the file it came from (``None`` for a preset)."""
    from resnetdsl.errors import SpecError
    from resnetdsl.load import MAX_BYTES, preset_names, preset_path

    name = spec or DEFAULT_SERVE_SPEC
    if name in preset_names() and not os.path.isfile(name):
        return preset_path(name).read_text(encoding="utf-8"), None
    path = Path(name)
    if not path.is_file():
        raise SpecError.single(f"'{name}' is neither a preset nor a spec file")
    if path.stat().st_size > MAX_BYTES:
        raise SpecError.single(f"'{name}' is larger than {MAX_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8"), path
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError.single(f"cannot read '{name}': {exc}") from None


def serve_main(args: argparse.Namespace) -> int:
    from resnetdsl.web.server import EditorServer

    text, file = _initial(args.spec)
    if args.write and file is None:
        print("resnetdsl serve: --write needs SPEC to be a file", file=sys.stderr)
        return 2
    try:
        server = EditorServer(
            args.host,
            args.port,
            text=text,
            file=file,
            writable=args.write,
            input_size=args.input,
            detail=args.detail,
            allow_hosts=tuple(args.allow_host),
            quiet=not args.verbose,
        )
    except OSError as exc:
        print(f"resnetdsl serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"resnetdsl serve: {server.url} (Ctrl-C stops)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
