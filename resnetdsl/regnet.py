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

The blocks (what phase 2 adds to the language; see :data:`PHASE_2`): RegNet X: 1×1 (w_in → w_b) → 3×3
grouped (w_b / g groups, the stride) → 1×1 (→ w), BN + ReLU after the first two, BN after the last, ReLU after
the add; a 1×1/s conv + BN projection where the shape changes. Y adds squeeze-and-excitation after the 3×3's
ReLU, on w_b channels, reduced to ``int(round(se_ratio · w_in))`` (torchvision and timm alike), w_in the
block's *input* width. Stem: one 3×3/2 conv of 32 + BN + ReLU, no pool; head: average pool + linear.

In a spec, the ``regnet:`` key (a :class:`RegNetSpec`) is expanded by the loader into a ``simple`` stem and
stages of RegNet's own ``regnet`` block kind (:mod:`resnetdsl.regnet_key`), so that every command works on it and
``show`` prints the generated stages. The design-space search still expresses the stages with the bottleneck
block (:func:`stand_in_stages`): the same tensors, parameters, MACs and activations (checked against
torchvision's and timm's models and pycls's published table), other module names.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from resnetdsl.field_docs import describe_fields

Quantize = Literal["pycls", "torchvision"]
"""How a stage's bottleneck width is made a multiple of its group width (see the module's docstring)."""
QUANTIZE: tuple[Quantize, ...] = ("pycls", "torchvision")
WIDTH_QUANTUM = 8
"""Block widths are multiples of this (pycls's ``q``, torchvision's ``QUANT``)."""
STAGE_STRIDE = 2
STEM_WIDTH = 32

PHASE_2 = (
    "timm's variants: pre-activation regnetv_* (PreBottleneck, final act), regnety_040_sgn (GroupNormAct, SiLU), "
    "regnetz_* (linear_out, no shortcut projection, bottleneck_ratio 4, a final 1×1 conv of num_features); the "
    "importer refuses them",
    "design spaces sample the stand-in (stand_in_spec), not the regnet: key with RegNet's own block kind",
)
"""What is left of RegNet after phase 2 (the ``regnet:`` key, :mod:`resnetdsl.regnet_key`; the ``regnet`` block
kind, :mod:`resnetdsl.blocks_regnet`; the ``simple`` stem; the ``regnet`` and ``tv_regnet`` layouts)."""

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]


class _Model(BaseModel):
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


describe_fields(__name__, _Model)


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


def regnet_stages(r: RegNetSpec | AnyNetSpec) -> list[dict[str, Any]]:
    """Ordinary ``stages`` entries of a RegNet (or AnyNet): depth, width, stride 2 and the block settings, in
    today's language (:func:`stand_in_stages`; phase 2 gives them RegNet's own block kind).

    Raises:
        ValueError: a stage the rule makes empty, or one today's bottleneck cannot express (the message says
            why).
    """
    stages = regnet_widths(r).stages if isinstance(r, RegNetSpec) else anynet_stages(r)
    return stand_in_stages(stages, r.stem_width, r.se_ratio)


# --- today's bottleneck block as RegNet's (phase 1) --------------------------------------------------------


def bottleneck_settings(width: int, inner: int, groups: int) -> dict[str, int]:
    """Settings of today's bottleneck block whose 3×3 has ``inner`` channels in ``groups`` groups and whose
    output has ``width`` channels: ``{width, expansion, groups, width_per_group}`` with the base width a divisor
    of ``width`` (itself where possible: expansion 1), int(base × width_per_group / 64) × groups = inner.

    Raises:
        ValueError: no such settings (``inner`` not a multiple of ``groups``, or no expansion up to 64 fits).
    """
    if groups < 1 or inner % groups:
        raise ValueError(f"{groups} groups do not divide the bottleneck width {inner}")
    per_group = inner // groups
    for expansion in range(1, 65):
        if width % expansion:
            continue
        base = width // expansion
        wpg = -(-64 * per_group // base)
        if wpg <= 65536 and int(base * (wpg / 64.0)) == per_group:  # blocks.bottleneck_mid's arithmetic
            return {"width": base, "expansion": expansion, "groups": groups, "width_per_group": wpg}
    raise ValueError(
        f"today's bottleneck block cannot make {inner} inner channels in {groups} groups with {width} outputs "
        "(RegNet's own block kind comes with the regnet: key)"
    )


def stand_in_stages(stages: Sequence[RegNetStage], stem_width: int, se_ratio: float) -> list[dict[str, Any]]:
    """``stages`` entries that build RegNet's blocks from today's bottleneck: the same convs, norms and
    parameters (the SE module sits after the last norm instead of after the 3×3, on as many channels when the
    bottleneck ratio is 1), other module names. Each sets its own block settings.

    Raises:
        ValueError: a stage today's block cannot express (see :func:`bottleneck_settings`), or SE with a
            bottleneck ratio other than 1.
    """
    out: list[dict[str, Any]] = []
    w_in = stem_width
    for i, st in enumerate(stages):
        entry: dict[str, Any] = {"depth": st.depth, "stride": st.stride}
        entry.update(bottleneck_settings(st.width, st.bottleneck_width, st.groups))
        entry.update(block="bottleneck", stride_on="3x3", shortcut="projection")
        if se_ratio > 0:
            if st.bottleneck_width != st.width:
                raise ValueError(
                    f"stage {i}: squeeze-and-excitation on a bottleneck of {st.bottleneck_width} channels inside "
                    f"{st.width} outputs needs RegNet's own block kind (today's SE acts on the output)"
                )
            entry.update(attention="se", se_divisor=1, se_ratio=_se_ratio(se_ratio, st.width, st.width))
            first = _se_ratio(se_ratio, w_in, st.width)
            if first != entry["se_ratio"]:
                entry["blocks"] = [{"at": 0, "se_ratio": first}]
        out.append(entry)
        w_in = st.width
    return out


def _se_ratio(se_ratio: float, width_in: int, channels: int) -> float:
    """Today's ``se_ratio`` (over the SE's ``channels``, ``se_divisor: 1``) that gives RegNet's reduced width."""
    reduced = se_width(se_ratio, width_in)
    if not 1 <= reduced <= channels:
        raise ValueError(f"se_ratio {se_ratio} of {width_in} input channels gives {reduced} SE channels")
    return reduced / channels


def stand_in_size(size: int) -> int:
    """Input side of the stand-in whose stride-1 stem gives what RegNet's 3×3/2 stem gives for ``size``."""
    return -(-size // STAGE_STRIDE)


def stand_in_spec(
    r: RegNetSpec | AnyNetSpec,
    *,
    name: str = "regnet",
    input_size: tuple[int, int] = (224, 224),
    in_channels: int = 3,
    num_classes: int = 1000,
) -> dict[str, Any]:
    """A whole spec (plain data) of today's language with the RegNet's stages and head, and its stem stood in
    for: a 3×3/1 conv of the stem width on an input half as large, which gives the very map RegNet's 3×3/2 stem
    gives for ``input_size`` with the same parameters, MACs and activations. Parameters, MACs and activations
    of the whole network are the RegNet's; its receptive fields and strides are the RegNet's halved (after
    the stem), see :func:`true_reduction`, :func:`true_receptive_field`.

    Raises:
        ValueError: as :func:`regnet_stages`.
    """
    h, w = input_size
    return {
        "name": name,
        "description": "RegNet stand-in: today's bottleneck blocks; the 3x3/2 stem as a 3x3/1 stem on a "
        f"{stand_in_size(h)}x{stand_in_size(w)} input (params, MACs, activations as at {h}x{w})",
        "input": {"channels": in_channels, "size": [stand_in_size(h), stand_in_size(w)]},
        "stem": {"kind": "conv3", "width": r.stem_width, "pool": "none"},
        "stages": regnet_stages(r),
        "head": {"pool": "avg", "num_classes": num_classes},
    }


def true_reduction(stand_in: int) -> int:
    """The RegNet's reduction (output stride) where its stand-in's is ``stand_in``."""
    return STAGE_STRIDE * stand_in


def true_receptive_field(stand_in: int | None) -> int | None:
    """The RegNet's receptive field where its stand-in's is ``stand_in``: every window after the stem spans
    twice the input pixels (r = 3 + 2·(r' − 3)); ``None`` (global) stays global."""
    return None if stand_in is None else 2 * stand_in - 3


def true_input_elements(stand_in_shape: tuple[int, int, int], input_size: tuple[int, int]) -> int:
    """Elements one sample of the RegNet's input has beyond the stand-in's (the stem's conv saves its input for
    backward: add these × batch × bytes to the stand-in's training memory)."""
    c, h, w = stand_in_shape
    return c * (input_size[0] * input_size[1] - h * w)


# --- a document with a generator key (what phase 2's loader does before lowering) --------------------------

GENERATORS: dict[str, type[RegNetSpec] | type[AnyNetSpec]] = {"regnet": RegNetSpec, "anynet": AnyNetSpec}
"""Top-level keys that generate the stages."""
_BESIDE = ("name", "description", "input", "head")
"""Keys a generator document may hold besides the generator (the rest is the generator's)."""


def generator_of(data: Mapping[str, Any]) -> str | None:
    """``regnet`` or ``anynet`` when the document holds that key, else ``None``."""
    return next((key for key in GENERATORS if key in data), None)


def expand(data: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[int, int]]:
    """A document with ``regnet:`` (or ``anynet:``) and optionally ``name``, ``description``, ``input`` and
    ``head`` → the stand-in spec's data (:func:`stand_in_spec`) and the input size (H, W) the figures are for.

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
        out = stand_in_spec(
            parsed, name=str(data.get("name", key)), input_size=inp.size, in_channels=inp.channels, num_classes=1000
        )
    except ValueError as exc:
        raise SpecError.single(str(exc), path=(key,)) from None
    if "description" in data:
        out["description"] = data["description"]
    if "head" in data:
        out["head"] = data["head"]
    return out, inp.size
