"""RegNet (Radosavovic et al. 2020): per-stage depths, widths, group widths and bottleneck ratios from a few
numbers, as pycls/timm and torchvision compute them, and the ordinary ``stages`` entries they expand to.

Torch-free. The width rule, per block j < depth: u_j = w0 + wa·j, e_j = round(log(u_j / w0) / log(wm)),
w_j = round(w0 · wm^e_j / 8) · 8; runs of equal width are the stages (every one of stride 2); then each stage's
bottleneck width int(w·b) is made a multiple of its group width g (g at most that width) and w recomputed as
int(w_b / b). That last step is where the two published rules differ (:data:`Quantize`):

- ``pycls``: the nearest multiple, ``int(round(w_b / g) · g)`` (pycls's rule; timm's ``quantize_float``, which
  builds ``regnetx_004`` etc. for pycls's weights);
- ``torchvision``: ``_make_divisible(w_b, g)``, the nearest multiple but never below 90 % of w_b
  (torchvision's ``_adjust_widths_groups_compatibilty``; timm's ``*_tv`` configs, ``group_min_ratio=0.9``).

``regnet_x_400mf``: [32, 64, 160, 400] in torchvision, [32, 64, 160, 384] by pycls's rule.

The arithmetic is float32, as torch does it (both torchvision and timm compute the widths with torch tensors);
pycls's own code uses numpy float64, which differs on exact ties: w0 = 200, wm = 2.18 gives 200 · 2.18 / 8 =
54.5, rounded to even (432) in float32 and up (440) in float64 (about 1 in 20,000 of pycls's sampled spaces).
For ``bottleneck_ratio`` ≠ 1 the ``pycls`` rule is the one timm computes (pycls's later code rounds to the
least common multiple of g and b instead); RegNetX/Y use 1.

The blocks: RegNet X: 1×1 (w_in → w_b) → 3×3 grouped (w_b / g groups, the stride) → 1×1 (→ w), BN + ReLU
after the first two, BN after the last, ReLU after the add; a 1×1/s conv + BN projection where the shape
changes. Y adds squeeze-and-excitation after the 3×3's ReLU, on w_b channels, reduced to
``int(round(se_ratio · w_in))`` (torchvision and timm alike), w_in the block's *input* width. Stem: one 3×3/2
conv of 32 + BN + ReLU, no pool; head: average pool + linear.

In a spec, the ``regnet:`` key (a :class:`RegNetSpec`) is expanded by the loader into a ``simple`` stem and
stages of RegNet's own ``regnet`` block kind (:mod:`resnetdsl.regnet_key`, :func:`generated`), so that every
command works on it and ``show`` prints the generated stages; the design-space search samples such specs
(:func:`expand`, :func:`spec_data`) and checks each through the one checking path.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import ConfigDict, Field, Strict, field_validator, model_validator

from resnetdsl import field_docs
from resnetdsl.records import record

if TYPE_CHECKING:
    pass

Quantize = Literal["pycls", "torchvision"]
"""How a stage's bottleneck width is made a multiple of its group width (see the module's docstring)."""
QUANTIZE: tuple[Quantize, ...] = ("pycls", "torchvision")
WIDTH_QUANTUM = 8
"""Block widths are multiples of this (pycls's ``q``, torchvision's ``QUANT``)."""
STAGE_STRIDE = 2
STEM_WIDTH = 32

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]


class _Model(field_docs.DescribedModel):
    # built on first use, its fields described from their docstrings once (see resnetdsl.field_docs)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class RegNetSpec(_Model):
    """A RegNet: its stages generated from four numbers plus the block settings."""

    w0: Int = Field(ge=8, le=65536)
    """Width of the first block (a multiple of 8)."""
    wa: Float = Field(ge=0.0, le=65536.0)
    """Slope of the linear width ramp u_j = w0 + wa·j."""
    wm: Float = Field(gt=1.0, le=64.0)
    """Width multiplier between stages: the ramp is quantised to w0 · wm^k."""
    depth: Int = Field(ge=1, le=2000)
    """Number of blocks of the whole network."""
    group_width: Int = Field(ge=1, le=65536)
    """Channels per group of the 3×3 convs (made at most the bottleneck width)."""
    bottleneck_ratio: Float = Field(1.0, gt=0.0, le=64.0)
    """Inner width of a block over its output width (1 for RegNet X and Y)."""
    se_ratio: Float = Field(0.0, ge=0.0, lt=1.0)
    """Squeeze-and-excitation reduced width over the block's input width; 0: none (RegNet X), 0.25: RegNet Y."""
    quantize: Quantize = "pycls"
    """How the bottleneck width is made a multiple of the group width: ``pycls`` (nearest multiple; pycls and
    timm) or ``torchvision`` (never below 90 %; torchvision and timm's ``*_tv``)."""
    stem_width: Int = Field(STEM_WIDTH, ge=1, le=65536)
    """Output channels of the stem's 3×3/2 conv."""

    @field_validator("w0")
    @classmethod
    def _quantised(cls, value: int) -> int:
        if value % WIDTH_QUANTUM:
            raise ValueError(f"must be a multiple of {WIDTH_QUANTUM} (got {value})")
        return value


class AnyNetSpec(_Model):
    """An AnyNet (the paper's design space): per stage its depth, width, bottleneck ratio and group width."""

    depths: tuple[Annotated[int, Strict(), Field(ge=1, le=2000)], ...] = Field(min_length=1, max_length=64)
    widths: tuple[Annotated[int, Strict(), Field(ge=1, le=65536)], ...] = Field(min_length=1, max_length=64)
    bottleneck_ratios: tuple[Annotated[float, Strict(), Field(gt=0.0, le=64.0)], ...] = Field(
        min_length=1, max_length=64
    )
    group_widths: tuple[Annotated[int, Strict(), Field(ge=1, le=65536)], ...] = Field(min_length=1, max_length=64)
    se_ratio: Float = Field(0.0, ge=0.0, lt=1.0)
    """As :attr:`RegNetSpec.se_ratio`."""
    quantize: Quantize | Literal["none"] = "pycls"
    """Make each stage's widths compatible with its group width by this rule first (``none``: as given; a
    group width that does not divide the bottleneck width then makes the network invalid)."""
    stem_width: Int = Field(STEM_WIDTH, ge=1, le=65536)

    @model_validator(mode="after")
    def _same_lengths(self) -> AnyNetSpec:
        n = len(self.depths)
        for name in ("widths", "bottleneck_ratios", "group_widths"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"depths, widths, bottleneck_ratios and group_widths need one item per stage "
                    f"({n} depths, {len(getattr(self, name))} {name})"
                )
        return self


field_docs.register(__name__, _Model)


@record
class RegNetStage:
    """One stage of a RegNet or AnyNet, as its blocks are built."""

    depth: int
    width: int
    """Output channels of every block."""
    group_width: int
    bottleneck_ratio: float
    stride: int = STAGE_STRIDE

    @property
    def bottleneck_width(self) -> int:
        """Inner width of the blocks: ``int(round(width · bottleneck_ratio))`` (torchvision, timm, pycls)."""
        return round(self.width * self.bottleneck_ratio)

    @property
    def groups(self) -> int:
        """Groups of the 3×3 conv: ``bottleneck_width // group_width``."""
        return self.bottleneck_width // self.group_width


@record
class RegNetWidths:
    """What the width rule gives: the stages, and the per-block widths before they are grouped."""

    stages: tuple[RegNetStage, ...]
    block_widths: tuple[int, ...]
    """Quantised width of every block, before the group-width adjustment."""
    possible_stages: int
    """Stages the ramp could give (``max(e_j) + 1``); pycls's sweeps keep only nets where every one is used."""

    @property
    def depths(self) -> list[int]:
        return [s.depth for s in self.stages]

    @property
    def widths(self) -> list[int]:
        return [s.width for s in self.stages]

    @property
    def group_widths(self) -> list[int]:
        return [s.group_width for s in self.stages]


_F32 = struct.Struct("<f")


def _f32(x: float) -> float:
    """``x`` rounded to the nearest float32 (what a torch float32 op returns for an exact result ``x``)."""
    return float(_F32.unpack(_F32.pack(x))[0])


def block_widths(w0: int, wa: float, wm: float, depth: int) -> tuple[list[int], int]:
    """The quantised width of every block and the number of stages the ramp could give, in float32 as torch
    computes them (torchvision's ``BlockParams.from_init_params``, timm's ``generate_regnet``).

    Raises:
        ValueError: w0 not a positive multiple of 8, wa < 0, wm <= 1 or depth < 1 (torchvision's checks).
    """
    if w0 <= 0 or w0 % WIDTH_QUANTUM or wa < 0 or wm <= 1 or depth < 1:
        raise ValueError(f"invalid RegNet settings: w0={w0} (a multiple of 8), wa={wa} (>= 0), wm={wm} (> 1)")
    wa32, wm32, log_wm = _f32(wa), _f32(wm), _f32(math.log(wm))
    widths: list[int] = []
    top = 0
    for j in range(depth):
        u = _f32(_f32(j * wa32) + w0)
        e = round(_f32(_f32(math.log(_f32(u / w0))) / log_wm))  # torch.round: half to even, as round()
        top = max(top, e)
        w = _f32(_f32(w0 * _f32(wm32**e)) / WIDTH_QUANTUM)
        widths.append(round(w) * WIDTH_QUANTUM)
    return widths, top + 1


def _runs(widths: Sequence[int]) -> tuple[list[int], list[int]]:
    """Runs of equal width: (width, length) of each, in order."""
    out_w: list[int] = []
    out_d: list[int] = []
    for w in widths:
        if out_w and out_w[-1] == w:
            out_d[-1] += 1
        else:
            out_w.append(w)
            out_d.append(1)
    return out_w, out_d


def _make_divisible(v: float, divisor: int) -> int:
    """torchvision's ``_make_divisible``: the nearest multiple of ``divisor``, at least ``divisor``, never below
    90 % of ``v``."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def adjust_widths_groups(
    widths: Sequence[int], ratios: Sequence[float], group_widths: Sequence[int], quantize: Quantize
) -> tuple[list[int], list[int]]:
    """Each stage's widths made compatible with its group width: ``(widths, group_widths)``.

    Raises:
        ValueError: a stage whose bottleneck width int(w·b) is 0.
    """
    bottleneck = [int(w * b) for w, b in zip(widths, ratios, strict=True)]
    if min(bottleneck) < 1:
        raise ValueError(f"a bottleneck width int(width × bottleneck_ratio) is 0 (widths {list(widths)})")
    groups = [min(g, wb) for g, wb in zip(group_widths, bottleneck, strict=True)]
    if quantize == "torchvision":
        bottleneck = [_make_divisible(wb, g) for wb, g in zip(bottleneck, groups, strict=True)]
    else:
        bottleneck = [int(round(wb / g) * g) for wb, g in zip(bottleneck, groups, strict=True)]
    return [int(wb / b) for wb, b in zip(bottleneck, ratios, strict=True)], groups


def regnet_widths(r: RegNetSpec) -> RegNetWidths:
    """The stages of a RegNet: depths, widths, group widths and bottleneck ratios.

    Raises:
        ValueError: a stage's bottleneck width comes out 0.
    """
    per_block, possible = block_widths(r.w0, r.wa, r.wm, r.depth)
    widths, depths = _runs(per_block)
    ratios = [r.bottleneck_ratio] * len(widths)
    widths, groups = adjust_widths_groups(widths, ratios, [r.group_width] * len(widths), r.quantize)
    stages = tuple(RegNetStage(d, w, g, b) for d, w, g, b in zip(depths, widths, groups, ratios, strict=True))
    return RegNetWidths(stages, tuple(per_block), possible)


def anynet_stages(a: AnyNetSpec) -> tuple[RegNetStage, ...]:
    """The stages of an AnyNet, their widths made compatible with their group widths unless ``quantize: none``.

    Raises:
        ValueError: a stage's bottleneck width comes out 0.
    """
    widths, groups = list(a.widths), list(a.group_widths)
    if a.quantize != "none":
        widths, groups = adjust_widths_groups(widths, a.bottleneck_ratios, groups, a.quantize)
    return tuple(
        RegNetStage(d, w, g, b) for d, w, g, b in zip(a.depths, widths, groups, a.bottleneck_ratios, strict=True)
    )


def se_width(se_ratio: float, width_in: int) -> int:
    """Reduced width of a RegNet Y block's squeeze-and-excitation: ``int(round(se_ratio · w_in))``, w_in the
    block's input width (torchvision's ``width_se_out``, timm's ``se_channels``, pycls's ``w_se``)."""
    return round(se_ratio * width_in)


def generated(
    stages: Sequence[RegNetStage], stem_width: int, se_ratio: float, shared_ratio: float | None
) -> dict[str, Any]:
    """The ``stem``, ``defaults`` and ``stages`` (plain data) that build ``stages`` of RegNet's own block kind:
    the ``simple`` stem, ``block: regnet`` (with ``attention: se`` and ``se_ratio`` for RegNet Y) and one entry
    per stage, ``{depth, width, stride, group_width}``, with its ``bottleneck_ratio`` unless ``shared_ratio``
    (written once in the defaults where it is not 1) holds for all of them."""
    defaults: dict[str, Any] = {"block": "regnet"}
    if shared_ratio is not None and shared_ratio != 1:
        defaults["bottleneck_ratio"] = shared_ratio
    if se_ratio > 0:
        defaults.update(attention="se", se_ratio=se_ratio)
    entries = []
    for st in stages:
        entry: dict[str, Any] = {"depth": st.depth, "width": st.width, "stride": st.stride}
        entry["group_width"] = st.group_width
        if shared_ratio is None and st.bottleneck_ratio != 1:
            entry["bottleneck_ratio"] = st.bottleneck_ratio
        entries.append(entry)
    return {"stem": {"kind": "simple", "width": stem_width}, "defaults": defaults, "stages": entries}


def spec_data(
    r: RegNetSpec | AnyNetSpec,
    *,
    name: str = "regnet",
    input_size: tuple[int, int] = (224, 224),
    in_channels: int = 3,
    num_classes: int = 1000,
) -> dict[str, Any]:
    """A whole spec (plain data) of the RegNet or AnyNet in the language: the ``regnet:`` key itself for a
    RegNet (the loader expands it, :mod:`resnetdsl.regnet_key`), the stem, ``regnet`` blocks and stages for an
    AnyNet; an average pool and a linear head.

    Raises:
        ValueError: an AnyNet stage whose bottleneck width comes out 0.
    """
    out: dict[str, Any] = {"name": name, "input": {"channels": in_channels, "size": list(input_size)}}
    if isinstance(r, RegNetSpec):
        out["regnet"] = r.model_dump(exclude_defaults=True)
    else:
        out.update(generated(anynet_stages(r), r.stem_width, r.se_ratio, None))
    out["head"] = {"pool": "avg", "num_classes": num_classes}
    return out


# --- a design space's document with a generator key --------------------------------------------------------

GENERATORS: dict[str, type[RegNetSpec] | type[AnyNetSpec]] = {"regnet": RegNetSpec, "anynet": AnyNetSpec}
"""Top-level keys that generate the stages."""
_BESIDE = ("name", "description", "input", "layout", "head")
"""Keys a generator document may hold besides the generator (the rest is the generator's)."""


def generator_of(data: Mapping[str, Any]) -> str | None:
    """``regnet`` or ``anynet`` when the document holds that key, else ``None``."""
    return next((key for key in GENERATORS if key in data), None)


def expand(data: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[int, int]]:
    """A document with ``regnet:`` (or ``anynet:``) and optionally ``name``, ``description``, ``input``,
    ``layout`` and ``head`` → the spec's data (:func:`spec_data`) and the input size (H, W).

    Raises:
        SpecError: every problem of the generator and of the keys beside it, with paths (no marks: the caller
            places them).
    """
    from pydantic import ValidationError

    from resnetdsl.errors import Issue, SpecError
    from resnetdsl.load import SourceMap, did_you_mean, issues_from_pydantic
    from resnetdsl.spec import InputSpec

    key = generator_of(data)
    issues: list[Issue] = []
    if key is None:
        raise SpecError.single("expected a 'regnet' or 'anynet' key")
    if len([k for k in GENERATORS if k in data]) > 1:
        issues.append(Issue(("anynet",), "give either 'regnet' or 'anynet', not both"))
    for other in data:
        if other not in _BESIDE and other not in GENERATORS:
            hint = did_you_mean(other, (*_BESIDE, *GENERATORS))
            issues.append(Issue((other,), f"cannot be set with '{key}' (only {', '.join(_BESIDE)} can){hint}"))
    model: Any = GENERATORS[key]
    parsed: Any = None
    inp: Any = InputSpec()
    for name, cls, value in ((key, model, data[key]), ("input", InputSpec, data.get("input", {}))):
        try:
            result = cls.model_validate(value)
        except ValidationError as exc:
            for issue in issues_from_pydantic(exc, SourceMap()):
                message = issue.message
                if message.startswith("unknown key '") and "did you mean" not in message:
                    message += did_you_mean(str(issue.path[-1]), cls.model_fields)
                issues.append(Issue((name, *issue.path), message))
            continue
        if name == key:
            parsed = result
        else:
            inp = result
    if issues:
        raise SpecError(issues)
    try:
        out = spec_data(parsed, name=str(data.get("name", key)), input_size=inp.size, in_channels=inp.channels)
    except ValueError as exc:
        raise SpecError.single(str(exc), path=(key,)) from None
    for beside in ("description", "layout", "head"):
        if beside in data:
            out[beside] = data[beside]
    return out, inp.size
