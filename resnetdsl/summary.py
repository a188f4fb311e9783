"""``resnetdsl summary``: shapes, parameters and MACs of a spec, from the plan alone (no torch).

:func:`summarize` turns a spec into a :class:`Summary` (one row per stage, block and layer, plus totals);
:func:`format_summary` writes it as a table, JSON, Markdown or CSV at stage, block or layer depth.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import field
from typing import TYPE_CHECKING, Any, Literal, get_args

from resnetdsl import plan as P
from resnetdsl.analyze import Analysis, format_shape
from resnetdsl.errors import Issue
from resnetdsl.features import Tap, selected
from resnetdsl.ops import describe
from resnetdsl.receptive import FeatureFacts, feature_facts
from resnetdsl.records import record

if TYPE_CHECKING:
    from resnetdsl.check import InputSize

Depth = Literal["stage", "block", "layer"]
Format = Literal["table", "json", "markdown", "csv"]
DEPTHS: tuple[Depth, ...] = get_args(Depth)
FORMATS: tuple[Format, ...] = get_args(Format)

CONVENTION = "MACs = multiply-accumulates of conv and linear layers; FLOPs ≈ 2 × MACs"


@record
class Row:
    """One line of a summary: a stage (or the stem or head), a block, or a layer."""

    name: str
    """Module path (``layer1.0.conv2``); ``stem`` and ``head`` for the layers before and after the stages."""
    kind: str
    """What it is: ``3 × bottleneck``, ``bottleneck /2, projection``, ``Conv2d 3×3/2``…"""
    depth: Depth
    """The coarsest depth that shows this row: stem, stages and head at ``stage``, blocks at ``block``,
    layers at ``layer``."""
    level: int
    """Nesting level (0: stem, stage, head; 1: block or stem/head layer; 2: block layer)."""
    output_shape: tuple[int, ...]
    """Output without the batch dimension: C, H, W, or (C,) for a vector."""
    params: int
    buffers: int
    macs: int
    acts: int
    trainable_params: int
    """Parameters that require gradients: ``params`` unless the row is ``frozen``."""
    frozen: bool
    """Part of the stem or of the first ``frozen_stages`` stages: no gradients, eval mode in ``model.train()``."""
    eval_norms: int
    """Batch norms (those with running statistics) that ``model.train()`` keeps in eval mode: every one of a
    frozen row, and with ``norm_eval`` every one at all."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "level": self.level,
            "output_shape": list(self.output_shape),
            "params": self.params,
            "buffers": self.buffers,
            "macs": self.macs,
            "acts": self.acts,
            "trainable_params": self.trainable_params,
            "frozen": self.frozen,
            "eval_norms": self.eval_norms,
        }


@record
class Summary:
    """Shapes and costs of one network for one input size.

    Every parameter is trainable except those of the stem and stages that ``frozen_stages`` freezes
    (``non_trainable_params``, exactly what ``requires_grad`` says of the built model); buffers (BatchNorm
    statistics, frozen norms' affine) are counted apart. Each row says the same of its part
    (:attr:`Row.trainable_params`, :attr:`Row.frozen`) and how many batch norms ``model.train()`` keeps in eval
    mode there (:attr:`Row.eval_norms`: a frozen part's, and with ``norm_eval`` all).
    """

    name: str
    input_shape: tuple[int, int, int]
    """C, H, W."""
    output_shape: tuple[int, ...]
    """(num_classes,) with a head; C, H, W of the last feature map for a backbone."""
    rows: tuple[Row, ...]
    """Every row, at layer depth, in build order; :meth:`rows_at` selects a depth."""
    params: int
    trainable_params: int
    non_trainable_params: int
    buffers: int
    """Buffer elements (BatchNorm running mean and variance, batch counters)."""
    macs: int
    """Multiply-accumulates of conv and linear layers for one input (FLOPs ≈ 2 × MACs)."""
    acts: int
    """Elements of every conv output."""
    warnings: tuple[Issue, ...] = ()
    """Legal but wasteful choices for this input size."""
    stage_facts: tuple[FeatureFacts, ...] = ()
    """Per part (``stem`` after its pool, then each stage's output): channels, stride (reduction), dilation,
    theoretical receptive field (:mod:`resnetdsl.receptive`; ``None`` after channel attention)."""
    feature_outputs: tuple[Tap, ...] = ()
    """The maps a multi-scale backbone (``features``) returns, with the same facts; empty otherwise."""
    frozen_stages: int | None = None
    """The spec's ``frozen_stages`` (the stem and this many stages frozen); ``None``: nothing is frozen."""
    norm_eval: bool = False
    """The spec's ``norm_eval``: ``model.train()`` keeps every batch norm in eval mode."""
    analysis: Analysis | None = field(default=None, repr=False, compare=False)
    """The full analysis the summary was made from."""

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    @property
    def frozen(self) -> tuple[str, ...]:
        """Names of the frozen parts (``stem``, ``layer1``, …), in order; empty when nothing is frozen."""
        return tuple(r.name for r in self.rows_at("stage") if r.frozen)

    @property
    def eval_norms(self) -> int:
        """Batch norms that ``model.train()`` keeps in eval mode (those of frozen parts; with ``norm_eval`` all)."""
        return sum(r.eval_norms for r in self.rows_at("stage"))

    def rows_at(self, depth: Depth = "layer") -> tuple[Row, ...]:
        """The rows shown at ``depth`` (``stage``, ``block`` or ``layer``).

        Raises:
            ValueError: ``depth`` is none of those.
        """
        _check_depth(depth)
        keep = DEPTHS[: DEPTHS.index(depth) + 1]
        return tuple(r for r in self.rows if r.depth in keep)

    def __repr__(self) -> str:
        c, h, w = self.input_shape
        return (
            f"<Summary {self.name}: {self.params:,} params, {self.gmacs:.2f} GMACs, {c}×{h}×{w} → "
            f"{tuple(self.output_shape)}, {len(self.rows)} rows, {len(self.warnings)} warnings>"
        )

    def __str__(self) -> str:
        return self.table()

    def table(self, depth: Depth = "block") -> str:
        """The table ``resnetdsl summary`` prints (what ``print(summary)`` shows)."""
        return format_summary(self, "table", depth)

    def to_markdown(self, depth: Depth = "block") -> str:
        """The table as GitHub markdown (``resnetdsl summary --format markdown``)."""
        return format_summary(self, "markdown", depth)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.table())}</pre>"

    def to_dict(self, depth: Depth = "layer") -> dict[str, Any]:
        """Plain data (ints, strings, lists), ready for JSON; each row a flat mapping (``pandas.DataFrame(
        summary.to_dict()["rows"])``)."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "depth": depth,
            "rows": [r.to_dict() for r in self.rows_at(depth)],
            "totals": {
                "params": self.params,
                "trainable_params": self.trainable_params,
                "non_trainable_params": self.non_trainable_params,
                "buffers": self.buffers,
                "macs": self.macs,
                "acts": self.acts,
            },
            "training": {
                "frozen_stages": self.frozen_stages,
                "norm_eval": self.norm_eval,
                "frozen": list(self.frozen),
                "eval_norms": self.eval_norms,
            },
            "backbone": [_facts_dict(f) for f in self.stage_facts],
            "feature_outputs": [t.to_dict() for t in self.feature_outputs],
            "warnings": [w.to_dict() for w in self.warnings],
            "convention": CONVENTION,
        }


def _facts_dict(f: FeatureFacts) -> dict[str, Any]:
    return {k: getattr(f, k) for k in ("name", "channels", "reduction", "dilation", "receptive_field")}


def _check_depth(depth: Any) -> None:
    if depth not in DEPTHS:
        raise ValueError(f"depth must be one of {', '.join(map(repr, DEPTHS))} (got {depth!r})")


# --- building the rows ------------------------------------------------------------------------------


def op_kind(op: P.Op) -> str:
    """Torch layer name of ``op``, with its kernel, stride and groups where it has them (its description's
    :meth:`~resnetdsl.ops.base.OpType.torch_name`).

    Raises:
        KeyError: an op type without a description.
    """
    return describe(op).torch_name(op)


_SHORTCUT_WORDS = {
    "identity": "",
    "projection": ", projection",
    "pad": ", pad",
    "avgpool_projection": ", avgpool projection",
    "none": ", no shortcut",
}


def block_kind(block: P.Block) -> str:
    """``bottleneck /2, projection, SE, group norm``: the kind, stride and shortcut, and what the block adds
    beyond a plain batch-norm block (channel attention, a group norm)."""
    stride = f" /{block.stride}" if block.stride > 1 else ""
    marks = (describe(op).block_mark(op) for op in block.ops())
    extras = list(dict.fromkeys(m for m in marks if m is not None))
    return f"{block.kind}{stride}{_SHORTCUT_WORDS[block.shortcut]}" + "".join(f", {w}" for w in extras)


def batch_norms(op: P.Op) -> int:
    """Batch norms with running statistics in ``op``'s module (the modules ``model.train()`` and ``model.eval()``
    switch): one per batch counter (``num_batches_tracked``) among its state entries; a frozen batch norm has
    none."""
    return sum(1 for e in describe(op).entries(op) if e.name.rpartition(".")[2] == "num_batches_tracked")


def summary_of(a: Analysis) -> Summary:
    """The :class:`Summary` of an analysis."""
    from resnetdsl.summary_rows import Rows

    t = a.totals
    return Summary(
        name=a.plan.name,
        input_shape=a.input_shape,
        output_shape=a.output_shape,
        rows=tuple(Rows(a.plan.norm_eval, a.plan.frozen_stages).of(a)),
        params=t.params,
        trainable_params=t.trainable_params,
        non_trainable_params=t.non_trainable_params,
        buffers=t.buffers,
        macs=t.macs,
        acts=t.acts,
        warnings=a.warnings,
        stage_facts=feature_facts(a.plan),
        feature_outputs=selected(a.plan) if a.plan.out_indices else (),
        frozen_stages=a.plan.frozen_stages,
        norm_eval=a.plan.norm_eval,
        analysis=a,
    )


def summarize(source: Any, input_size: InputSize | None = None) -> Summary:
    """Shapes, parameters and MACs of a network, computed from its spec without torch.

    Args:
        source: a path, YAML text, a mapping, a :class:`~resnetdsl.spec.Spec`, a
            :class:`~resnetdsl.plan.Plan`, or a preset name (``"resnet50"``).
        input_size: the input: ``H`` (square), ``(H, W)`` or ``(C, H, W)``; without channels the spec's channel
            count is kept. Default: the spec's ``input``.

    Returns:
        A :class:`Summary`; write it with :func:`format_summary` or :meth:`Summary.to_dict`.

    Raises:
        SpecError: the spec is invalid, or the input size does not fit the network (the same problems, with the
            same marks, as ``resnetdsl validate`` and every other command report).
        ValueError: ``input_size`` is not of those forms.
    """
    from resnetdsl.check import check

    return summary_of(check(source, input_size=input_size).analysis)


# --- formats ----------------------------------------------------------------------------------------


# A list of integers spread over lines by json.dumps(indent=…); newlines inside strings are escaped, so a
# bare newline after "[" is always structure.
_INT_LIST = re.compile(r"\[\n\s*(-?\d+(?:,\n\s*-?\d+)*)\n\s*\]")

_COLUMNS = ("Name", "Kind", "Output shape", "Params", "MACs")
_TRAINING_COLUMNS = ("Name", "Kind", "Output shape", "Params", "Trainable", "MACs", "Training")
"""With ``frozen_stages`` or ``norm_eval``: what trains, and what ``train()`` keeps in eval mode, per row."""


def _trains_apart(s: Summary) -> bool:
    """Some part does not train as the rest does (``frozen_stages`` or ``norm_eval`` is set)."""
    return s.frozen_stages is not None or s.norm_eval


def _columns(s: Summary) -> tuple[str, ...]:
    return _TRAINING_COLUMNS if _trains_apart(s) else _COLUMNS


def training_cell(r: Row) -> str:
    """How ``model.train()`` leaves the row: ``frozen``, ``3 batch norms in eval`` (a layer: ``in eval``), or ``""``."""
    if r.frozen:
        return "frozen"
    if not r.eval_norms:
        return ""
    if r.depth == "layer":
        return "in eval"
    return f"{r.eval_norms} batch norm{'s' if r.eval_norms > 1 else ''} in eval"


def _cells(s: Summary, r: Row, indent: bool) -> tuple[str, ...]:
    name = "  " * r.level + r.name if indent else r.name
    if not _trains_apart(s):
        return (name, r.kind, format_shape(r.output_shape), f"{r.params:,}", f"{r.macs:,}")
    trainable = f"{r.trainable_params:,}"
    return (name, r.kind, format_shape(r.output_shape), f"{r.params:,}", trainable, f"{r.macs:,}", training_cell(r))


def _totals_lines(s: Summary) -> list[tuple[str, str]]:
    lines = [
        ("Total params", f"{s.params:,} ({s.params / 1e6:.2f} M)"),
        ("Trainable params", f"{s.trainable_params:,}"),
        ("Non-trainable params", f"{s.non_trainable_params:,}"),
    ]
    if s.frozen_stages is not None:
        lines.append(("Frozen", f"{', '.join(s.frozen)} (frozen_stages: {s.frozen_stages})"))
    if _trains_apart(s):
        why = "norm_eval: every one" if s.norm_eval else "those of the frozen parts"
        lines.append(("Batch norms in eval", f"{s.eval_norms:,} in model.train() ({why})"))
    return [
        *lines,
        ("Buffers", f"{s.buffers:,}"),
        ("MACs", f"{s.macs:,} ({s.gmacs:.3f} GMACs)"),
        ("Conv activations", f"{s.acts:,}"),
    ]


def _rf(value: int | None) -> str:
    return "global" if value is None else f"{value:,}"


def _backbone_cells(s: Summary) -> list[tuple[str, ...]]:
    """Stride, dilation and receptive field of the stem and each stage, then of each feature output."""
    rows: list[tuple[str, ...]] = [("Backbone", "Channels", "Stride", "Dilation", "Receptive field")]
    rows += [
        (f.name, str(f.channels), str(f.reduction), str(f.dilation), _rf(f.receptive_field)) for f in s.stage_facts
    ]
    rows += [
        (f"out[{k}] {t.module}", str(t.channels), str(t.reduction), str(t.dilation), _rf(t.receptive_field))
        for k, t in enumerate(s.feature_outputs)
    ]
    return rows


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
        for r in rows
    ]


def _title(s: Summary) -> str:
    return f"{s.name}: input {format_shape(s.input_shape)} → output {format_shape(s.output_shape)}"


def _table(s: Summary, depth: Depth) -> str:
    columns = _columns(s)
    rows = [_cells(s, r, indent=True) for r in s.rows_at(depth)]
    widths = [max(len(c[i]) for c in [columns, *rows]) for i in range(len(columns))]
    right = [c in ("Params", "Trainable", "MACs") for c in columns]

    def line(cells: tuple[str, ...]) -> str:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)]
        return "  ".join(parts).rstrip()

    rule_len = sum(widths) + 2 * (len(widths) - 1)
    out = [_title(s), "=" * rule_len, line(columns), "-" * rule_len]
    out += [line(c) for c in rows]
    out.append("=" * rule_len)
    label_w = max(len(k) for k, _ in _totals_lines(s)) + 1
    out += [f"{(k + ':').ljust(label_w)} {v}" for k, v in _totals_lines(s)]
    out += ["-" * rule_len, *_aligned(_backbone_cells(s)), "-" * rule_len, CONVENTION]
    return "\n".join(out) + "\n"


def _markdown(s: Summary, depth: Depth) -> str:
    out = [f"### {s.name}", "", f"Input {format_shape(s.input_shape)} → output {format_shape(s.output_shape)}.", ""]
    columns = _columns(s)
    out.append("| " + " | ".join(columns) + " |")
    out.append("|" + "".join("--:|" if c in ("Params", "Trainable", "MACs") else ":--|" for c in columns))
    out += ["| " + " | ".join(_cells(s, r, indent=False)) + " |" for r in s.rows_at(depth)]
    total = [f"**{s.params:,}**", *([f"**{s.trainable_params:,}**"] if _trains_apart(s) else []), f"**{s.macs:,}**"]
    tail = " |" if _trains_apart(s) else ""
    out.append(f"| **Total** | | {format_shape(s.output_shape)} | " + " | ".join(total) + f" |{tail}")
    out.append("")
    out += [f"- {k}: {v}" for k, v in _totals_lines(s)]
    cells = _backbone_cells(s)
    out += ["", "| " + " | ".join(cells[0]) + " |", "|:--|" + "--:|" * (len(cells[0]) - 1)]
    out += ["| " + " | ".join(c) + " |" for c in cells[1:]]
    out += ["", CONVENTION + "."]
    return "\n".join(out) + "\n"


_CSV_TRAINING = ("trainable_params", "frozen", "eval_norms")  # last: the earlier columns keep their places


def _csv(s: Summary, depth: Depth) -> str:
    import csv  # only for this format: not at every summary's start

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "kind", "level", "output_shape", "params", "buffers", "macs", "acts", *_CSV_TRAINING])
    for r in s.rows_at(depth):
        shape = format_shape(r.output_shape, "x")
        training = [r.trainable_params, "true" if r.frozen else "false", r.eval_norms]
        w.writerow([r.name, r.kind, r.level, shape, r.params, r.buffers, r.macs, r.acts, *training])
    training = [s.trainable_params, "", s.eval_norms]
    w.writerow(["total", "", "", format_shape(s.output_shape, "x"), s.params, s.buffers, s.macs, s.acts, *training])
    return buf.getvalue()


def format_summary(summary: Summary, fmt: Format = "table", depth: Depth = "block") -> str:
    """Write ``summary`` as ``table``, ``json``, ``markdown`` or ``csv``, showing rows down to ``depth``.

    Table and Markdown write numbers with thousands separators; JSON and CSV write plain integers. The output
    depends only on the summary (no timestamps, no paths), so it can be compared with golden files.
    """
    _check_depth(depth)
    if fmt == "table":
        return _table(summary, depth)
    if fmt == "json":
        text = json.dumps(summary.to_dict(depth), indent=2, ensure_ascii=False)
        return _INT_LIST.sub(lambda m: "[" + ", ".join(n.strip() for n in m[1].split(",")) + "]", text) + "\n"
    if fmt == "markdown":
        return _markdown(summary, depth)
    if fmt == "csv":
        return _csv(summary, depth)
    raise ValueError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")
