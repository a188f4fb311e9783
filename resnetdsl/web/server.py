"""``resnetdsl serve``: the live editor, a small HTTP server of the standard library (``http.server``).

The page (the editor bundle) posts the editor's text to ``/api/check`` after each pause in typing; the answer is
what :func:`resnetdsl.check.check_with_issues` (the one checking path) finds, with the network's model when the
spec is valid. The server is meant for one user on one machine:

* it binds 127.0.0.1 unless told otherwise, and answers only requests whose ``Host`` is its own address
  (``127.0.0.1:PORT``, ``localhost:PORT``), so a web page cannot reach it through DNS rebinding;
* it serves ``/`` and the bundle's files by name, nothing else (no path is ever joined to a folder);
* a POST must be JSON, carry the page's token (so another site's form cannot post) and come from the page's
  own origin; a body over :data:`MAX_BODY` (1 MiB) is refused unread;
* it writes no file, except the served spec on ``/api/save`` when started with ``--write``;
* each connection has a time limit and at most :data:`MAX_WORKERS` are served at once (more get 503 at once),
  so a burst of bad or slow requests cannot stop it answering;
* ``extends`` in the editor may name presets only: the server reads no file a page names.
"""

from __future__ import annotations

import json
import secrets
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from resnetdsl.errors import Issue
from resnetdsl.text import printable

MAX_BODY = 1 << 20
"""Largest request body accepted (bytes)."""
MAX_WORKERS = 16
"""Connections served at once; more are answered 503 right away."""
TIMEOUT_S = 5.0
"""How long a connection may take to send its request."""
SERVED = {"/assets/editor.js": "editor.js", "/assets/style.css": "style.css", "/assets/LICENSES.txt": "LICENSES.txt"}
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


def issue_data(issue: Issue) -> dict[str, Any]:
    d = issue.to_dict()
    d["message"] = printable(issue.message)
    d["path"] = printable(issue.dotted)
    return d


def extends_refusal(data: bytes) -> Issue | None:
    """The editor follows ``extends`` to presets only: an issue on the ``extends`` line for anything else (the
    server reads no file a page names); ``None`` when the text extends a preset, nothing, or does not parse (the
    checker then says why)."""
    from resnetdsl.errors import SpecError
    from resnetdsl.load import parse_yaml, preset_names

    try:
        doc = parse_yaml(data)
    except SpecError:
        return None
    ref = doc.data.get("extends")
    if ref is None or (isinstance(ref, str) and ref in preset_names()):
        return None
    message = (
        "the live editor extends presets only; a spec file is checked by 'resnetdsl validate' (got " + repr(ref) + ")"
    )
    return Issue(("extends",), message, doc.source.mark_for(("extends",)))


def check_text(text: str, *, input_size: Any = None, detail: str = "block") -> dict[str, Any]:
    """What the editor shows for ``text``: the checker's issues and, for a valid spec, the model."""
    from resnetdsl.check import check_with_issues
    from resnetdsl.web.model import network_model

    t0 = time.perf_counter()
    data = text.encode("utf-8", "surrogatepass")
    refused = extends_refusal(data)
    if refused is not None:
        return {"issues": [issue_data(refused)], "model": None, "ms": 0.0}
    checked, issues = check_with_issues(data, input_size=input_size)
    model = network_model(checked.analysis, detail=detail) if checked is not None else None
    return {"issues": [issue_data(i) for i in issues], "model": model, "ms": round((time.perf_counter() - t0) * 1e3, 1)}


DEFAULT_SPEC = "resnet18"
"""What ``resnetdsl serve`` opens without a SPEC."""


def initial_text(spec: str | None) -> tuple[str, Path | None]:
    """The editor's first text, and the file it came from (``None`` for a preset).

    Raises:
        SpecError: ``spec`` is neither a preset nor a readable spec file of at most the loader's size limit.
    """
    import os

    from resnetdsl.errors import SpecError
    from resnetdsl.load import MAX_BYTES, preset_names, preset_path

    name = spec or DEFAULT_SPEC
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


def preset_texts() -> dict[str, str]:
    from resnetdsl.load import preset_names, preset_path

    return {name: preset_path(name).read_text(encoding="utf-8") for name in preset_names()}


class EditorServer(ThreadingHTTPServer):
    """The live editor's server; :meth:`serve_forever` runs it."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        host: str,
        port: int,
        *,
        text: str,
        file: Path | None = None,
        writable: bool = False,
        input_size: Any = None,
        detail: str = "block",
        allow_hosts: tuple[str, ...] = (),
        quiet: bool = True,
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.address_family = family
        super().__init__((host, port), Handler)
        self.text = text
        self.file = file
        self.writable = writable and file is not None
        self.input_size = input_size
        self.detail = detail
        self.quiet = quiet
        self.token = secrets.token_urlsafe(24)
        self.slots = threading.BoundedSemaphore(MAX_WORKERS)
        bound = self.server_address[1]
        self.port = int(bound)
        shown = f"[{host}]" if ":" in host else host
        names = {"127.0.0.1", "localhost", shown, *allow_hosts}
        if host in ("::1", "::"):
            names.add("[::1]")
        self.hosts = frozenset(f"{n}:{self.port}".lower() for n in names)
        self.origins = frozenset(f"http://{h}" for h in self.hosts)
        self.url = f"http://{shown if host not in ('0.0.0.0', '::') else '127.0.0.1'}:{self.port}/"
        self._page: bytes | None = None

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def page(self) -> bytes:
        if self._page is None:
            from resnetdsl.validate import schema_text
            from resnetdsl.web.page import script_json

            config = {
                "text": self.text,
                "presets": preset_texts(),
                "schema": json.loads(schema_text()),
                "token": self.token,
                "writable": self.writable,
                "file": self.file.name if self.file is not None else None,
            }
            self._page = (
                '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                '<title>resnetdsl live editor</title>\n<link rel="icon" href="data:,">\n'
                '<link rel="stylesheet" href="/assets/style.css">\n'
                '</head>\n<body>\n<div id="rd-root"></div>\n'
                f'<script type="application/json" id="rd-config">{script_json(config)}</script>\n'
                '<script src="/assets/editor.js"></script>\n'
                "</body>\n</html>\n"
            ).encode()
        return self._page


class Handler(BaseHTTPRequestHandler):
    server: EditorServer
    timeout = TIMEOUT_S
    server_version = "resnetdsl"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def send(self, status: int, body: bytes, content_type: str, *, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def fail(self, status: HTTPStatus, why: str) -> None:
        body = json.dumps({"error": why}).encode("utf-8")
        self.send(status, body, "application/json", close=True)

    def host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.hosts:
            self.fail(HTTPStatus.MISDIRECTED_REQUEST, "unknown Host; open the address resnetdsl serve printed")
            return False
        return True

    def do_GET(self) -> None:
        if not self.host_ok():
            return
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self.send(HTTPStatus.OK, self.server.page(), "text/html; charset=utf-8")
            return
        name = SERVED.get(path)
        if name is None:
            self.fail(HTTPStatus.NOT_FOUND, "not found")
            return
        from resnetdsl.web.page import asset

        self.send(HTTPStatus.OK, asset(name).encode("utf-8"), TYPES[Path(name).suffix])

    def do_POST(self) -> None:
        if not self.host_ok():
            return
        body = self.read_body()
        if body is None:
            return
        path = urlsplit(self.path).path
        try:
            if path == "/api/check":
                self.send_json(check_text(body["text"], input_size=self.server.input_size, detail=self.server.detail))
            elif path == "/api/save":
                self.save(body["text"])
            else:
                self.fail(HTTPStatus.NOT_FOUND, "not found")
        except Exception as exc:  # a bug: one line to the page, the server goes on
            self.fail(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {printable(str(exc))}")

    def read_body(self) -> dict[str, Any] | None:
        """The request's JSON body ``{"text": …}``, after every check; ``None`` once a refusal is sent."""
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() not in self.server.origins:
            self.fail(HTTPStatus.FORBIDDEN, "cross-origin request")
            return None
        if self.headers.get("X-Resnetdsl-Token") != self.server.token:
            self.fail(HTTPStatus.FORBIDDEN, "missing or wrong token (reload the page)")
            return None
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            self.fail(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the body must be application/json")
            return None
        if self.headers.get("Transfer-Encoding"):
            self.fail(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length, not chunks")
            return None
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.fail(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return None
        if length < 0 or length > MAX_BODY:
            self.fail(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is limited to {MAX_BODY} bytes")
            self.linger()
            return None
        raw = self.rfile.read(length)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.fail(HTTPStatus.BAD_REQUEST, "the body is not JSON")
            return None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            self.fail(HTTPStatus.BAD_REQUEST, 'expected {"text": "…"}')
            return None
        return data

    def linger(self, *, limit: int = 4 * MAX_BODY, seconds: float = 1.0) -> None:
        """After refusing a body unread: drop what the client still sends (at most ``limit`` bytes, for at most
        ``seconds``), so that it reads the refusal instead of a reset connection."""
        self.wfile.flush()
        self.connection.settimeout(0.25)
        deadline = time.monotonic() + seconds
        got = 0
        try:
            while got < limit and time.monotonic() < deadline:
                chunk = self.connection.recv(1 << 16)
                if not chunk:
                    break
                got += len(chunk)
        except OSError:
            pass

    def send_json(self, data: dict[str, Any]) -> None:
        body = json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")
        self.send(HTTPStatus.OK, body, "application/json")

    def save(self, text: str) -> None:
        if not self.server.writable or self.server.file is None:
            self.fail(HTTPStatus.FORBIDDEN, "saving is off (start resnetdsl serve FILE --write)")
            return
        from resnetdsl.io import atomic_write_text

        atomic_write_text(self.server.file, text)
        self.send_json({"file": self.server.file.name})

    def refuse(self) -> None:
        if self.host_ok():
            self.fail(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and POST")

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = refuse
