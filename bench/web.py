"""The interactive pages in headless Chromium: page size and first drawing, live-editor latency.

    PYTHONPATH=. .venv/bin/python bench/web.py [--repeats 7] [--model cifar_resnet1202] [--editor resnet50]

Needs Debian's ``chromium`` and Playwright (the test extra), as the browser tests do.

* Page: the size of ``render MODEL -o net.html`` (target ≤ 5 MB for cifar_resnet1202), and the time from the
  start of loading the file to its first drawing on screen (Graphviz compiled, the layout done, the SVG in the
  page; target ≤ 2 s), each in a fresh browser page; median of the runs.
* Editor: ``resnetdsl serve EDITOR`` in process, the page open with its stages open (the default); one edit
  (stage 3's depth 6 → 23, then back) until the drawing, the summary and the problems show the new spec. Two
  figures: from the edit, which includes the editor's pause of 150 ms before it sends the text, and from the
  end of that pause (target ≤ 300 ms); with the server's share (check + model). Median of the runs.

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import launched, missing  # noqa: E402

PAGE_MAX_BYTES = 5_000_000
FIRST_DRAW_MAX_S = 2.0
EDIT_MAX_S = 0.3
PAUSE_S = 0.150
"""The editor's pause before it checks (frontend/src/editor.js)."""


def bench_page(browser: object, model: str, repeats: int) -> tuple[int, float]:
    from resnetdsl.web.page import page_of

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{model}.html"
        page_of(model).save(path)
        size = path.stat().st_size
        times = []
        for _ in range(repeats):
            context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
            page = context.new_page()
            page.goto(path.as_uri())
            page.wait_for_selector("#rd-root[data-ready='1']", timeout=60_000)
            times.append(float(page.get_attribute("#rd-root", "data-first-draw-ms")) / 1e3)
            context.close()
    return size, statistics.median(times)


EDIT = """async ([find, replace]) => {
    const ed = window.resnetdsl.editor;
    const done = new Promise((resolve) =>
        ed.root.addEventListener("rd-checked", (e) => resolve([performance.now(), e.detail.serverMs]), { once: true }));
    const t0 = performance.now();
    const v = ed.view;
    const i = v.state.doc.toString().indexOf(find);
    v.dispatch({ changes: { from: i, to: i + find.length, insert: replace } });
    const [t1, server] = await done;
    return [(t1 - t0) / 1e3, server / 1e3, document.querySelector("[data-total=params]").textContent];
}"""


def bench_editor(browser: object, model: str, repeats: int) -> tuple[float, float, float]:
    from resnetdsl.web.server import EditorServer
    from resnetdsl.web.server import initial_text as _initial

    text, _ = _initial(model)
    server = EditorServer("127.0.0.1", 0, text=text)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        context = browser.new_context(viewport={"width": 1500, "height": 900})  # type: ignore[attr-defined]
        page = context.new_page()
        page.goto(server.url)
        page.wait_for_selector("#rd-root[data-checked]", timeout=60_000)
        page.wait_for_selector(".rd-view .rd-canvas svg")
        totals, servers = [], []
        edits = [("{depth: 6,", "{depth: 23,"), ("{depth: 23,", "{depth: 6,")]
        page.evaluate(EDIT, list(edits[0]))  # warm-up: the first layout of a new size
        page.evaluate(EDIT, list(edits[1]))
        for k in range(repeats):
            total, server_s, shown = page.evaluate(EDIT, list(edits[k % 2]))
            assert shown in ("25,557,032", "44,549,160"), shown
            totals.append(total)
            servers.append(server_s)
            time.sleep(0.2)
        context.close()
    finally:
        server.shutdown()
        server.server_close()
    total = statistics.median(totals)
    return total, total - PAUSE_S, statistics.median(servers)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--model", default="cifar_resnet1202", help="preset whose HTML page is measured")
    ap.add_argument("--editor", default="resnet50", help="preset edited in the live editor")
    args = ap.parse_args()
    why = missing()
    if why:
        print(f"bench/web.py: {why}", file=sys.stderr)
        return 2
    ok = True
    with launched() as browser:
        size, first = bench_page(browser, args.model, args.repeats)
        met = size <= PAGE_MAX_BYTES and first <= FIRST_DRAW_MAX_S
        ok &= met
        print(
            f"{args.model} page: {size / 1e6:.2f} MB (≤ {PAGE_MAX_BYTES / 1e6:.0f} MB), first drawing {first:.2f} s "
            f"(≤ {FIRST_DRAW_MAX_S:.0f} s), median of {args.repeats}: {'ok' if met else 'MISSED'}"
        )
        total, after, server_s = bench_editor(browser, args.editor, args.repeats)
        met = after <= EDIT_MAX_S
        ok &= met
        print(
            f"{args.editor} live edit → drawn: {total * 1e3:.0f} ms from the keystroke, {after * 1e3:.0f} ms after "
            f"the {PAUSE_S * 1e3:.0f} ms pause (≤ {EDIT_MAX_S * 1e3:.0f} ms; server {server_s * 1e3:.0f} ms), "
            f"median of {args.repeats}: {'ok' if met else 'MISSED'}"
        )
    print(json.dumps({"page_bytes": size, "first_draw_s": first, "edit_s": total, "after_pause_s": after}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
