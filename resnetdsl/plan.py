"""The plan: an immutable, fully explicit description of one network.

Every backend (torch builder, analyzer, renderer) reads only this. Op ``name``s are module names relative
to their container: the network for stem, final and head ops, the block for block ops. A dotted name
(``downsample.1``, ``conv1.3``) places the op at that index of a sequential container of that name. Stage and
block names may be dotted too (``stages.0``, ``blocks.0``: timm's ResNetV2 layout), with the same meaning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from resnetdsl.records import record
from resnetdsl.vocab import DEFAULT_NEGATIVE_SLOPE, ActKind, GlobalPoolKind, NormActKind, NormLayerKind, PoolKind

ShortcutUse = Literal["identity", "projection", "pad", "avgpool_projection", "none"]

# The op types below are records of the same shape on purpose (a name, then the fields their modules take): the IR
# holds data only, and each op type's behaviour lives in its description (resnetdsl.ops), so their likeness is not
# repeated logic.


@record
class Conv:
    name: str
    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    bias: bool = False
    zero_init: bool = False
    """Initialise the weight to zero (last conv of a pre-activation branch under ``zero_init_residual``)."""
    std_eps: float | None = None
    """Weight standardisation (timm's ``StdConv2d``): each output channel's weight is standardised to zero mean
    and unit variance, with this eps, before every forward; ``None``: a plain conv."""


@record
class Norm:
    name: str
    channels: int
    kind: NormLayerKind = "batch"
    """``batch``: BatchNorm2d; ``group``: GroupNorm of ``groups`` groups; ``frozen_batch``: FrozenBatchNorm2d
    (weight, bias, running_mean, running_var as buffers; no parameters)."""
    eps: float = 1e-5
    momentum: float = 0.1
    zero_init: bool = False
    """Initialise γ to zero (last norm of a residual branch under ``zero_init_residual``)."""
    groups: int = 1
    """``group`` only: number of groups (divides ``channels``)."""


@record
class NormAct:
    """BatchNorm followed by its activation, as one module (timm's ``BatchNormAct2d``): the norm's parameters
    and statistics sit directly under the module's name (``norm1.weight``), the activation has none."""

    name: str
    channels: int
    kind: NormActKind = "batch"
    """``batch``: timm's BatchNormAct2d; ``group``: GroupNormAct (group norm, then ReLU); ``evonorm_s0``:
    EvoNorm2dS0 (``x·σ(v·x) / group_std(x) · γ + β``); ``frn``: FilterResponseNormTlu2d (``max(x /
    rms_hw(x) · γ + β, τ)``). The last two have their nonlinearity built in."""
    act: ActKind = "relu"
    """``batch`` and ``group``: the activation after the norm (timm's ``act_layer``; RegNet's variants use
    ``silu``)."""
    eps: float = 1e-5
    momentum: float = 0.1
    """``batch`` only."""
    groups: int = 1
    """``group`` and ``evonorm_s0``: number of groups (divides ``channels``)."""


@record
class Act:
    name: str
    kind: ActKind = "relu"
    inplace: bool = True
    """Ignored by ``gelu`` (torch's GELU has no in-place form)."""
    negative_slope: float = DEFAULT_NEGATIVE_SLOPE
    """``leaky_relu`` only."""


@record
class Pool:
    name: str
    kind: PoolKind
    kernel_size: int
    stride: int
    padding: int = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    same: bool = False
    """Pad the input first as TensorFlow's 'SAME' does (zeros, the extra one after: bottom and right), the zeros
    counted in an average: timm's ``AvgPool2dSame``, the stride-1 pool of an avg-pool shortcut in a dilated
    stage. The output then has ceil(size / stride) positions; ``padding`` must be 0."""


@record
class GlobalPool:
    name: str
    kind: GlobalPoolKind = "avg"


@record
class Flatten:
    """The pooled map as a flat vector of its channels (``nn.Flatten(1)``)."""

    name: str


@record
class Dropout:
    name: str
    p: float


@record
class Linear:
    name: str
    in_features: int
    out_features: int
    bias: bool = True


@record
class Identity:
    """Hands its input on (the stride-1 pool of an avg-pool shortcut)."""

    name: str


@record
class PadShortcut:
    """Option A shortcut: subsample by ``stride`` and append zero channels (parameter-free)."""

    name: str
    in_channels: int
    out_channels: int
    stride: int


@record
class SqueezeExcite:
    """Squeeze-and-excitation (timm's ``SEModule``): ``x * sigmoid(fc2(relu(fc1(mean_hw(x)))))``; ``fc1`` and
    ``fc2`` are 1×1 convs with bias."""

    name: str
    channels: int
    reduced_channels: int
    act: ActKind = "relu"
    """The activation between ``fc1`` and ``fc2`` (timm's ``act_layer``: a RegNet block's own)."""


@record
class EfficientChannelAttn:
    """ECA (timm's ``EcaModule``): ``x * sigmoid(conv(mean_hw(x)))``, ``conv`` a bias-free 1-D conv of
    ``kernel_size`` across the channels, zero-padded to keep their number."""

    name: str
    channels: int
    kernel_size: int


@record
class DropPath:
    """Stochastic depth: in training, zero the whole input of a sample with probability ``p`` and scale the
    kept ones by 1 / (1 − p); the identity in eval mode."""

    name: str
    p: float


# --- selective kernels (issue 18, SK family) -------------------------------------------------------------------


@record
class ConvNormAct:
    """A conv, its norm and its activation as one module (timm's ``ConvNormAct``): the children ``conv``, ``bn``
    (left out for ``norm: none``) and ``act`` (left out when the block applies none here)."""

    name: str
    conv: Conv
    norm: Norm | None
    act: Act | None


@record
class SelectiveKernel:
    """Selective kernel convolution (Li et al. 2019; timm's ``SelectiveKernel``): ``paths``, one conv + norm + act
    per branch (3×3 convs of growing dilation), each reading the whole input or, with ``split_input``, an equal
    share of its channels; their outputs are summed, averaged over the map and squeezed to ``attn_channels``
    (``attn.fc_reduce`` → BatchNorm → ReLU), ``attn.fc_select`` gives one logit per branch and channel, a softmax
    over the branches weighs them, and the weighted branches are summed."""

    name: str
    in_channels: int
    out_channels: int
    stride: int
    paths: tuple[ConvNormAct, ...]
    split_input: bool
    attn_channels: int


@record
class ConstantPad:
    """Pad every side by ``padding`` with ``value`` (``nn.ConstantPad2d``): BiT's 'fixed' stem pads its max pool's
    input with zeros (not with −∞ as the pool's own padding would)."""

    name: str
    padding: int
    value: float = 0.0


# --- family senet (issue 18): more attention kinds (timm's create_attn on a ResNet) ---------------------------


@record
class Cbam:
    """CBAM (timm's ``CbamModule``): a channel gate ``sigmoid(mlp(mean_hw(x)) + mlp(max_hw(x)))`` (``channel.fc1``,
    ``channel.fc2``: bias-free 1×1 convs), then a spatial gate ``sigmoid(bn(conv([mean_c(x), max_c(x)])))``
    (``spatial.conv.conv``: a bias-free k×k conv from 2 maps to 1, ``spatial.conv.bn``: a batch norm of 1 channel)."""

    name: str
    channels: int
    reduced_channels: int
    spatial_kernel: int = 7


@record
class GlobalContext:
    """Global context (GCNet; timm's ``GlobalContext`` as create_attn makes it): attention pooling
    ``context = x · softmax_hw(conv_attn(x))`` (``conv_attn``: a 1×1 conv to one map, with bias), then
    ``x * sigmoid(mlp_scale(context))``, ``mlp_scale`` = 1×1 conv (bias) → layer norm over channels (eps 1e-6) →
    ReLU → 1×1 conv (bias)."""

    name: str
    channels: int
    reduced_channels: int


@record
class DropBlock:
    """DropBlock (Ghiasi et al. 2018; timm's ``DropBlock2d``): in training, zero square blocks of ``block_size``
    (all channels alike) seeded at rate ``gamma_scale · p · HW / k² / ((H − k + 1)(W − k + 1))`` and scale the rest
    to keep the mean; the identity in eval mode."""

    name: str
    channels: int
    p: float
    block_size: int
    gamma_scale: float


# --- family: anti-aliased downsampling and split attention (issue 18) -----------------------------------------


@record
class BlurPool:
    """Anti-aliased downsampling (Zhang 2019; timm's ``BlurPool2d``): reflect-pad every side by
    ``((stride − 1) + (filter_size − 1)) // 2``, then a depthwise conv of fixed weights, the outer product of the
    binomial coefficients C(n−1, k) / 2^(n−1) (n = ``filter_size``), at ``stride``. The filter is no parameter and
    not in the ``state_dict`` (timm's is a non-persistent buffer; the builder's module computes it)."""

    name: str
    channels: int
    stride: int = 2
    filter_size: int = 3


@record
class SplitAttention:
    """Split attention (ResNeSt, Zhang et al. 2020; timm's ``SplitAttn``), the 3×3 of a ``resnest`` block:
    ``conv`` (3×3, ``in_channels`` → ``out_channels × radix``, ``groups × radix`` groups, bias-free) → ``bn0`` →
    ``act0``; the ``radix`` splits are summed, averaged over the map, and ``fc1`` (1×1, ``groups`` groups, bias,
    → ``attn_channels``) → ``bn1`` → ``act1`` → ``fc2`` (1×1, ``groups`` groups, bias, → ``out_channels × radix``)
    give one weight per split and channel: a softmax over the splits of each cardinal group (a sigmoid for radix
    1); the output is the weighted sum of the splits, ``out_channels`` wide."""

    name: str
    in_channels: int
    out_channels: int
    attn_channels: int
    radix: int = 2
    groups: int = 1
    """Cardinality: groups of ``fc1`` and ``fc2`` (the conv has ``groups × radix``)."""
    stride: int = 1
    dilation: int = 1
    norm: Literal["batch", "none"] = "batch"
    """``bn0`` and ``bn1``: batch norms, or none (identities)."""
    act: ActKind = "relu"
    negative_slope: float = DEFAULT_NEGATIVE_SLOPE
    """``leaky_relu`` only."""

    @property
    def mid_channels(self) -> int:
        """The conv's output: ``out_channels × radix``."""
        return self.out_channels * self.radix


@record
class Res2Split:
    """Res2Net's hierarchical split (Gao et al. 2019; timm's ``Bottle2neck``): the input, ``width × scale``
    channels, is cut into ``scale`` splits of ``width``; split i < scale − 1 runs a 3×3 conv → norm → act (with
    ``cumulative``, first adding the previous split's output: ``sp = sp + x_i``), and the last split passes
    through, or through ``pool`` (a 3×3/s average pool) where the block starts its stage; the outputs are
    concatenated. Its modules sit beside it on the block under timm's names: the convs in the op's own module
    (``convs.0`` …), the norms in ``bns``, the pool as ``pool`` (``convs``, ``norms``, ``pool`` hold those ops,
    named relative to the block)."""

    name: str
    """``convs``: the module of the split convs."""
    width: int
    convs: tuple[Conv, ...]
    norms: tuple[Norm, ...]
    """One per conv, or none (``norm: none``)."""
    act: Act
    pool: Pool | None
    cumulative: bool
    """Each split but the first adds the previous split's output before its conv (timm: not ``is_first``)."""

    @property
    def scale(self) -> int:
        return len(self.convs) + 1

    @property
    def channels(self) -> int:
        """Input and output channels: ``width × scale``."""
        return self.width * self.scale


Op = (
    Conv
    | Norm
    | NormAct
    | Act
    | Pool
    | GlobalPool
    | Flatten
    | Dropout
    | Linear
    | Identity
    | PadShortcut
    | SqueezeExcite
    | EfficientChannelAttn
    | DropPath
    # selective kernels (issue 18, SK family)
    | ConvNormAct
    | SelectiveKernel
    | ConstantPad
    # family senet (issue 18)
    | Cbam
    | GlobalContext
    | DropBlock
    # family: anti-aliasing and split attention (issue 18)
    | BlurPool
    | SplitAttention
    # family: Res2Net (issue 18)
    | Res2Split
)


@record
class Block:
    """One residual block: ``post(main(x) + shortcut(x))``; without a shortcut, ``post(main(x))``.

    A pre-activation block first runs ``pre`` (norm, act): ``p = pre(x)``, then ``main(p) + shortcut(s)`` where
    the shortcut reads ``s = p`` when ``shortcut_from_pre`` (a projection of the pre-activated input, as in
    He et al. 2016 and timm's ResNetV2) and ``s = x`` otherwise (the identity stays clean).
    """

    name: str
    """Module name within the stage (``"0"``)."""
    kind: str
    """Block kind (``basic``, ``bottleneck``)."""
    in_channels: int
    mid_channels: int
    out_channels: int
    stride: int
    groups: int
    shortcut: ShortcutUse
    main: tuple[Op, ...]
    shortcut_ops: tuple[Op, ...]
    post: tuple[Op, ...]
    pre: tuple[Op, ...] = ()
    """Ops on the block input before the main path (pre-activation blocks); empty otherwise."""
    shortcut_from_pre: bool = False
    """The shortcut reads the output of ``pre`` instead of the block input."""

    @property
    def has_add(self) -> bool:
        return self.shortcut != "none"

    def ops(self) -> Iterator[Op]:
        """Every op of the block, in the order a forward pass runs them (:func:`resnetdsl.walk.block_ops`)."""
        from resnetdsl.walk import block_ops

        return (op for _, op in block_ops(self))


@record
class Stage:
    name: str
    """Module name of the stage (``layer1``)."""
    index: int
    """Position in the spec's ``stages`` list."""
    block_kind: str
    in_channels: int
    out_channels: int
    stride: int
    blocks: tuple[Block, ...]
    checkpoint: bool = False
    """Activation checkpointing per block in training (``torch.utils.checkpoint``)."""
    dilation: int = 1
    """Dilation of the stage's 3×3 convs (its first block's first 3×3 keeps the previous stage's)."""

    @property
    def depth(self) -> int:
        return len(self.blocks)


@record
class Plan:
    """A whole network, every detail explicit."""

    name: str
    description: str
    in_channels: int
    input_size: tuple[int, int]
    stem: tuple[Op, ...]
    stages: tuple[Stage, ...]
    head: tuple[Op, ...]
    """Empty for a backbone (``head: none``)."""
    num_classes: int | None
    zero_init_residual: bool
    final: tuple[Op, ...] = ()
    """Ops after the last stage, before the head: the final norm + act of a pre-activation network (part of the
    features, also for a backbone); empty otherwise."""
    layout: str = "resnet"
    """Module layout: ``resnet`` (torchvision), ``resnetv2`` (timm's ResNetV2, which also registers a block's
    shortcut before its main path, so that state_dict keys come in timm's order) or ``senet`` (timm's legacy
    SENets: ``layer0``, ``pool0``, ``se_module``, ``last_linear``)."""
    out_indices: tuple[int, ...] = ()
    """Multi-scale backbone (``features``): the feature maps the model returns, in order (0: the stem's tap, i:
    stage i's output); the head is then empty and the stages end with the last one asked for. Empty: a
    classifier or a single-output backbone."""
    frozen_stages: int | None = None
    """Stem and the first this many stages are frozen (no gradients, norms in eval mode); ``None``: nothing."""
    norm_eval: bool = False
    """Every batch norm stays in eval mode when the model trains."""
    pretrained_cfg: tuple[tuple[str, object], ...] = ()
    """The spec's ``pretrained_cfg`` (how the weights' data is prepared: mean, std, input sizes, crop, …) as
    (key, value) pairs; the built model offers it as ``model.pretrained_cfg``, a dict, as timm's do."""

    def classifier_name(self) -> str:
        """The module path of the classifier: the head's last Linear or 1×1 conv; ``""``: none."""
        found = [op.name for op in self.head if isinstance(op, Linear | Conv)]
        return found[-1] if found else ""

    def __repr__(self) -> str:
        depths = ", ".join(str(st.depth) for st in self.stages)
        kinds = "/".join(sorted({b.kind for st in self.stages for b in st.blocks}))
        ops = len(self.stem) + len(self.final) + len(self.head)
        ops += sum(1 for st in self.stages for b in st.blocks for _ in b.ops())
        c, (h, w) = self.in_channels, self.input_size
        head = f"{self.num_classes} classes" if self.num_classes is not None else "no head"
        return f"<Plan {self.name}: stages ({depths}) of {kinds} blocks, {ops} ops, {c}×{h}×{w} input, {head}>"

    def frozen(self, stage_index: int | None) -> bool:
        """Whether the stem (``None``) or the stage at ``stage_index`` (its position in ``stages``) is frozen."""
        if self.frozen_stages is None:
            return False
        return stage_index is None or stage_index < self.frozen_stages

    @property
    def feature_channels(self) -> int:
        if not self.stages:  # a backbone returning the stem's map alone (features.out_indices: [0])
            return next(op.out_channels for op in reversed(self.stem) if isinstance(op, Conv))
        return self.stages[-1].out_channels

    def named_ops(self) -> Iterator[tuple[str, Op]]:
        """Every op with its full module path, in the order a forward pass runs them (stem, blocks, final,
        head): :func:`resnetdsl.walk.ops_in_forward_order`. The built model registers its modules in another
        order (:func:`resnetdsl.walk.ops_in_registration_order`)."""
        from resnetdsl.walk import ops_in_forward_order

        return ops_in_forward_order(self)

    def blocks(self) -> Iterator[tuple[Stage, Block]]:
        for stage in self.stages:
            for block in stage.blocks:
                yield stage, block
