"""The live editor's server and its limits, over real sockets on the loopback address: what it answers, what it
refuses (foreign Host, foreign origin, no token, not JSON, no length, over 1 MiB, other methods, other paths),
that it writes nothing unless asked, and that a burst of bad and slow requests does not stop it answering."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from resnetdsl.web.server import MAX_BODY, MAX_WORKERS, EditorServer, check_text
from resnetdsl.web.server import initial_text as _initial

from .conftest import ROOT


def _start(server: EditorServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EditorServer]:
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))  # whatever it would write, it would write here
    text, _ = _initial("resnet18")
    srv = EditorServer("127.0.0.1", 0, text=text)
    thread = _start(srv)
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
        assert os.listdir(".") == [], "the server wrote a file"
        os.chdir(cwd)


def request(
    srv: EditorServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    host: str | None = None,
    json_body: bool = True,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host if host is not None else f"127.0.0.1:{srv.port}")
    sent = dict(headers or {})
    if method == "POST" and json_body:
        sent.setdefault("Content-Type", "application/json")
        sent.setdefault("X-Resnetdsl-Token", srv.token)
    if body is not None:
        sent.setdefault("Content-Length", str(len(body)))
    for k, v in sent.items():
        conn.putheader(k, v)
    conn.endheaders()
    if body is not None:
        conn.send(body)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def post_check(srv: EditorServer, text: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    status, _, data = request(srv, "POST", "/api/check", json.dumps({"text": text}).encode(), **kw)
    return status, json.loads(data)


def test_the_page_and_its_assets(server: EditorServer) -> None:
    status, headers, body = request(server, "GET", "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    page = body.decode()
    assert server.token in page and '<script src="/assets/editor.js">' in page
    assert "default-src 'none'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
    config = json.loads(page.split('id="rd-config">')[1].split("</script>")[0])
    assert "name: resnet18" in config["text"] and "resnet50" in config["presets"] and config["writable"] is False
    from resnetdsl.validate import export_schema

    assert config["schema"] == export_schema()  # the editor completes from the language's own schema
    for path, kind in (("/assets/editor.js", "text/javascript"), ("/assets/style.css", "text/css")):
        status, headers, body = request(server, "GET", path)
        assert status == 200 and headers["content-type"].startswith(kind) and len(body) > 1000
    assert request(server, "GET", "/assets/LICENSES.txt")[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../page.py",
        "/assets/%2e%2e/page.py",
        "/../../../../etc/passwd",
        "/assets/manifest.json",
        "/resnetdsl/web/server.py",
        "//etc/passwd",
        "/assets/editor.js/",
        "/specs/resnet50.yaml",
    ],
)
def test_nothing_outside_its_own_assets(server: EditorServer, path: str) -> None:
    status, _, body = request(server, "GET", path)
    assert status == 404 and b"root:" not in body


@pytest.mark.parametrize(
    "host", ["evil.example:80", "evil.example", "127.0.0.1", "localhost:1", "", "127.0.0.1.nip.io"]
)
def test_a_foreign_host_header_is_refused(server: EditorServer, host: str) -> None:
    """DNS rebinding: a page of another site that resolves its name to 127.0.0.1 sends its own name as Host."""
    assert request(server, "GET", "/", host=host)[0] == 421
    assert post_check(server, "name: x", host=host)[0] == 421


def test_localhost_is_its_own_name(server: EditorServer) -> None:
    assert request(server, "GET", "/", host=f"localhost:{server.port}")[0] == 200


def test_check_answers_the_checkers_problems_and_the_model(server: EditorServer) -> None:
    status, data = post_check(server, _initial("resnet50")[0].replace("depth: 6,", "depth: 23,"))
    assert status == 200 and data["model"]["totals"]["params"] == 44_549_160 and data["issues"] == []
    status, data = post_check(server, "name: x\nstages:\n  - {depth: 2, widht: 64}\n")
    assert status == 200 and data["model"] is None
    assert {(i["line"], i["col"], i["path"], i["message"]) for i in data["issues"]} == {
        (3, 16, "stages[0].widht", "unknown key 'widht' (did you mean 'width'?)"),
    }


def test_check_is_the_one_checking_path() -> None:
    from resnetdsl.check import check_with_issues

    text = "extends: resnet50\nstages:\n  - {depth: 0, width: 64}\ninput: {size: [8, 8]}\n"
    _, issues = check_with_issues(text.encode())
    assert check_text(text)["issues"] == [{**i.to_dict(), "message": i.message, "path": i.dotted} for i in issues]


def test_extends_follows_presets_only(server: EditorServer, tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("name: base\n")
    status, data = post_check(server, f"extends: {tmp_path / 'base.yaml'}\nname: x\n")
    assert status == 200 and data["model"] is None
    [issue] = data["issues"]
    assert (issue["line"], issue["path"]) == (1, "extends") and "extends presets only" in issue["message"]
    status, data = post_check(server, "extends: resnet18\nhead: {num_classes: 10}\n")
    assert data["model"]["output"]["shape"] == [10]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Resnetdsl-Token": "guess"}, 403),
        ({"Origin": "http://evil.example"}, 403),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ],
)
def test_a_post_must_be_the_pages_own(server: EditorServer, headers: dict[str, str], expected: int) -> None:
    assert post_check(server, "name: x", headers=headers)[0] == expected


def test_the_pages_origin_is_accepted(server: EditorServer) -> None:
    assert post_check(server, "name: x", headers={"Origin": f"http://127.0.0.1:{server.port}"})[0] == 200


def test_bodies_over_a_mebibyte_are_refused_unread(server: EditorServer) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    head = (
        f"POST /api/check HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
        f"X-Resnetdsl-Token: {server.token}\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
    )
    sock.sendall(head.encode())  # and not one byte of the body: the answer must not wait for it
    answer = sock.recv(4096).decode()
    sock.close()
    assert answer.startswith("HTTP/1.1 413")
    big = json.dumps({"text": "#" * MAX_BODY}).encode()
    assert request(server, "POST", "/api/check", big)[0] == 413
    exactly = json.dumps({"text": "#" * (MAX_BODY - 20)}).encode()
    assert len(exactly) <= MAX_BODY and request(server, "POST", "/api/check", exactly)[0] == 200


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (b"{not json", {}, 400),
        (b'{"text": 3}', {}, 400),
        (b"[1, 2]", {}, 400),
        (b"\xff\xfe", {}, 400),
        (None, {}, 411),
        (b"{}", {"Content-Length": "-1"}, 413),
        (b"{}", {"Content-Length": "lots"}, 411),
        (b"{}", {"Transfer-Encoding": "chunked"}, 411),
    ],
)
def test_malformed_posts(server: EditorServer, body: bytes | None, headers: dict[str, str], expected: int) -> None:
    assert request(server, "POST", "/api/check", body, headers)[0] == expected


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"])
def test_only_get_and_post(server: EditorServer, method: str) -> None:
    assert request(server, method, "/")[0] == 405


def test_it_writes_no_file_unless_asked(server: EditorServer, tmp_path: Path) -> None:
    status, _, body = request(server, "POST", "/api/save", json.dumps({"text": "name: x\n"}).encode())
    assert status == 403 and b"--write" in body


def test_with_write_it_saves_the_served_file_only(tmp_path: Path) -> None:
    spec = tmp_path / "mine.yaml"
    spec.write_text("extends: resnet18\n")
    srv = EditorServer("127.0.0.1", 0, text=spec.read_text(), file=spec, writable=True)
    thread = _start(srv)
    try:
        status, _, body = request(srv, "POST", "/api/save", json.dumps({"text": "extends: resnet34\n"}).encode())
        assert status == 200 and json.loads(body) == {"file": "mine.yaml"}
        assert spec.read_text() == "extends: resnet34\n" and sorted(os.listdir(tmp_path)) == ["mine.yaml"]
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def _bad(srv: EditorServer, k: int) -> None:
    """One of several kinds of bad request; errors of the client side are expected and ignored."""
    try:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=3)
        kind = k % 6
        if kind == 0:
            s.sendall(b"\x00\xff garbage \r\n\r\n")
        elif kind == 1:
            s.sendall(
                f"POST /api/check HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nContent-Length: 99999999\r\n\r\n".encode()
            )
        elif kind == 2:
            s.sendall(b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        elif kind == 3:
            s.sendall(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
        elif kind == 4:
            s.sendall(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n")
        else:
            s.sendall(f"POST /api/check HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n".encode())  # and stall
            time.sleep(0.5)
        with contextlib.suppress(OSError):
            s.recv(1024)
        s.close()
    except OSError:
        pass


def test_a_burst_of_bad_requests_does_not_stop_it_answering(server: EditorServer) -> None:
    stalled = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(MAX_WORKERS // 2)]
    try:
        with ThreadPoolExecutor(max_workers=24) as pool:
            list(pool.map(lambda k: _bad(server, k), range(240)))
        t0 = time.monotonic()
        status, data = post_check(server, "extends: resnet18\n")
        assert status == 200 and data["model"]["name"] == "resnet18"
        assert time.monotonic() - t0 < 5
    finally:
        for s in stalled:
            s.close()
    assert request(server, "GET", "/")[0] == 200


def _other_address() -> str | None:
    """An address of this machine other than the loopback one, if it has one (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
        except OSError:
            return None
        addr: str = s.getsockname()[0]
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


def test_serve_binds_the_loopback_address_by_default_and_says_where() -> None:
    # faulthandler: should the server not stop, SIGABRT makes it print every thread's stack (see the end)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "resnetdsl", "serve", "resnet18", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("resnetdsl serve: http://127.0.0.1:") and line.endswith("/ (Ctrl-C stops)\n"), line
        port = int(line.split(":")[3].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        conn.close()
        other = _other_address()
        if other is not None:  # not on another address of this machine
            with pytest.raises(OSError):
                socket.create_connection((other, port), timeout=1).close()
    finally:
        proc.send_signal(2)  # Ctrl-C
        # a liveness bound, not a timing: in a fresh checkout without byte-code, on a loaded machine, the thread
        # that built the page may still hold the interpreter for seconds before the main thread sees the signal
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.send_signal(6)  # SIGABRT: faulthandler writes each thread's stack to stderr, then the process dies
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"serve did not stop within 60 s of Ctrl-C; its threads:\n{err}")
        assert code == 0, proc.communicate(timeout=30)[1]


def test_serve_refuses_what_it_cannot_serve(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from resnetdsl.cli import main

    assert main(["serve", str(tmp_path / "none.yaml")]) == 1
    assert "neither a preset nor a spec file" in capsys.readouterr().err
    assert main(["serve", "resnet18", "--write"]) == 2
    assert "--write needs SPEC to be a file" in capsys.readouterr().err
