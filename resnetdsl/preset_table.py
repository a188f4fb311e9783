"""``resnetdsl presets``: the bundled presets' table (name, parameters, MACs, input, description).

Each row is what checking the preset gives (:func:`computed_rows`). The table of the bundled presets as they are
is also kept in ``specs/presets.json``, with a checksum of the preset files it was made from, so that listing the
presets does not check fifty-odd specs each time (the command starts in a twentieth of the time): the stored rows
are used only while the checksum matches the files, and ``tests/test_preset_table.py`` keeps them equal to
:func:`computed_rows` (``pytest --accept`` rewrites the file, or ``resnetdsl presets --format json`` output wrapped
as :func:`index_text` does).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

INDEX_NAME = "presets.json"


def computed_rows() -> list[dict[str, Any]]:
    """One row per bundled preset, each from checking it."""
    from resnetdsl.check import check
    from resnetdsl.load import preset_names

    rows = []
    for name in preset_names():
        a = check(name).analysis
        rows.append(
            {
                "name": name,
                "description": a.plan.description,
                "params": a.totals.params,
                "macs": a.totals.macs,
                "input": list(a.input_shape),
            }
        )
    return rows


def presets_checksum() -> int:
    """CRC-32 of the bundled presets: each one's name and bytes, in name order."""
    from resnetdsl.load.presets import preset_dir, preset_names

    folder = preset_dir()
    crc = 0
    for name in preset_names():
        crc = zlib.crc32(name.encode() + b"\0", crc)
        crc = zlib.crc32((folder / f"{name}.yaml").read_bytes(), crc)
    return crc


def index_text(rows: list[dict[str, Any]]) -> str:
    """``specs/presets.json``: the checksum of the presets, and the rows they give, one a line."""
    lines = ",\n".join(f"  {json.dumps(row, ensure_ascii=False)}" for row in rows)
    return f'{{\n "presets_crc32": {presets_checksum()},\n "rows": [\n{lines}\n ]\n}}\n'


def stored_rows() -> list[dict[str, Any]] | None:
    """The rows ``specs/presets.json`` keeps, if it describes the bundled presets as they are."""
    from resnetdsl.load.presets import preset_dir

    try:
        stored = json.loads((preset_dir() / INDEX_NAME).read_text(encoding="utf-8"))
        if stored["presets_crc32"] == presets_checksum():
            rows: list[dict[str, Any]] = stored["rows"]
            return rows
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def preset_rows() -> list[dict[str, Any]]:
    """One row per bundled preset: name, description, parameters, MACs and input (C, H, W)."""
    stored = stored_rows()
    return stored if stored is not None else computed_rows()


def format_presets(rows: list[dict[str, Any]], fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    head = ("name", "params", "GMACs", "input", "description")
    body = [
        (
            r["name"],
            f"{r['params'] / 1e6:.2f}M",
            f"{r['macs'] / 1e9:.2f}",
            "×".join(map(str, r["input"])),
            _short(r["description"]),
        )
        for r in rows
    ]
    if fmt == "markdown":
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---", "---:", "---:", "---", "---"]) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines) + "\n"
    widths = [max(len(row[i]) for row in (head, *body)) for i in range(4)]
    right = (False, True, True, False)

    def line(row: tuple[str, ...]) -> str:
        cells = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row[:4], widths, right, strict=True)]
        return "  ".join([*cells, row[4]]).rstrip()

    return "\n".join([line(head), *(line(row) for row in body)]) + "\n"


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
