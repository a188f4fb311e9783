"""An analysed plan as the plain data the HTML pages draw: every part, stage, block and layer with its facts.

The page (``frontend/src/graph.js``) turns this model into Graphviz DOT for each expand/collapse state and lays
it out in the browser; nothing about the network is computed there. Per item: its module path, kind, input and
output shapes, parameters, buffers, MACs, stride, dilation, receptive field (:mod:`resnetdsl.receptive`), and
for a layer its ``state_dict`` entries (:func:`resnetdsl.state.state_entries`); a block adds its shortcut.
Words and colours come through :mod:`resnetdsl.web.facts`, so they are the static diagram's. User text is
passed through :func:`~resnetdsl.web.facts.shown` (escapes for what must not be shown raw); the page escapes
it again for DOT and HTML. Nothing here imports torch or graphviz.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from resnetdsl import plan as P
from resnetdsl.analyze import Analysis, BlockInfo, LayerInfo, StageInfo, Totals, format_shape, stride_of
from resnetdsl.ops import describe
from resnetdsl.ops.branches import GATE_COLOR
from resnetdsl.receptive import Field, FieldVisitor
from resnetdsl.render import branches as B
from resnetdsl.render.legend import FROZEN_FILL, FROZEN_LINE, FROZEN_TAG, frozen_notes
from resnetdsl.render.style import SHORTCUT_LABEL_PAD, SHORTCUT_PORTS
from resnetdsl.state import state_entries
from resnetdsl.walk import Part, is_pre_activated, run_block, shortcut_source
from resnetdsl.web import facts as F

MODEL_VERSION = 1
DETAILS = ("stage", "block", "layer")


def _totals(t: Totals) -> dict[str, int]:
    return {"params": t.params, "buffers": t.buffers, "macs": t.macs, "acts": t.acts}


def _rf(x: Field | None) -> int | None:
    return None if x is None or x.whole else x.size


@dataclass
class _Fields:
    """Receptive field and output stride after every layer, block and stage, walked once over the plan."""

    at: dict[str, Field | None] = field(default_factory=dict)

    def ops(self, x: Field, layers: Iterable[LayerInfo]) -> Field:
        for li in layers:
            x = x.through(li.op)
            self.at[li.path] = x
        return x

    def block(self, x: Field, b: BlockInfo) -> Field:
        out = run_block(b.block, x, _Recorder(self.at, f"{b.path}."))
        self.at[b.path] = out
        return out


class _Recorder(FieldVisitor):
    """The receptive-field walk of one block, keeping the field after each of its layers."""

    def __init__(self, at: dict[str, Field | None], prefix: str) -> None:
        self.at = at
        self.prefix = prefix

    def op(self, op: P.Op, x: Field, part: Part) -> Field:
        y = x.through(op)
        self.at[self.prefix + op.name] = y
        return y


def _state_by_layer(plan: P.Plan, layers: Iterable[LayerInfo]) -> dict[str, list[list[Any]]]:
    """``state_dict`` entries grouped by the layer (module path) that holds them, in the built model's order; the
    modules a composite op keeps beside it on the block (Res2Net's ``bns.0``) count as that op's layer."""
    owner: dict[str, str] = {}
    for li in layers:
        owner[li.path] = li.path
        block = li.path[: len(li.path) - len(li.op.name)]
        for part in describe(li.op).beside(li.op):
            owner[block + part.name] = li.path
    out: dict[str, list[list[Any]]] = {}
    for key, shape in state_entries(plan).items():
        module = key
        while "." in module:
            module = module.rpartition(".")[0]
            if module in owner:
                out.setdefault(owner[module], []).append([F.shown(key), list(shape)])
                break
        else:
            raise KeyError(f"web: state entry {key} belongs to no layer of the plan")
    return out


class _Builder:
    def __init__(self, analysis: Analysis, collapse: bool | None) -> None:
        self.a = analysis
        self.plan = analysis.plan
        self.collapse = collapse
        self.fields = _Fields()
        self.state = _state_by_layer(self.plan, analysis.layers())
        self.whole_from: str | None = None

    # -- facts --

    def _layer(self, li: LayerInfo, ident: str) -> dict[str, Any]:
        op = li.op
        name = op.name if li.role in ("pre", "main", "shortcut", "post") else li.path
        x = self.fields.at.get(li.path)
        return {
            "id": ident,
            "path": F.shown(li.path),
            "name": F.shown(name),
            "role": li.role,
            "text": F.op_words(op),
            "kind": F.op_kind(op),
            "fill": F.op_fill(op),
            "in": list(li.in_shape),
            "out": list(li.output_dims),
            "params": li.params,
            "buffers": li.buffers,
            "macs": li.macs,
            "acts": li.acts,
            "stride": stride_of(op),
            "dilation": F.op_dilation(op),
            "rf": _rf(x),
            "jump": x.jump if x is not None else None,
            "frozen": li.frozen,
            "state": self.state.get(li.path, []),
            "branches": B.as_data(inside) if (inside := describe(op).branches(op, li.in_shape)) else None,
        }

    def _ops_part(self, ident: str, title: str, layers: Sequence[LayerInfo], fill: str) -> dict[str, Any]:
        t = Totals.of(layers)
        last = layers[-1]
        x = self.fields.at.get(last.path)
        return {
            "t": "ops",
            "id": ident,
            "path": ident,
            "title": title,
            "lines": F.main_lines(li.op for li in layers),
            "fill": fill,
            "frozen": ident == "stem" and self.plan.frozen(None),
            "kind": title,
            "in": list(layers[0].in_shape),
            "out": list(last.output_dims),
            **_totals(t),
            "stride": _product(stride_of(li.op) for li in layers),
            "dilation": max((F.op_dilation(li.op) for li in layers), default=1),
            "rf": _rf(x),
            "jump": x.jump if x is not None else None,
            "layers": [self._layer(li, f"{ident}_{k}") for k, li in enumerate(layers)],
        }

    def _block(self, i: int, j: int, b: BlockInfo) -> dict[str, Any]:
        blk = b.block
        main = [li for li in b.layers if li.role in ("pre", "main") or (li.role == "post" and not blk.has_add)]
        ops = [li.op for li in main]
        post = [li.op for li in b.layers if li.role == "post"]
        parts = B.main_parts(main, pre_activation=is_pre_activated(blk))
        x = self.fields.at.get(b.path)
        attention = sorted({key for op in blk.ops() if (key := F.legend_key(op)) is not None})
        ident = f"s{i}b{j}"
        return {
            "id": ident,
            "path": F.shown(b.path),
            "index": j,
            "title": F.block_title(blk.kind),
            "kind": F.block_kind(blk),
            "lines": F.main_lines(ops, pre_activation=is_pre_activated(blk)),
            # with a multi-branch op: the node's rows, a line's text or the op's branches (drawn as a table)
            "rows": [{"text": p} if isinstance(p, str) else {"branches": B.as_data(p)} for p in parts]
            if any(not isinstance(p, str) for p in parts)
            else None,
            "pre": is_pre_activated(blk),
            "add": blk.has_add,
            "post": " → ".join(F.op_words(op) for op in post) if blk.has_add else "",
            "shortcut": blk.shortcut,
            "sc": {"style": F.shortcut_style(blk), "text": F.shortcut_words(blk)} if blk.has_add else None,
            "fromPre": shortcut_source(blk) == "pre",
            "attention": attention,
            "channels": [blk.in_channels, blk.mid_channels, blk.out_channels],
            "groups": blk.groups,
            "in": list(b.in_shape),
            "out": list(b.out_shape),
            **_totals(b.totals),
            "stride": blk.stride,
            "dilation": max((F.op_dilation(op) for op in blk.ops()), default=1),
            "rf": _rf(x),
            "jump": x.jump if x is not None else None,
            "layers": [self._layer(li, f"{ident}_{k}") for k, li in enumerate(b.layers)],
        }

    def _stage(self, i: int, st: StageInfo) -> dict[str, Any]:
        s = st.stage
        from resnetdsl.render import block_groups

        runs, start = [], 0
        for group in block_groups(st, self.collapse):
            runs.append([start, len(group)])
            start += len(group)
        uses: dict[str, int] = {}
        for blk in s.blocks:
            uses[blk.shortcut] = uses.get(blk.shortcut, 0) + 1
        shortcuts = ", ".join(f"{n} {use.replace('_', ' ')}" for use, n in uses.items())
        title = F.block_title(s.block_kind)
        head = f"{s.depth} × {title}" + (" · checkpointed" if s.checkpoint else "")
        head += f" · {s.out_channels} ch{F.stride_words(s.stride)} · {F.count(st.totals.params)} params"
        lines = [
            f"{title} ×{s.depth}",
            f"{s.in_channels} → {s.out_channels} ch, stride {s.stride}",
            f"{st.totals.params:,} params · {F.macs(st.totals.macs)}",
            f"shortcuts: {shortcuts}",
        ]
        if s.checkpoint:
            lines.append("activation checkpointing")
        x = self.fields.at.get(st.path)
        return {
            "t": "stage",
            "id": f"s{i}",
            "path": F.shown(st.path),
            "index": i,
            "title": F.shown(s.name),
            "head": head,
            "lines": lines,
            "fill": F.STAGE_FILLS[i % len(F.STAGE_FILLS)],
            "frozen": self.plan.frozen(s.index),
            "kind": F.shown(f"{s.depth} × {s.block_kind}{F.stride_words(s.stride)}"),
            "blockKind": s.block_kind,
            "depth": s.depth,
            "channels": [s.in_channels, s.out_channels],
            "in": list(st.in_shape),
            "out": list(st.out_shape),
            **_totals(st.totals),
            "stride": s.stride,
            "dilation": s.dilation,
            "rf": _rf(x),
            "jump": x.jump if x is not None else None,
            "runs": runs,
            "blocks": [self._block(i, j, b) for j, b in enumerate(st.blocks)],
        }

    # -- the walk --

    def _walk_fields(self) -> None:
        x = self.fields.ops(Field(1, 1), self.a.stem)
        self.fields.at["stem"] = x
        for st in self.a.stages:
            for b in st.blocks:
                x = self.fields.block(x, b)
            self.fields.at[st.path] = x
        x = self.fields.ops(x, self.a.final)
        self.fields.at["final"] = x
        whole = Field(x.size, x.jump, x.dilation, True)  # a global pool: every output sees the whole input
        for li in self.a.head:
            self.fields.at[li.path] = whole
        self.fields.at["head"] = whole

    def build(self, detail: str, rankdir: str) -> dict[str, Any]:
        if detail not in DETAILS:
            raise ValueError(f"detail must be one of {', '.join(DETAILS)}, got '{detail}'")
        if rankdir not in ("TB", "LR"):
            raise ValueError(f"rankdir must be TB or LR, got '{rankdir}'")
        self._walk_fields()
        a, p = self.a, self.plan
        parts: list[dict[str, Any]] = []
        if a.stem:
            parts.append(self._ops_part("stem", "stem", a.stem, "#f7f7f7"))
        parts += [self._stage(i, st) for i, st in enumerate(a.stages)]
        if a.final:
            parts.append(self._ops_part("final", "final", a.final, "#f7f7f7"))
        if a.head:
            parts.append(self._ops_part("head", "head", a.head, "#f7f7f7"))
        shape = a.output_shape
        return {
            "version": MODEL_VERSION,
            "kind": "network",
            "name": F.shown(p.name),
            "description": [F.shown(line) for line in F.description_lines(p.description)],
            "stats": (
                f"{a.totals.params:,} params ({F.count(a.totals.params)}) · {F.macs(a.totals.macs)}"
                f" · input {format_shape(a.input_shape)}"
            ),
            "input": list(a.input_shape),
            "output": {
                "shape": list(shape),
                "text": f"{shape[0]} logits" if p.head else f"features {format_shape(shape)}",
            },
            "totals": {**_totals(a.totals), "trainable": a.totals.trainable_params},
            "rankdir": rankdir,
            "open": _initially_open(parts, detail),
            "parts": parts,
            "taps": self._taps(),
            "legend": {
                "shortcuts": {use: {"text": F.LEGEND_TEXT[use], **style} for use, style in F.SHORTCUT_STYLE.items()},
                "notes": F.legend_notes(),
                "frozen": frozen_notes(p),
                "gate": {"note": B.GATE_NOTE, "ink": GATE_COLOR},
                "frozenLook": {"fill": FROZEN_FILL, "line": FROZEN_LINE, "tag": FROZEN_TAG},
            },
            "look": {
                "font": F.FONT,
                "ink": F.INK,
                "shapeInk": F.SHAPE_INK,
                "shortcutPorts": SHORTCUT_PORTS[rankdir],
                "shortcutPad": SHORTCUT_LABEL_PAD,
            },
            "layout": p.layout,
        }

    def _taps(self) -> list[dict[str, Any]]:
        if not self.plan.out_indices:
            return []
        from resnetdsl.features import selected, taps

        module = taps(self.plan)[0].module
        names = [li.op.name for li in self.a.stem]
        stem_at = max(k for k, n in enumerate(names) if n == module or n.startswith(module + "."))
        out = []
        for k, tap in enumerate(selected(self.plan)):
            out.append(
                {
                    "index": tap.index,
                    "k": k,
                    "module": F.shown(tap.module),
                    "reduction": tap.reduction,
                    "dilation": tap.dilation,
                    "stemLayer": stem_at if tap.index == 0 else None,
                }
            )
        return out


def _product(values: Iterable[int]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _initially_open(parts: list[dict[str, Any]], detail: str) -> list[str]:
    """The ids expanded when the page opens: nothing at stage level, every stage at block level (runs of
    identical blocks stay ×N, as in the static diagram), and every block and part at layer level (a run then
    shows its first block's layers, drawn once)."""
    if detail == "stage":
        return []
    out: list[str] = []
    for part in parts:
        if part["t"] == "stage":
            out.append(part["id"])
            if detail == "layer":
                out += [b["id"] for b in part["blocks"]]
        elif detail == "layer":
            out.append(part["id"])
    return out


def network_model(
    analysis: Analysis, *, detail: str = "block", collapse: bool | None = None, rankdir: str = "TB"
) -> dict[str, Any]:
    """The model of an analysed plan (plain data, ready for JSON).

    Args:
        analysis: the checked analysis (:attr:`resnetdsl.check.Checked.analysis`).
        detail: what is expanded when the page opens (``stage``, ``block`` or ``layer``).
        collapse: which runs of identical blocks are drawn as one ``×N`` node until opened, as
            :func:`resnetdsl.render.block_groups` groups them (``None``: in stages deeper than 8 blocks).
        rankdir: ``TB`` or ``LR``.

    Raises:
        ValueError: an unknown ``detail`` or ``rankdir``.
        KeyError: an op type the renderer's tables do not know.
    """
    return _Builder(analysis, collapse).build(detail, rankdir)
