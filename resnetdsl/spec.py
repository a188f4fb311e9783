"""The spec language: pydantic models of what a user writes in YAML.

Every model forbids unknown keys and is immutable. Scalars are strict (``"3"`` is not a depth, ``true`` is not
an integer). Block settings live in ``defaults`` and may be overridden by any stage; a setting left out
(``null``) is inherited. The spec says *what* to build; :func:`resnetdsl.lower.lower` makes every detail explicit.
"""

# no `from __future__ import annotations` here: pydantic would evaluate each of the ~90 string annotations (a
# compile each) when the models are made, at every command's start
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    PrivateAttr,
    Strict,
    Tag,
    field_validator,
)

from resnetdsl import field_docs, schema_cache, vocab
from resnetdsl.regnet import RegNetSpec

if TYPE_CHECKING:
    from pydantic_core import CoreSchema

Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]

BlockKind = Literal[
    "basic",
    "bottleneck",
    "preact_basic",
    "preact_bottleneck",
    # issue 18 families
    "sk_basic",
    "sk_bottleneck",
    # issue 19: RegNet
    "regnet",
    "preact_regnet",
    # issue 18: split attention
    "resnest",
    "res2net",  # family: Res2Net (issue 18)
]
ShortcutKind = Literal[
    "identity_pad",
    "projection",
    "projection_all",
    "avgpool_projection",
    "none",
    # issue 19: RegNet Z
    "identity",
]
StrideOn = Literal["1x1", "3x3"]
StemKind = Literal["conv7", "conv3", "deep", "simple"]
StemPool = Literal["max", "conv", "none", "max_fixed", "max_ceil"]
GlobalPoolKind = vocab.GlobalPoolKind
Layout = Literal["resnet", "resnetv2", "regnet", "tv_regnet", "senet"]
NormKind = vocab.NormKind
ActKind = vocab.ActKind
ConvKind = vocab.ConvKind
AttentionKind = vocab.AttentionKind
AaKind = vocab.AaKind  # family: anti-aliasing (issue 18)
AvdKind = vocab.AvdKind  # family: split attention (issue 18)

MAX_BLOCKS = 2000
"""Most blocks in a whole network (ResNet-1202 has 600, pre-activation ResNet-1001 333): every spec the
language admits validates, summarises and draws in about a second."""
EMPTY_VALUE = "is empty; give it a value, or leave the key out to take the default"
SCHEMA_ID = "urn:resnetdsl:schema:resnet-spec"
"""The schema's ``$id``: a name, not an address (no site serves it); editors find the file by the path a spec's
``# yaml-language-server: $schema=../schemas/resnet-spec.schema.json`` line gives."""


class _Model(field_docs.DescribedModel):
    # defer_build: a model's validator is built on first use (the first spec checked), not at import; the
    # fields' descriptions come from their docstrings, set before the first schema is made
    # (field_docs.describe_pending: pydantic's use_attribute_docstrings, parsed only when a schema is made)
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_default=False,
        defer_build=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        # `block:` with nothing after it is YAML's null: say so, rather than read it as "inherit" for some keys
        # and as a type error for others (leaving a key out is how a spec inherits or takes the default)
        if value is None:
            raise ValueError(EMPTY_VALUE)
        return value


class InputSpec(_Model):
    """The input tensor a network is built and analysed for."""

    channels: Int = Field(3, ge=1, le=4096)
    """Number of input channels (3 for RGB)."""
    size: tuple[Annotated[int, Strict(), Field(ge=1, le=65536)], Annotated[int, Strict(), Field(ge=1, le=65536)]] = (
        224,
        224,
    )
    """Spatial size [height, width] used for shapes and MACs."""


class NormActSettings(_Model):
    """Normalisation and activation layers. Unset means inherited (a stage from `defaults`, the stem from
    `defaults` too)."""

    norm: NormKind | None = None
    """Normalisation after each conv: `batch` (BatchNorm2d), `group` (GroupNorm), `frozen_batch`
    (FrozenBatchNorm2d: fixed statistics and affine, buffers only, no parameters) or `none` (no layer at all).
    With layout `resnetv2` each norm is one norm + activation module: `batch` (timm's BatchNormAct2d), `group`
    (GroupNormAct), and the two norms with their nonlinearity built in, layout `resnetv2` only: `evonorm_s0`
    (EvoNorm2dS0: x·sigmoid(v·x) / group std · γ + β; parameters weight, bias, v) and `frn` (filter response
    norm with its thresholded linear unit, FilterResponseNormTlu2d: max(x / rms · γ + β, τ); parameters weight,
    bias, tau). Default: batch."""
    norm_groups: Int | None = Field(None, ge=1, le=65536)
    """Group norm and `evonorm_s0` only: number of groups; must divide the channels of every norm it applies
    to. Default: 32. Setting this (or `norm_group_channels`) overrides both from a wider scope."""
    norm_group_channels: Int | None = Field(None, ge=1, le=65536)
    """Group norm and `evonorm_s0` only: channels per group, instead of `norm_groups` (groups = channels /
    this; must divide the channels of every norm it applies to)."""
    act: ActKind | None = None
    """Activation: `relu`, `leaky_relu`, `silu`, `gelu`, `mish` or `hardswish` (torch's own modules; they have
    no parameters, so checkpoints are unaffected). Default: relu."""
    act_negative_slope: Annotated[float, Strict()] | None = Field(None, ge=0.0, le=1.0)
    """`leaky_relu` only: slope for negative inputs. Default: 0.01."""
    conv: ConvKind | None = None
    """The convolutions (stem, blocks and projection shortcuts; not a classifier): `plain` (Conv2d) or `std`
    (weight standardisation, Qiao et al. 2019, timm's StdConv2d as BiT uses it: each output channel's weight is
    standardised to zero mean and unit variance before every forward; the parameters are a Conv2d's).
    Default: plain."""
    std_eps: Annotated[float, Strict()] | None = Field(None, gt=0.0, le=1.0)
    """`conv: std` only: the eps added to the weight's variance. Default: 1e-6 (timm's StdConv2d; BiT: 1e-8)."""


class Stem(NormActSettings):
    """The layers before the first stage. Its `norm*` and `act*` settings, when unset, are those of
    `defaults`."""

    kind: StemKind = "conv7"
    """`conv7`: 7×7/2 conv + BN + ReLU (ImageNet, He et al. 2015). `conv3`: 3×3/1 conv + BN + ReLU (CIFAR).
    `deep`: three 3×3 convs, the first with stride 2 (ResNet-C, Bag of Tricks). `simple`: one 3×3/2 conv + BN +
    ReLU, no pool (RegNet's stem, Radosavovic et al. 2020)."""
    width: Int = Field(64, ge=1, le=65536)
    """Output channels of the stem."""
    mid_widths: tuple[Annotated[int, Strict(), Field(ge=1)], Annotated[int, Strict(), Field(ge=1)]] | None = None
    """`deep` stem only: output channels of its first two convs (default: half of `width` each;
    [24, 32] gives timm's tiered stem)."""
    pool: StemPool | None = None
    """Downsampling after the stem: `max` (3×3/2 max-pool), `conv` (3×3/2 conv + BN + ReLU, ResNet-RS),
    `max_fixed` (BiT's 'fixed' stem: a zero pad of 1, then a 3×3/2 max-pool without padding; modules `pad`,
    `maxpool`, or `stem.pad`, `stem.pool` with layout resnetv2), `max_ceil` (3×3/2 max-pool without padding,
    in ceil mode: the original Caffe SENets) or `none`. Default: `max` for conv7 and deep stems, `none` for conv3
    and simple."""
    conv_bias: Bool = False
    """Give the stem convolutions a bias."""
    aa: AaKind | None = None
    """Anti-aliased stem pool (timm's ``aa_layer``): with `blur`, the 3×3 max pool runs at stride 1 and a blur
    pool downsamples after it; with `avg`, a 2×2/2 average pool replaces the max pool; a `conv` pool runs its
    conv at stride 1 and the anti-aliasing pool follows it. Default: `defaults.aa` (none)."""


class BlockSettings(NormActSettings):
    """Settings of the residual blocks. Set in `defaults`, overridable per stage; unset means inherited."""

    block: BlockKind | None = None
    """`basic` (two 3×3 convs, expansion 1) or `bottleneck` (1×1, 3×3, 1×1, expansion 4), each conv followed by
    BN + ReLU (ReLU after the add); `preact_basic` / `preact_bottleneck`: the pre-activation blocks of
    He et al. 2016 (BN + ReLU before each conv, nothing after the add; a projection reads the pre-activated
    input). A pre-activation network's stem ends with its conv (and pool), and a final BN + ReLU follows the
    last stage. `sk_basic` / `sk_bottleneck`: timm's selective kernel blocks (SKNet, Li et al. 2019), whose
    (first) 3×3 is a selective kernel conv (see `sk_kernels`).
    `regnet`: RegNet's X/Y block (1×1, 3×3 in groups of `group_width` channels carrying the stride,
    optional squeeze-and-excitation after its ReLU, 1×1; inner width = output width × `bottleneck_ratio`,
    expansion 1). `preact_regnet`: timm's pre-activation RegNet block (RegNet V, `PreBottleneck`): norm + act
    before each 1×1 and after the SE, the shortcut (the identity too) reading the pre-activated input, nothing
    after the add; the network ends with the activation alone, no final norm.
    `resnest`: ResNeSt's bottleneck (Zhang et al. 2020, timm's ResNestBottleneck): 1×1, a split-attention
    3×3 (`radix` splits per group, see `groups`, `width_per_group`), 1×1, expansion 4, and an average pool
    where it downsamples (`avd`).
    `res2net`: Res2Net's bottleneck (Gao et al. 2019, timm's Bottle2neck): 1×1 to the inner width × `scale`, the
    hierarchical split (`scale` splits; each but the last runs a 3×3 conv + BN + ReLU after adding the previous
    split's output, none added in a stage's first block, whose last split goes through a 3×3 average pool), 1×1,
    expansion 4. Default: basic."""
    shortcut: ShortcutKind | None = None
    """Shortcut policy (He et al. 2015, Bag of Tricks): `identity_pad` (A: parameter-free, stride by subsampling,
    extra channels zero-padded), `projection` (B: 1×1 conv only where the shape changes), `projection_all`
    (C: 1×1 conv on every block), `avgpool_projection` (D: 2×2 avg-pool then 1×1 conv where the shape changes),
    `none` (plain network, no residual add), `identity` (the identity where the shape keeps, no shortcut and
    no add where it changes: timm's RegNet Z, `downsample: None`). Default: projection."""
    stride_on: StrideOn | None = None
    """Bottleneck only: which conv carries the stride, `1x1` (original Caffe model) or `3x3` (v1.5,
    torchvision). Default: 3x3."""
    groups: Int | None = Field(None, ge=1, le=4096)
    """Bottleneck, resnest and res2net only: groups of the 3×3 conv (ResNeXt cardinality; resnest's splits are per
    group; each of res2net's split convs). Default: 1."""
    width_per_group: Int | None = Field(None, ge=1, le=65536)
    """Bottleneck, resnest and res2net only: channels per group; inner width = int(width × width_per_group / 64) ×
    groups (res2net: the width of each split, timm's `base_width`). Default: 64."""
    expansion: Int | None = Field(None, ge=1, le=64)
    """Output channels = stage width × expansion. Default: 1 for basic, 4 for bottleneck."""
    conv_bias: Bool | None = None
    """Give block and shortcut convolutions a bias. Default: false."""
    shortcut_norm: Bool | None = None
    """Follow a projection shortcut's 1×1 conv with the blocks' norm. Default: true; false for pre-activation
    blocks."""
    dropout: Annotated[float, Strict()] | None = Field(None, ge=0.0, lt=1.0)
    """`preact_basic` only: dropout probability between the two 3×3 convs (after the second BN + ReLU; Wide
    ResNets, Zagoruyko & Komodakis 2016). Default: none."""
    attention: AttentionKind | None = None
    """Channel attention on the residual branch, after its last norm and before the add (timm's placement):
    `se` (squeeze-and-excitation: global mean → 1×1 conv → ReLU → 1×1 conv → sigmoid, both convs with bias),
    `eca` (efficient channel attention: global mean → 1-D conv across channels → sigmoid) or `none`.
    Default: none."""
    se_ratio: Annotated[float, Strict()] | None = Field(None, gt=0.0, le=1.0)
    """`se` only: reduced width = the block's output channels × this, rounded to a multiple of `se_divisor`
    (timm's make_divisible: nearest multiple, at least one divisor); in a `regnet` block the block's input
    channels × this, rounded (RegNet Y: 0.25; `se_divisor` does not apply), its activation the block's `act`
    (timm's and torchvision's RegNets). Default: 0.0625 (1/16)."""
    se_divisor: Int | None = Field(None, ge=1, le=4096)
    """`se` only: the reduced width is a multiple of this. Default: 8."""
    eca_kernel: Int | None = Field(None, ge=1, le=255)
    """`eca` only: odd kernel size of the 1-D conv. Default: from the channels C as timm computes it:
    t = int(|log2(C) + 1| / 2), the next odd number if t is even, at least 3."""
    # --- selective kernels (issue 18, SK family) ---
    sk_kernels: tuple[Annotated[int, Strict(), Field(ge=3, le=15)], ...] | None = Field(
        None, min_length=2, max_length=8
    )
    """`sk_basic` / `sk_bottleneck` only: the kernel of each branch of the selective kernel conv, odd sizes
    (timm's `kernel_size`). Default: [3, 5]."""
    sk_keep_3x3: Bool | None = None
    """`sk_basic` / `sk_bottleneck` only: every branch is a 3×3 conv, a kernel k becoming dilation (k − 1) / 2
    (times the stage's dilation). Default: true."""
    sk_split_input: Bool | None = None
    """`sk_basic` / `sk_bottleneck` only: each branch reads an equal share of the SK conv's input channels (their
    number must divide them), instead of all of them. Default: true."""
    sk_rd_ratio: Annotated[float, Strict()] | None = Field(None, gt=0.0, le=1.0)
    """`sk_basic` / `sk_bottleneck` only: the attention's width = the SK conv's output channels × this, rounded to
    a multiple of `sk_rd_divisor` (timm's make_divisible). Default: 0.0625 (1/16)."""
    sk_rd_divisor: Int | None = Field(None, ge=1, le=4096)
    """`sk_basic` / `sk_bottleneck` only: the attention's width is a multiple of this. Default: 8."""
    drop_path: Annotated[float, Strict()] | None = Field(None, ge=0.0, lt=1.0)
    """Stochastic depth: the highest rate of timm's linear rule. Block i of all N blocks of the network
    (counted from 0) drops its residual branch with probability rate × i / (N − 1), where rate is this setting
    of the block's stage; the first block never drops. Identity in eval mode. Default: 0."""
    # --- RegNet (issue 19) ---
    group_width: Int | None = Field(None, ge=1, le=65536)
    """`regnet` only: channels per group of the 3×3 conv (groups = inner width / this; it must divide the inner
    width). Default: the inner width (one group)."""
    bottleneck_ratio: Annotated[float, Strict()] | None = Field(None, gt=0.0, le=64.0)
    """`regnet` only: inner width over the block's output width, inner = int(round(width × this)) (1 for
    RegNet X and Y, 4 for RegNet Z). Default: 1."""
    linear_out: Bool | None = None
    """No activation after the add (timm's RegNet Z, `linear_out`); post-activation blocks only. A network
    whose last block has none ends with its activation after the last stage (timm's `final_conv`), unless
    `head.conv_width` gives that conv. Default: false."""
    # family senet (issue 18): SENet-154's shortcut and first conv, pruned widths
    shortcut_kernel: Literal[1, 3] | None = None
    """Kernel of a projection shortcut's conv where the block strides or dilates (timm's `down_kernel_size`;
    SENet-154 uses 3, padded to keep the grid); a projection at stride 1 without dilation stays 1×1.
    Default: 1."""
    reduce_first: Int | None = Field(None, ge=1, le=64)
    """The first conv of the residual branch outputs the inner width divided by this (timm's `reduce_first`:
    2 in SENet-154, whose first 1×1 is half as wide as its 3×3); it must divide the inner width. Default: 1."""
    conv_widths: tuple[Annotated[int, Strict(), Field(ge=1, le=65536)], ...] | None = Field(
        None, min_length=1, max_length=2
    )
    """Output channels of each conv of the residual branch but the last, whose output is the block's
    (width × expansion): `[c1]` for basic blocks, `[c1, c2]` for bottlenecks (a pruned network's widths, e.g.
    timm's `ecaresnet50d_pruned`); overrides `width_per_group`, `groups`' inner width and `reduce_first`.
    Default: the widths the block's rule gives."""

    # family: anti-aliased downsampling and split attention (issue 18)
    aa: AaKind | None = None
    """Basic and bottleneck only: anti-aliased downsampling (Zhang 2019, timm's ``aa_layer``). A block that
    downsamples runs its strided 3×3 at stride 1 and a pool follows its activation: `blur` (a 3×3 binomial blur
    pool with reflect padding, timm's BlurPool2d) or `avg` (an s×s/s average pool); a block whose first 3×3 keeps
    a smaller dilation than the stage's (`output_stride`) gets the pool at stride 1, as timm. `none`: no pool.
    The stem takes it too (see `stem.aa`). Default: none."""
    radix: Int | None = Field(None, ge=1, le=64)
    """Resnest only: splits per cardinal group of the split-attention 3×3 (1: a sigmoid gate instead of the
    softmax over splits). Default: 2."""
    avd: AvdKind | None = None
    """Resnest only: where a downsampling block strides (timm's ``avd``, ``avd_first``): a 3×3/s average pool
    `first` (before the split-attention conv) or `last` (after it), or `none` (the conv strides). Default: last."""
    # family: Res2Net (issue 18)
    scale: Int | None = Field(None, ge=2, le=64)
    """Res2net only: splits of the block's hierarchical 3×3 (timm's `scale`): the first 1×1 outputs the inner
    width × this, and `scale − 1` 3×3 convs run on all splits but the last. Default: 4."""


class BlockOverride(BlockSettings):
    """Settings for chosen blocks of a stage, over the stage's own: any block setting, and the block's width and
    stride. Module names do not change (the block at index j of stage `layerN` stays `layerN.j`)."""

    at: Int | tuple[Int, ...]
    """The blocks it applies to: an index or a list of indices (0 is the stage's first block; -1 its last)."""
    width: Int | None = Field(None, ge=1, le=65536)
    """Base width of these blocks. Default: the stage's."""
    stride: Int | None = Field(None, ge=1, le=4)
    """Stride of these blocks. Default: the stage's stride for its first block, 1 for the others."""


class Stage(BlockSettings):
    """A run of blocks at one width. The first block may change resolution (stride) and width."""

    depth: Int = Field(ge=1, le=MAX_BLOCKS)
    """Number of blocks (a whole network holds at most 2000: ResNet-1202 has 600)."""
    width: Int = Field(ge=1, le=65536)
    """Base width ("planes"); blocks output width × expansion channels."""
    stride: Int = Field(1, ge=1, le=4)
    """Stride of the stage's first block."""
    dilation: Int | None = Field(None, ge=1, le=64)
    """Dilation of the stage's 3×3 convs (padding = dilation keeps the size). As in torchvision and timm, the
    first block's first 3×3 keeps the previous stage's dilation; the other 3×3 convs take this one. Default: the
    previous stage's (1 for the first), times any stride `output_stride` turns into dilation."""
    name: Str | None = Field(None, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    """Module name of the stage (default: layer1, layer2, …); not the name of a torch.nn.Module attribute."""
    blocks: tuple[BlockOverride, ...] = Field((), max_length=MAX_BLOCKS)
    """Per-block control: settings for chosen blocks (by index) over the stage's, e.g.
    `[{at: 0, block: bottleneck}, {at: [2, 3], width: 96}]`. Each block is chosen at most once."""
    checkpoint: Bool = False
    """Activation checkpointing: in training, each block of the stage keeps only its input for backward and
    runs its forward again there (torch.utils.checkpoint), trading compute for memory. No effect in eval mode
    and no change to the weights or outputs."""


class Features(_Model):
    """Multi-scale feature outputs (timm's ``features_only``): the built model returns a list of maps."""

    out_indices: tuple[Annotated[int, Strict(), Field(ge=0, le=64)], ...] = Field(min_length=1, max_length=65)
    """Which maps, in increasing order: 0 is the stem's output after its activation and before its pool (its
    last conv for pre-activation networks), i the output of stage i (from 1). The head is not built, and
    stages after the last one asked for are left out, as is a pre-activation network's final norm + act
    (timm's ``FeatureListNet``)."""


class Head(_Model):
    """Classifier head: global pooling, optional dropout, a linear layer."""

    pool: GlobalPoolKind = "avg"
    """Global pooling before the classifier."""
    dropout: Annotated[float, Strict()] = Field(0.0, ge=0.0, lt=1.0)
    """Dropout probability before the classifier."""
    num_classes: Int = Field(1000, ge=1, le=1_000_000)
    """Number of output classes."""
    bias: Bool = True
    """Give the classifier a bias."""
    conv_width: Int | None = Field(None, ge=1, le=65536)
    """A 1×1 conv + norm + act to this many channels after the last stage, before the pool (timm's RegNet
    `num_features`, its `final_conv`; the last stage's norm and act). Default: none."""


class Init(_Model):
    """Weight initialisation (torchvision's scheme: Kaiming-normal fan-out convs, BN γ=1 β=0)."""

    zero_init_residual: Bool = False
    """Zero the γ of the last BN in each residual branch (pre-activation blocks, which end with a conv: that
    conv's weight), so every block starts as the identity."""


class PretrainedCfg(_Model):
    """How pretrained weights expect their input, as timm's `pretrained_cfg` says (each key optional)."""

    tag: Str | None = None
    """timm's tag of the weights (`a1_in1k`)."""
    mean: tuple[Annotated[float, Strict()], ...] | None = Field(None, min_length=1, max_length=4096)
    """Per-channel mean subtracted from the input (in 0…1 units)."""
    std: tuple[Annotated[float, Strict()], ...] | None = Field(None, min_length=1, max_length=4096)
    """Per-channel standard deviation the input is divided by."""
    input_size: tuple[Int, Int, Int] | None = None
    """[channels, height, width] of the training input."""
    test_input_size: tuple[Int, Int, Int] | None = None
    """[channels, height, width] the weights are best evaluated at."""
    crop_pct: Annotated[float, Strict()] | None = Field(None, gt=0.0, le=2.0)
    """Centre-crop fraction of the resized image at evaluation."""
    interpolation: Literal["bilinear", "bicubic", "nearest", "lanczos"] | None = None
    """Resize interpolation."""
    first_conv: Str | None = None
    """Module path of the first conv (the one to adapt for other input channels)."""
    classifier: Str | None = None
    """Module path of the classifier (the one to replace for other classes)."""


def _head_tag(value: Any) -> str | None:
    if value == "none":
        return "none"
    return "mapping" if isinstance(value, dict | BaseModel) else None


HeadField = Annotated[
    Annotated[Head, Tag("mapping")] | Annotated[Literal["none"], Tag("none")],
    Discriminator(_head_tag),
]


class Spec(_Model):
    """A ResNet: stem, stages of residual blocks, and head."""

    model_config = ConfigDict(
        title="resnetdsl spec",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    name: Str = Field(min_length=1, max_length=200)
    """Name of the network."""
    description: Str = ""
    """Free text."""
    extends: Str | None = None
    """A preset name or a path (relative to this file) whose spec this one starts from; keys given here
    override it (mappings merge key by key, lists are replaced). Resolved when loading."""
    input: InputSpec = InputSpec.model_construct()
    """Input tensor."""
    stem: Stem = Stem.model_construct()
    """Stem."""
    defaults: BlockSettings = BlockSettings.model_construct()
    """Block settings every stage inherits."""
    stages: tuple[Stage, ...] = Field(min_length=1, max_length=64)
    """The stages, in order."""
    head: HeadField = Head.model_construct()
    """Classifier head, or `none` for a backbone that returns the last feature map."""
    init: Init = Init.model_construct()
    """Weight initialisation."""
    output_stride: Literal[8, 16, 32] | None = None
    """Largest reduction of the network (timm's ``output_stride``, torchvision's
    ``replace_stride_with_dilation``): once the stem and stages have reduced the input by this much, every
    later stride becomes a dilation of the later stages' 3×3 convs instead. Default: no limit."""
    features: Features | None = None
    """Build a multi-scale backbone returning the maps listed (see `out_indices`); default: a classifier (or,
    with `head: none`, a backbone returning the last map)."""
    frozen_stages: Int | None = Field(None, ge=0, le=64)
    """Freeze the stem and the first this many stages (mmdetection's `frozen_stages`; 0: the stem only): their
    parameters do not require gradients and their norms stay in eval mode in `model.train()`. Default: none."""
    norm_eval: Bool = False
    """Keep every batch norm in eval mode in `model.train()` (running statistics fixed; their affine parameters
    still train unless frozen), as detection backbones often do."""
    drop_block: Annotated[float, Strict()] | None = Field(None, ge=0.0, lt=1.0)
    """DropBlock rate (timm's `drop_block_rate` and schedule): the third stage's blocks drop 5×5 blocks (γ scale
    0.25), the fourth's 3×3 blocks, after the first norm of a basic block and the second of a bottleneck (before
    its activation); post-activation blocks only, a network of at least three stages. Identity in eval mode.
    Default: none."""
    pretrained_cfg: PretrainedCfg | None = None
    """How the input of pretrained weights is prepared (timm's `pretrained_cfg`); the built model offers it as
    `model.pretrained_cfg`. Import writes it from timm's model. Default: none."""
    layout: Layout = "resnet"
    """Module names of the built model. `resnet`: torchvision's (`conv1`, `bn1`, `layer1.0.conv1`, `fc`), as
    timm's ResNet uses them. `resnetv2`: timm's ResNetV2 (`stem.conv`, `stages.0.blocks.0.norm1`,
    `….downsample.conv`, final `norm`, `head.fc` a 1×1 conv), for pre-activation networks only; each norm there
    is one BatchNorm + ReLU module. `regnet`: timm's RegNet (`stem.conv`, `s1.b1.conv1.conv`, `….conv1.bn`
    one BatchNorm + ReLU, `….se.fc1`, `….downsample.conv`, `head.fc`); `tv_regnet`: torchvision's RegNet
    (`stem.0`, `trunk_output.block1.block1-0.f.a.0`, `….f.se.fc1`, `….proj.0`, `fc`); both for `regnet`
    blocks and the `simple` stem only. `senet`: timm's legacy SENets (`layer0.conv1`, `pool0`, `….se_module`,
    `last_linear`), for basic and bottleneck blocks; its basic block applies its ReLU before the SE gate, as that
    code does."""
    # --- RegNet (issue 19) ---
    regnet: RegNetSpec | None = None
    """Generate the stem and the stages from RegNet's few numbers (Radosavovic et al. 2020): when the spec is
    loaded this key is replaced by a `simple` stem and the stages it gives (`regnet` blocks, stride 2 each;
    `defaults` and `stem` written beside it are merged over them). It cannot be given with `stages`."""

    _source: Any = PrivateAttr(default=None)
    _file: str | None = PrivateAttr(default=None)
    _via: Any = PrivateAttr(default=None)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[BaseModel], handler: GetCoreSchemaHandler, /) -> "CoreSchema":
        # the schema the last process made, when the models and pydantic are the same (resnetdsl.schema_cache)
        if source is Spec:
            cached: CoreSchema | None = schema_cache.load("core")
            if cached is not None:
                return cached
        return super().__get_pydantic_core_schema__(source, handler)

    @classmethod
    def __pydantic_on_complete__(cls) -> None:
        if cls is Spec:
            schema_cache.store("core", cls.__pydantic_core_schema__)


field_docs.register(__name__, _Model)
