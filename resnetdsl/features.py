"""Multi-scale feature outputs (timm's ``features_only``): which maps a backbone returns, and their facts.

A *tap* is a place a detector or segmenter can read a feature map: index 0 is the stem's output after its
activation and before its pool (timm's ``feature_info[0]``, module ``act1``, reduction 2 for the ImageNet stem;
a pre-activation stem's last conv), index i the output of stage i (for a pre-activation network, as in timm,
before its final norm + act, which a multi-scale backbone leaves out). :func:`with_features` turns a plan into
the backbone that returns the taps asked for; :class:`FeatureInfo` describes them as timm's
``model.feature_info`` does. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any, cast

from resnetdsl import plan as P
from resnetdsl.ops import describe
from resnetdsl.receptive import Field, block_field
from resnetdsl.records import record

_STEM_POOLS = ("maxpool", "stem.pool", "pad", "stem.pad", "pool0")  # pad: BiT's fixed stem; pool0: senet


@record
class Tap:
    """One feature map a backbone can return."""

    index: int
    """0: the stem's; i: stage i's (from 1)."""
    module: str
    """Module whose output it is (``act1``, ``layer2``, ``stages.3``, ``norm``)."""
    stage: str
    """``stem`` or the stage's module name."""
    channels: int
    reduction: int
    """Input pixels per position (output stride)."""
    dilation: int
    """The largest dilation of a conv up to here."""
    receptive_field: int | None
    """Theoretical receptive field in input pixels; ``None`` after channel attention (it sees the whole input)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _is_pool(op: P.Op) -> bool:
    return any(op.name == p or op.name.startswith(p + ".") for p in _STEM_POOLS)


def _module(plan: P.Plan, op_name: str) -> str:
    # a dotted op name is a child of a Sequential; the resnet layout's stem groups (conv1.0…) are read whole
    return op_name if plan.layout == "resnetv2" else op_name.partition(".")[0]


def taps(plan: P.Plan) -> tuple[Tap, ...]:
    """Every tap of ``plan`` (the stem's and each stage's), whatever ``plan.out_indices`` selects."""
    before = [op for op in plan.stem if not _is_pool(op)]
    x = Field(1, 1).through_all(before)
    channels = next(cast(Any, op).out_channels for op in reversed(before) if describe(op).family == "conv")
    out = [Tap(0, _module(plan, before[-1].name), "stem", channels, x.jump, x.dilation, _rf(x))]
    x = x.through_all(op for op in plan.stem if _is_pool(op))
    for i, st in enumerate(plan.stages):
        for block in st.blocks:
            x = block_field(block, x)
        out.append(Tap(i + 1, st.name, st.name, st.out_channels, x.jump, x.dilation, _rf(x)))
    return tuple(out)


def _rf(x: Field) -> int | None:
    return None if x.whole else x.size


def with_features(plan: P.Plan, out_indices: Sequence[int]) -> P.Plan:
    """The backbone returning the taps ``out_indices``: nothing after the last one asked for is built, analysed
    or counted: no head, no stage after it, no pre-activation final norm + act and, when the stem's map is the
    only one, not even the stem's pool (the plan then has no stages).

    Raises:
        ValueError: an index that names no tap, or indices not in increasing order.
    """
    idx = tuple(out_indices)
    n = len(plan.stages)
    if not idx or any(isinstance(i, bool) or not isinstance(i, int) for i in idx):
        raise ValueError(f"out_indices must be a non-empty sequence of whole numbers, got {out_indices!r}")
    if any(not 0 <= i <= n for i in idx):
        raise ValueError(f"out_indices must lie in 0…{n} (0: the stem, 1…{n}: the stages), got {idx!r}")
    if any(b <= a for a, b in itertools.pairwise(idx)):
        raise ValueError(f"out_indices must increase without repeats, got {idx!r}")
    last = max(idx)
    stem = plan.stem if last else tuple(op for op in plan.stem if not _is_pool(op))  # the stem's tap is before its pool
    # timm's FeatureListNet ends with the last stage: a pre-activation network's final norm + act is left out
    return dataclasses.replace(
        plan, stem=stem, stages=plan.stages[:last], head=(), num_classes=None, final=(), out_indices=idx
    )


def selected(plan: P.Plan) -> tuple[Tap, ...]:
    """The taps the plan's model returns (every tap for a plan without ``out_indices``)."""
    all_taps = taps(plan)
    if not plan.out_indices:
        return all_taps
    return tuple(all_taps[i] for i in plan.out_indices)


class FeatureInfo:
    """Facts of the returned feature maps, with timm's ``FeatureInfo`` methods (``channels()``,
    ``reduction()``, ``module_name()``; an index selects one map, none gives the list)."""

    def __init__(self, items: Sequence[Tap]) -> None:
        self.taps = tuple(items)
        self.out_indices = tuple(t.index for t in self.taps)

    def _get(self, key: str, idx: int | Sequence[int] | None) -> Any:
        if idx is None:
            return [getattr(t, key) for t in self.taps]
        if isinstance(idx, int):
            return getattr(self.taps[idx], key)
        return [getattr(self.taps[i], key) for i in idx]

    def channels(self, idx: int | Sequence[int] | None = None) -> Any:
        return self._get("channels", idx)

    def reduction(self, idx: int | Sequence[int] | None = None) -> Any:
        return self._get("reduction", idx)

    def module_name(self, idx: int | Sequence[int] | None = None) -> Any:
        return self._get("module", idx)

    def get_dicts(self) -> list[dict[str, Any]]:
        """timm's dicts: ``num_chs``, ``reduction``, ``module`` (and ``index``)."""
        return [{"num_chs": t.channels, "reduction": t.reduction, "module": t.module, "index": t.index} for t in self]

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.get_dicts()[i]

    def __len__(self) -> int:
        return len(self.taps)

    def __iter__(self) -> Any:
        return iter(self.taps)

    def __repr__(self) -> str:
        return f"FeatureInfo({self.get_dicts()!r})"
