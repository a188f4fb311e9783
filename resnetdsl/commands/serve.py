"""``resnetdsl serve``: the live editor on 127.0.0.1 (the server is :mod:`resnetdsl.web.server`)."""

from __future__ import annotations

import argparse
import sys

from resnetdsl.commands import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from resnetdsl.commands.options import add_input

DEFAULT_PORT = 8765


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got '{text}'") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec", nargs="?", default=None, help="spec file or preset name to start from (default: resnet18)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)"
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host is NAME:PORT (repeatable; the default answers 127.0.0.1 and localhost)",
    )
    parser.add_argument("--write", action="store_true", help="let the page save its text back to SPEC (a file)")
    add_input(parser, "input CxHxW for the shapes (default: the spec's)")
    parser.add_argument("--detail", choices=("stage", "block", "layer"), default="block", help="what is open at first")
    parser.add_argument("--open", action="store_true", help="open the page in the web browser")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C (exit 0); a port that cannot be opened is exit 1, ``--write`` without a file exit 2."""
    from resnetdsl.web.server import EditorServer, initial_text

    text, file = initial_text(args.spec)
    if args.write and file is None:
        print("resnetdsl serve: --write needs SPEC to be a file", file=sys.stderr)
        return EXIT_USAGE
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
        return EXIT_INVALID
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
    return EXIT_OK
