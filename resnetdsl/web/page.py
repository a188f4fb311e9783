"""Self-contained HTML pages: the interactive diagram and the diff, everything inlined, nothing fetched.

A page is one file: the viewer bundle (:mod:`resnetdsl.web.assets`, built from ``frontend/``) and its style
inlined, the network's model as a JSON data block. Its Content-Security-Policy allows only that inline script
(by its hash) and WebAssembly, and no connection at all, so the page works offline and a name such as
``<script>`` in a spec can only ever be text: the model's strings are escaped for the JSON block here, for DOT
and for HTML in the page.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnetdsl.io import atomic_write_text

if TYPE_CHECKING:
    from resnetdsl.analyze import Analysis
    from resnetdsl.render.graph import View

ASSET_NAMES = ("viewer.js", "editor.js", "style.css", "LICENSES.txt", "manifest.json")
"""Every file of the bundle (what the live editor may serve)."""

_UNSAFE_IN_SCRIPT = re.compile("[<>&\u2028\u2029\ud800-\udfff]")


@functools.cache
def asset(name: str) -> str:
    """The text of one bundled asset.

    Raises:
        KeyError: ``name`` is not one of :data:`ASSET_NAMES`.
    """
    if name not in ASSET_NAMES:
        raise KeyError(f"no web asset '{name}'")
    return (resources.files("resnetdsl.web") / "assets" / name).read_text(encoding="utf-8")


def script_json(data: Any) -> str:
    """``data`` as JSON that may stand inside ``<script type="application/json">``: every ``<``, ``>``, ``&``,
    line separator and lone surrogate written as a ``\\uXXXX`` escape, so no text can close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _UNSAFE_IN_SCRIPT.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def offline_document(title: str, blocks: dict[str, Any]) -> str:
    """A whole page: the viewer and its style inlined, one JSON data block per entry of ``blocks``.

    Its policy allows the inline viewer (by hash), WebAssembly and inline styles; nothing is loaded from
    anywhere, not even from the page's own folder.
    """
    script = asset("viewer.js").replace("</script", "<\\/script")
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_csp_hash(script)} 'wasm-unsafe-eval'",
            "style-src 'unsafe-inline'",
            "img-src data: blob:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    data = "\n".join(
        f'<script type="application/json" id="{name}">{script_json(value)}</script>' for name, value in blocks.items()
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="resnetdsl">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{asset('style.css')}</style>\n"
        "</head>\n<body>\n"
        '<div id="rd-root"></div>\n'
        f"{data}\n"
        f"<script>{script}</script>\n"
        "</body>\n</html>\n"
    )


class Page:
    """An HTML page of resnetdsl: shown inline in Jupyter (in a sandboxed frame), written by :meth:`save`."""

    def __init__(self, text: str, name: str = "network") -> None:
        self.text = text
        self.name = name

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<resnetdsl.web.Page {self.name!r}, {len(self.text):,} characters>"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` (atomically: a reader sees the old file or the whole new one)."""
        atomic_write_text(path, self.text)
        return Path(path)

    def _repr_html_(self) -> str:
        # a frame of its own: the page's styles, ids and address (deep links) stay apart from the notebook's
        return (
            '<iframe sandbox="allow-scripts allow-downloads" style="width:100%;height:680px;border:1px solid #ddd"'
            f' srcdoc="{html.escape(self.text, quote=True)}"></iframe>'
        )


def diagram_page(analysis: Analysis, view: View | None = None, *, spec_text: str | None = None) -> Page:
    """The interactive diagram of an analysed plan, opened as ``view`` says (see
    :func:`resnetdsl.web.model.network_model`; default: block level, collapsed in deep stages, top to bottom).

    Args:
        spec_text: the resolved spec, offered for download; ``None``: no spec button.
    """
    from resnetdsl.render.graph import View
    from resnetdsl.web.facts import shown
    from resnetdsl.web.model import network_model

    detail, collapse, rankdir = view or View()
    model = network_model(analysis, detail=detail, collapse=collapse, rankdir=rankdir)
    blocks: dict[str, Any] = {"rd-model": model}
    if spec_text is not None:
        blocks["rd-spec"] = {"text": spec_text}
    name = shown(analysis.plan.name)
    return Page(offline_document(f"{name} · resnetdsl", blocks), name)


def page_of(
    source: Any,
    *,
    detail: str = "block",
    collapse: bool | None = None,
    rankdir: str = "TB",
    input_size: Any = None,
    overrides: Any = None,
) -> Page:
    """The interactive HTML diagram of a spec (a path, YAML text, a mapping, a Spec, a Plan or a preset name):
    one self-contained page with every stage and block opening in place, facts on hover, search, the summary and
    downloads. ``detail`` says what is open at first; ``collapse`` which runs of identical blocks are one ``×N``
    node until opened (``None``: in stages deeper than 8 blocks).

    Raises:
        SpecError: the spec is invalid or the input too small.
        ValueError: an unknown ``detail`` or ``rankdir``.
    """
    from resnetdsl.check import check
    from resnetdsl.render.graph import View

    checked = check(source, input_size=input_size, overrides=overrides)
    spec_text = None
    if checked.spec is not None:
        from resnetdsl.show import resolved, to_yaml

        spec_text = to_yaml(resolved(checked.spec))
    view = View(detail, collapse, rankdir)  # type: ignore[arg-type]  # network_model checks the words
    return diagram_page(checked.analysis, view, spec_text=spec_text)
