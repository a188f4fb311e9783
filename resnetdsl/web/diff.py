"""The diff page (``resnetdsl diff A B --html out.html``): two networks drawn side by side, what differs marked.

Either side is a spec, a preset, ``timm:NAME`` / ``torchvision:NAME`` (imported with
:func:`resnetdsl.importer.spec_from_model`, built without weights) or a checkpoint file (its state_dict, read by
:func:`resnetdsl.weights.read_state`, drawn as a list of tensors against the other side's). Stages are aligned by
position, blocks by position within their stage, layers by their module name within their block; a difference
in kind, width, stride, dilation, shortcut, attention, norm or activation is a reason shown on the item. Every
tensor is coloured by what :func:`resnetdsl.load_weights` would do loading A into B (the rule is
:func:`resnetdsl.weights.fit.match_state`; for two networks :func:`resnetdsl.weights.fit.predict`). Torch is
imported only for a ``timm:``/``torchvision:`` side or a checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from resnetdsl import plan as P
from resnetdsl.analyze import Analysis, BlockInfo, LayerInfo, StageInfo, Totals
from resnetdsl.check import Checked, check
from resnetdsl.state import Shape, classifier_keys, input_conv_key, state_entries
from resnetdsl.web import facts as F
from resnetdsl.weights.fit import STATUSES, WeightReport, match_state, predict

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")
"""Files read as checkpoints (anything else is a spec)."""


@dataclass
class Side:
    """One side of a diff: a checked network, or a checkpoint's tensors."""

    label: str
    kind: str
    """``spec``, ``preset``, ``timm``, ``torchvision`` or ``checkpoint``."""
    checked: Checked | None
    shapes: dict[str, Shape]


def is_checkpoint(arg: Any) -> bool:
    return isinstance(arg, str | os.PathLike) and os.fspath(arg).lower().endswith(CHECKPOINT_SUFFIXES)


def resolve_side(arg: Any, *, input_size: Any = None) -> Side:
    """A diff side from what the command line or the API was given (``--set`` on it already wrapped in).

    Raises:
        SpecError: a spec is invalid.
        ValueError: an unknown ``timm:``/``torchvision:`` name, ``--set`` on a checkpoint or an import.
        FileNotFoundError: no such checkpoint file.
    """
    from resnetdsl.load import Overridden, preset_names

    source, overrides = (arg.source, arg.overrides) if isinstance(arg, Overridden) else (arg, ())
    if isinstance(source, str) and source.startswith(("timm:", "torchvision:")):
        from resnetdsl.importer import model_from_ref, spec_from_model

        lib, _, name = source.partition(":")
        spec = spec_from_model(model_from_ref(source), name=name)
        checked = check(spec, input_size=input_size, overrides=overrides or None)
        return Side(source, lib, checked, state_entries(checked.plan))
    if is_checkpoint(source):
        if overrides:
            raise ValueError("--set applies to a spec, not to a checkpoint")
        from resnetdsl.weights import read_state

        state, name = read_state(os.fspath(source))
        return Side(name, "checkpoint", None, {k: tuple(v.shape) for k, v in state.items()})
    checked = check(arg, input_size=input_size)
    kind = "preset" if isinstance(source, str) and source.strip() in preset_names() else "spec"
    return Side(F.shown(checked.plan.name), kind, checked, state_entries(checked.plan))


def _roles(side: Side) -> tuple[str | None, frozenset[str]]:
    """The target's input conv and classifier tensors: from its plan, or (a checkpoint) by the rule
    :func:`resnetdsl.load_weights` applies to a module without a plan."""
    if side.checked is not None:
        return input_conv_key(side.checked.plan), classifier_keys(side.checked.plan)
    first = next((k for k, s in side.shapes.items() if k.endswith(".weight") and len(s) == 4), None)
    return first, frozenset(k for k in side.shapes if k.startswith(("fc.", "head.fc.")))


def weight_report(a: Side, b: Side) -> WeightReport:
    """What loading A's tensors into B does."""
    if a.checked is not None and b.checked is not None:
        return predict(a.checked.plan, b.checked.plan)
    first, head = _roles(b)
    return match_state(a.shapes, b.shapes, input_conv=first, classifier=head, source_name=a.label, target_name=b.label)


def statuses(report: WeightReport) -> dict[str, dict[str, str]]:
    """Each tensor's fate, by side: B's tensors by their names in B, A's by their names in A."""
    out: dict[str, dict[str, str]] = {"a": {}, "b": {}}
    for status in STATUSES:
        for e in getattr(report, status):
            if status == "unexpected":
                out["a"][e.key] = status
                continue
            out["b"][e.key] = status
            if e.source_key is not None:
                out["a"][e.source_key] = status
    return out


# --- what differs ------------------------------------------------------------------------------------------


def _words(ops: Any) -> list[str]:
    return [F.op_words(op) for op in ops]


def _kinds(block: P.Block, family: str) -> list[str]:
    out = []
    for op in block.ops():
        if F.op_family(op) == family:
            text = F.op_words(op)
            if text not in out:
                out.append(text)
    return out


def _change(name: str, a: Any, b: Any) -> str | None:
    if a == b:
        return None
    show = (lambda v: ", ".join(v) if v else "none") if isinstance(a, list) else str
    return f"{name} {show(a)} → {show(b)}"


def block_reasons(a: P.Block, b: P.Block) -> list[str]:
    """What differs between two aligned blocks (kind, widths, stride, groups, shortcut, attention, norm, act)."""
    found = [
        _change("block", a.kind, b.kind),
        _change(
            "width",
            f"{a.in_channels}→{a.mid_channels}→{a.out_channels}",
            f"{b.in_channels}→{b.mid_channels}→{b.out_channels}",
        ),
        _change("stride", a.stride, b.stride),
        _change("groups", a.groups, b.groups),
        _change("shortcut", a.shortcut, b.shortcut),
        _change(
            "shortcut ops", F.shortcut_words(a) if a.has_add else "none", F.shortcut_words(b) if b.has_add else "none"
        ),
        _change("attention", _kinds(a, "attention"), _kinds(b, "attention")),
        _change("norm", _kinds(a, "norm"), _kinds(b, "norm")),
        _change("act", _kinds(a, "act"), _kinds(b, "act")),
        _change("dilation", _dilation(a), _dilation(b)),
    ]
    return [r for r in found if r]


def _dilation(block: P.Block) -> int:
    return max((F.op_dilation(op) for op in block.ops()), default=1)


@dataclass
class _Changes:
    changes: dict[str, dict[str, list[str]]] = field(default_factory=lambda: {"a": {}, "b": {}})
    only: dict[str, list[str]] = field(default_factory=lambda: {"a": [], "b": []})
    shortcut: dict[str, list[str]] = field(default_factory=lambda: {"a": [], "b": []})

    def both(self, ident: str, reasons: list[str]) -> None:
        if reasons:
            self.changes["a"][ident] = reasons
            self.changes["b"][ident] = reasons

    def layers(self, prefix: str, la: tuple[LayerInfo, ...], lb: tuple[LayerInfo, ...], by_name: bool) -> int:
        """Mark the layers that differ or exist on one side; returns how many do."""
        ka = {(li.op.name if by_name else k): (k, li) for k, li in enumerate(la)}
        kb = {(li.op.name if by_name else k): (k, li) for k, li in enumerate(lb)}
        n = 0
        for key, (k, li) in ka.items():
            if key not in kb:
                self.only["a"].append(f"{prefix}_{k}")
                n += 1
                continue
            j, lj = kb[key]
            what = _change("", F.op_words(li.op), F.op_words(lj.op))
            if what:
                self.changes["a"][f"{prefix}_{k}"] = [what.strip()]
                self.changes["b"][f"{prefix}_{j}"] = [what.strip()]
                n += 1
        for key, (j, _) in kb.items():
            if key not in ka:
                self.only["b"].append(f"{prefix}_{j}")
                n += 1
        return n

    def part(self, ident: str, la: tuple[LayerInfo, ...], lb: tuple[LayerInfo, ...]) -> None:
        if not la or not lb:
            if la or lb:
                self.only["a" if la else "b"].append(ident)
            return
        n = self.layers(ident, la, lb, by_name=False)
        if n:
            reasons = [f"{len(la)} → {len(lb)} layers"] if len(la) != len(lb) else []
            if _words(li.op for li in la) != _words(li.op for li in lb):
                reasons.append(f"{n} layers differ")
            self.both(ident, reasons or ["layers differ"])

    def stage(self, i: int, sa: StageInfo | None, sb: StageInfo | None) -> None:
        if sa is None or sb is None:
            self.only["a" if sa else "b"].append(f"s{i}")
            return
        a, b = sa.stage, sb.stage
        reasons = [
            r
            for r in (
                _change("blocks", a.block_kind, b.block_kind),
                _change("depth", a.depth, b.depth),
                _change("width", a.out_channels, b.out_channels),
                _change("stride", a.stride, b.stride),
                _change("dilation", a.dilation, b.dilation),
            )
            if r
        ]
        differ = 0
        for j in range(max(len(sa.blocks), len(sb.blocks))):
            ba = sa.blocks[j] if j < len(sa.blocks) else None
            bb = sb.blocks[j] if j < len(sb.blocks) else None
            differ += self.block(f"s{i}b{j}", ba, bb)
        if differ:
            reasons.append(f"{differ} of {max(len(sa.blocks), len(sb.blocks))} blocks differ")
        self.both(f"s{i}", reasons)

    def block(self, ident: str, ba: BlockInfo | None, bb: BlockInfo | None) -> int:
        if ba is None or bb is None:
            self.only["a" if ba else "b"].append(ident)
            return 1
        reasons = block_reasons(ba.block, bb.block)
        if any(r.startswith("shortcut") for r in reasons):
            self.shortcut["a"].append(ident)
            self.shortcut["b"].append(ident)
        n = self.layers(ident, ba.layers, bb.layers, by_name=True)
        if n and not reasons:
            reasons.append(f"{n} layers differ")
        self.both(ident, reasons)
        return 1 if reasons else 0


def _parts(a: Analysis) -> dict[str, tuple[str, Totals]]:
    out = {"stem": ("stem", a.stem_totals)}
    out.update({f"s{i}": (F.shown(s.path), s.totals) for i, s in enumerate(a.stages)})
    if a.final:
        out["final"] = ("final", a.final_totals)
    if a.head:
        out["head"] = ("head", a.head_totals)
    return out


def _numbers(t: Totals | None) -> dict[str, int] | None:
    return None if t is None else {"params": t.params, "macs": t.macs}


def compare_sides(a: Side, b: Side) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """(changes, deltas, parts): what differs by item id, B − A per part, the per-part table."""
    ch = _Changes()
    ana = a.checked.analysis if a.checked else None
    anb = b.checked.analysis if b.checked else None
    if ana is not None and anb is not None:
        ch.part("stem", ana.stem, anb.stem)
        for i in range(max(len(ana.stages), len(anb.stages))):
            ch.stage(i, ana.stages[i] if i < len(ana.stages) else None, anb.stages[i] if i < len(anb.stages) else None)
        ch.part("final", ana.final, anb.final)
        ch.part("head", ana.head, anb.head)
    pa = _parts(ana) if ana else {}
    pb = _parts(anb) if anb else {}
    ids = list(pa) + [k for k in pb if k not in pa]
    parts, deltas = [], {}
    for ident in ids:
        ta, tb = pa.get(ident, (None, None))[1], pb.get(ident, (None, None))[1]
        name = (pb.get(ident) or pa[ident])[0]
        parts.append({"part": name, "a": _numbers(ta), "b": _numbers(tb)})
        if ta is not None and tb is not None:
            deltas[ident] = {"params": tb.params - ta.params, "macs": tb.macs - ta.macs}
    total_a = ana.totals if ana else None
    total_b = anb.totals if anb else None
    parts.append({"part": "total", "a": _numbers(total_a), "b": _numbers(total_b)})
    data = {"changes": ch.changes, "only": ch.only, "shortcutChanges": ch.shortcut}
    return data, deltas, parts


def _side_data(side: Side, detail: str, collapse: bool | None, rankdir: str) -> dict[str, Any]:
    from resnetdsl.web.model import network_model

    out: dict[str, Any] = {"label": F.shown(side.label), "kind": side.kind}
    if side.checked is not None:
        out["model"] = network_model(side.checked.analysis, detail=detail, collapse=collapse, rankdir=rankdir)
    else:
        out["tensors"] = [[F.shown(k), list(s)] for k, s in side.shapes.items()]
    return out


def _spec_keys(a: Side, b: Side) -> list[dict[str, str]] | None:
    if a.checked is None or b.checked is None or a.checked.spec is None or b.checked.spec is None:
        return None
    import json

    from resnetdsl.compare import diff

    def show(v: Any) -> str:
        return "(unset)" if v is None else F.shown(json.dumps(v, ensure_ascii=False))

    keys = diff(a.checked.spec, b.checked.spec).to_dict()["keys"]
    return [{"path": F.shown(k["path"]), "a": show(k["a"]), "b": show(k["b"])} for k in keys]


def diff_data(
    a: Any,
    b: Any,
    *,
    input_size: Any = None,
    detail: str = "block",
    collapse: bool | None = None,
    rankdir: str = "TB",
) -> dict[str, Any]:
    """The data the diff page draws (plain data, ready for JSON).

    Raises:
        SpecError: a spec is invalid.
        ValueError: two checkpoints (nothing to draw), an unknown import name, ``--set`` on a checkpoint.
    """
    from resnetdsl.load import Overridden

    if all(is_checkpoint(x.source if isinstance(x, Overridden) else x) for x in (a, b)):
        raise ValueError("two checkpoints: at least one side must be a spec, a preset or an imported model")
    sa, sb = resolve_side(a, input_size=input_size), resolve_side(b, input_size=input_size)
    report = weight_report(sa, sb)
    changes, deltas, parts = compare_sides(sa, sb)
    return {
        "kind": "diff",
        "a": _side_data(sa, detail, collapse, rankdir),
        "b": _side_data(sb, detail, collapse, rankdir),
        "status": {side: {F.shown(k): v for k, v in st.items()} for side, st in statuses(report).items()},
        "counts": report.counts(),
        **changes,
        "deltas": deltas,
        "parts": parts,
        "keys": _spec_keys(sa, sb),
    }


def diff_page(a: Any, b: Any, **options: Any) -> Any:
    """The diff of A and B as a self-contained HTML :class:`~resnetdsl.web.page.Page` (options as
    :func:`diff_data`)."""
    from resnetdsl.web.page import Page, offline_document

    data = diff_data(a, b, **options)
    title = f"{data['a']['label']} → {data['b']['label']}"
    return Page(offline_document(f"{title} · resnetdsl diff", {"rd-diff": data}), title)
