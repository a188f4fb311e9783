"""CPU inference pass over a fused model: each conv, with the residual add and the ReLU after it, becomes one
oneDNN primitive whose weights are packed once, in the layout oneDNN wants, instead of at every call.

This is what inductor's freezing does for convolutions (``torch.ops.mkldnn._convolution_pointwise`` with a
weight from ``_reorder_convolution_weight``), done here in eager mode over a torch.fx graph of
:func:`~resnetdsl.passes.fuse.fuse_for_inference`'s model, so it costs no compile time:

1. **fuse** (a copy): batch norms after convs folded, dropout and drop path gone, channels_last;
2. **trace** with torch.fx (blocks and containers traced through, every other module a leaf), drop the
   identities fusing left, and propagate an example input's shapes (``ShapeProp``);
3. **rewrite**, in this order:

   - ``conv → add → ReLU`` and ``conv → add``, where the conv's output feeds only the add and the add's other
     operand has the same shape: one binary primitive (``_convolution_pointwise.binary``, post-op ``add``, then
     ``relu``). Of two convs meeting at an add (a projection shortcut), the later one in the graph takes the
     add, so the other operand is ready when it runs;
   - ``conv → ReLU`` (the conv's output feeding only the ReLU): one primitive with the ``relu`` post-op;
   - every other conv (2-d, zero padding given as numbers): a primitive with packed weights and no post-op;
   - ``gate → add → ReLU`` of a squeeze-excite or ECA gate whose add no conv took: ``addcmul`` and an in-place
     ReLU (:class:`GatedResidual`), two passes over the tensor instead of three;
   - each batch norm that did not fold (after an add: pre-activation blocks, the final norm), with its ReLU: a
     1×1 depthwise conv with the ``relu`` post-op, one pass instead of two (the same affine map);
   - a fused add whose other operand is a new tensor that nothing reads afterwards writes into it
     (``_convolution_pointwise_``, ``addcmul_``) instead of allocating its result.

What it leaves as it was: group norms, pools, the gates' own small convs, the head. Weights are packed per
input shape, at the first call with that shape (oneDNN's best layout can depend on it), and kept for the last
few shapes seen.

CPU and float32 only; outputs equal the eval-mode model's to float rounding (summation order differs).
"""

from __future__ import annotations

import itertools
import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from resnetdsl import plan as P
from resnetdsl.build_torch import (
    BatchNormAct2d,
    EfficientChannelAttn,
    FrozenBatchNorm2d,
    ResidualBlock,
    ResNet,
    SqueezeExcite,
)
from resnetdsl.ops import describe
from resnetdsl.passes.fuse import fuse_for_inference
from resnetdsl.walk import part_ops

_SHAPES_KEPT = 8
"""Input shapes whose packed weights a conv keeps (a new shape past these drops them all and starts again)."""

_ADDS = (operator.add, operator.iadd, torch.add)
_RELUS = (F.relu, torch.relu)


class PackedConv2d(nn.Module):
    """A 2-d convolution run as one oneDNN primitive with weights packed for its input shape, optionally fused
    with an elementwise add of a second input (``binary="add"``) and then a ReLU (``unary="relu"``)."""

    weight: Tensor
    bias: Tensor | None

    def __init__(self, conv: nn.Conv2d, *, binary: str | None = None, unary: str | None = None) -> None:
        super().__init__()
        assert isinstance(conv.padding, tuple), conv.padding  # the caller leaves 'same'/'valid' convs alone
        with torch.inference_mode(False):  # ordinary tensors, which count their versions, even if built in one
            self.register_buffer("weight", conv.weight.detach().clone())
            self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().clone())
        self.padding = list(conv.padding)
        self.stride = list(conv.stride)
        self.dilation = list(conv.dilation)
        self.groups = conv.groups
        self.binary = binary
        self.unary = unary
        self.inplace = False
        """With ``binary``: write the result into the second input's memory (set when nothing reads it later)."""
        # (input shape, weight storage, its version) → the weight in oneDNN's layout; not state. A new weight
        # (load_state_dict, .to()) or an input of another shape packs again.
        self._packed: dict[tuple[torch.Size, int, int], Tensor] = {}

    def packed_weight(self, x: Tensor) -> Tensor:
        """The weight in the layout oneDNN picks for inputs of ``x``'s shape (packed on first use)."""
        key = (x.shape, self.weight.data_ptr(), self.weight._version)
        packed = self._packed.get(key)
        if packed is None:
            if len(self._packed) >= _SHAPES_KEPT:
                self._packed.clear()
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                self.weight, self.padding, self.stride, self.dilation, self.groups, list(x.shape)
            )
            self._packed[key] = packed
        return packed

    def forward(self, x: Tensor, other: Tensor | None = None) -> Tensor:
        w = self.packed_weight(x)
        mkldnn = torch.ops.mkldnn
        if self.binary is None:
            out: Tensor = mkldnn._convolution_pointwise(
                x, w, self.bias, self.padding, self.stride, self.dilation, self.groups, self.unary or "none", [], ""
            )
            return out
        assert other is not None, "a binary conv needs its second input"
        if self.inplace and other.is_contiguous(
            memory_format=torch.channels_last
        ):  # accumulate into ``other``'s memory: no new tensor (``other`` is dead after)
            out = mkldnn._convolution_pointwise_.binary(
                other, x, w, self.bias, self.padding, self.stride, self.dilation, self.groups, self.binary, 1.0,
                self.unary, [], "",
            )  # fmt: skip
            return out
        out = mkldnn._convolution_pointwise.binary(
            x, other, w, self.bias, self.padding, self.stride, self.dilation, self.groups, self.binary, 1.0,
            self.unary, [], "",
        )  # fmt: skip
        return out

    def extra_repr(self) -> str:
        o, i, kh, kw = self.weight.shape
        post = "+".join(p for p in (self.binary, self.unary) if p) or "none"
        return (
            f"{i * self.groups}, {o}, kernel_size=({kh}, {kw}), stride={tuple(self.stride)}, "
            f"padding={tuple(self.padding)}, groups={self.groups}, post_ops={post}{', inplace' * self.inplace}"
        )


class GatedResidual(nn.Module):
    """``relu(x · gate(x) + other)``: a squeeze-excite or ECA gate with the residual add and ReLU after it, in two
    passes over the tensor (``addcmul``, then the ReLU in place) instead of three (multiply, add, ReLU)."""

    def __init__(self, attention: SqueezeExcite | EfficientChannelAttn, *, relu: bool) -> None:
        super().__init__()
        self.attention = attention
        self.relu = relu
        self.inplace = False
        """Write the result into ``other``'s memory (set when nothing reads it later)."""

    def forward(self, x: Tensor, other: Tensor) -> Tensor:
        a = self.attention
        if isinstance(a, SqueezeExcite):  # the gate as SqueezeExcite.forward computes it
            gate = a.gate(a.fc2(a.act(a.fc1(x.mean((2, 3), keepdim=True)))))
        else:  # as EfficientChannelAttn.forward computes it
            gate = a.gate(a.conv(x.mean((2, 3)).view(x.shape[0], 1, -1))).view(x.shape[0], -1, 1, 1)
        if self.inplace and other.is_contiguous(memory_format=torch.channels_last):
            out = other.addcmul_(x, gate)
        else:
            out = torch.addcmul(other, x, gate)
        return out.relu_() if self.relu else out

    def extra_repr(self) -> str:
        return f"relu={self.relu}{', inplace' * self.inplace}"


class _Tracer(fx.Tracer):
    """Traces through the network, its blocks and sequential containers; every other module is one node."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return not isinstance(m, nn.Sequential | ResidualBlock | ResNet)


def _module(gm: fx.GraphModule, node: fx.Node) -> nn.Module | None:
    return gm.get_submodule(str(node.target)) if node.op == "call_module" else None


def _is_conv(gm: fx.GraphModule, node: object) -> bool:
    if not isinstance(node, fx.Node):
        return False
    m = _module(gm, node)
    return (
        isinstance(m, nn.Conv2d)
        and type(m) is nn.Conv2d
        and m.padding_mode == "zeros"
        and isinstance(m.padding, tuple)
        and len(node.users) == 1
    )


def _is_relu(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_function" and node.target in _RELUS:
        return len(node.args) == 1 and not node.kwargs
    return type(_module(gm, node)) is nn.ReLU


def _shape(node: object) -> tuple[torch.Size, torch.dtype] | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return None if meta is None or not hasattr(meta, "shape") else (meta.shape, meta.dtype)


def _sole_relu(gm: fx.GraphModule, node: fx.Node) -> fx.Node | None:
    """The ReLU that is ``node``'s only reader, if there is one."""
    users = list(node.users)
    return users[0] if len(users) == 1 and _is_relu(gm, users[0]) else None


def _replace(
    gm: fx.GraphModule, conv: fx.Node, chain_end: fx.Node, packed: nn.Module, other: Any, suffix: str = "packed"
) -> None:
    """Put one call of ``packed`` where ``chain_end`` was; ``conv`` … ``chain_end`` go."""
    graph = gm.graph
    name = f"{str(conv.target).replace('.', '_')}_{suffix}"
    gm.add_submodule(name, packed)
    args = (conv.args[0],) if other is None else (conv.args[0], other)
    with graph.inserting_before(chain_end):
        new = graph.call_module(name, args)
    new.meta = dict(chain_end.meta)
    chain = _chain(conv, chain_end)
    chain_end.replace_all_uses_with(new)
    for node in reversed(chain):  # each now has no reader
        graph.erase_node(node)


def _chain(conv: fx.Node, end: fx.Node) -> list[fx.Node]:
    """The nodes from ``conv`` to ``end``, each the sole reader of the one before."""
    out = [conv]
    while out[-1] is not end:
        out.append(next(iter(out[-1].users)))
    return out


def _fuse_adds(gm: fx.GraphModule) -> int:
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    count = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target not in _ADDS or len(node.args) != 2 or node.kwargs:
            continue
        a, b = node.args
        convs = sorted((x for x in (a, b) if _is_conv(gm, x)), key=order.__getitem__)
        if not convs or a is b:
            continue
        conv = convs[-1]
        other = b if conv is a else a
        if _shape(other) is None or _shape(other) != _shape(conv) or _shape(node) != _shape(conv):
            continue  # a broadcast add (or a non-tensor) is not the residual add
        end = _sole_relu(gm, node) or node
        unary = "relu" if end is not node else None
        _replace(gm, conv, end, _packed(gm, conv, binary="add", unary=unary), other)
        count += 1
    return count


def _packed(gm: fx.GraphModule, conv: fx.Node, **post: str | None) -> PackedConv2d:
    m = _module(gm, conv)
    assert isinstance(m, nn.Conv2d)
    return PackedConv2d(m, **post)


def _pack_convs(gm: fx.GraphModule) -> int:
    count = 0
    for node in list(gm.graph.nodes):
        if not _is_conv(gm, node):
            continue
        relu = _sole_relu(gm, node)
        _replace(gm, node, relu or node, _packed(gm, node, unary="relu" if relu else None), None)
        count += 1
    return count


def _fuse_gates(gm: fx.GraphModule) -> int:
    """A squeeze-excite or ECA gate whose output feeds only a residual add of its own shape (no conv took that
    add), with the ReLU after it: one :class:`GatedResidual`."""
    count = 0
    for node in list(gm.graph.nodes):
        attention = _module(gm, node)
        if type(attention) not in (SqueezeExcite, EfficientChannelAttn) or len(node.users) != 1:
            continue
        add = next(iter(node.users))
        if add.op != "call_function" or add.target not in _ADDS or len(add.args) != 2 or add.kwargs:
            continue
        other = add.args[1] if add.args[0] is node else add.args[0]
        if other is node or _shape(other) is None or not _shape(other) == _shape(node) == _shape(add):
            continue
        relu = _sole_relu(gm, add)
        assert isinstance(attention, SqueezeExcite | EfficientChannelAttn)
        _replace(gm, node, relu or add, GatedResidual(attention, relu=relu is not None), other, "residual")
        count += 1
    return count


_FRESH = (PackedConv2d, nn.MaxPool2d, SqueezeExcite, EfficientChannelAttn, GatedResidual)
"""Modules whose output is a new tensor (a padding shortcut's may be a view of its input)."""


def _sum_in_place(gm: fx.GraphModule) -> int:
    """Fused adds (binary convs, gated residuals) whose other operand is a new tensor read by nothing after them
    write into that tensor instead of a new one (one allocation less per block)."""
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    count = 0
    for node in gm.graph.nodes:
        m = _module(gm, node)
        if not (isinstance(m, PackedConv2d) and m.binary is not None) and not isinstance(m, GatedResidual):
            continue
        other = node.args[1]
        assert isinstance(other, fx.Node)
        fresh = isinstance(_module(gm, other), _FRESH)  # its own tensor, not a view of another
        if fresh and other is not node.args[0] and all(order[u] < order[node] for u in other.users if u is not node):
            m.inplace = True
            count += 1
    return count


def _affine(norm: nn.Module) -> tuple[Tensor, Tensor] | None:
    """An eval-mode batch norm (frozen or not) as the per-channel ``scale``, ``shift`` it applies; else None."""
    if isinstance(norm, FrozenBatchNorm2d) or (
        type(norm) in (nn.BatchNorm2d, BatchNormAct2d) and not norm.training and norm.track_running_stats
    ):
        mean, var, weight, bias = (getattr(norm, k) for k in ("running_mean", "running_var", "weight", "bias"))
        assert isinstance(mean, Tensor) and isinstance(var, Tensor)
        weight = weight if isinstance(weight, Tensor) else torch.ones_like(var)
        bias = bias if isinstance(bias, Tensor) else torch.zeros_like(mean)
        eps: float = getattr(norm, "eps")  # noqa: B009  (an attribute of both norm classes)
        scale = weight * (var + eps).rsqrt()
        return scale.detach(), (bias - mean * scale).detach()
    return None


def _norms_to_depthwise(gm: fx.GraphModule) -> int:
    """Each norm that did not fold (after an add) as a 1×1 depthwise conv with the ReLU after it (a
    ``BatchNormAct2d``'s own, or a sole reader) as its post-op: one pass over the tensor instead of two."""
    count = 0
    for node in list(gm.graph.nodes):
        norm = _module(gm, node)
        affine = None if norm is None else _affine(norm)
        if affine is None or len(node.args) != 1:
            continue
        scale, shift = affine
        own_act = isinstance(norm, BatchNormAct2d)
        if isinstance(norm, BatchNormAct2d) and type(norm.act) is not nn.ReLU:
            continue
        relu = None if own_act else _sole_relu(gm, node)
        channels = scale.numel()
        conv = nn.Conv2d(channels, channels, 1, groups=channels, bias=True)
        with torch.no_grad():
            conv.weight.copy_(scale.reshape(channels, 1, 1, 1))
            conv.bias.copy_(shift)  # type: ignore[union-attr]
        unary = "relu" if own_act or relu is not None else None
        _replace(gm, node, relu or node, PackedConv2d(conv, unary=unary), None)
        count += 1
    return count


def _drop_identities(gm: fx.GraphModule) -> None:
    for node in list(gm.graph.nodes):
        if type(_module(gm, node)) is nn.Identity and len(node.args) == 1:
            node.replace_all_uses_with(node.args[0])
            gm.graph.erase_node(node)


def fused_on_onednn(model: ResNet, who: str) -> ResNet:
    """``model`` fused (a copy, unless it is fused already), after checking that oneDNN can run it: float32 on
    the CPU, and PyTorch built with oneDNN.

    Raises:
        ValueError: it cannot (the message names ``who``, the pass that asked).
    """
    tensors = [*model.parameters(), *model.buffers()]
    if any(t.device.type != "cpu" or (t.is_floating_point() and t.dtype != torch.float32) for t in tensors):
        raise ValueError(f"{who} runs float32 CPU models (on a GPU: fuse_for_inference)")
    if not torch.backends.mkldnn.is_available():  # type: ignore[no-untyped-call]
        raise ValueError(f"{who} needs PyTorch built with oneDNN (mkldnn)")
    return fuse_for_inference(model, inplace=False) if not _already_fused(model) else model.eval()


def _already_fused(model: ResNet) -> bool:
    """True when the first conv → batch-norm pair of the plan no longer has its norm (the model was fused)."""
    plan = model.plan
    paths: list[tuple[str, tuple[P.Op, ...]]] = [("", plan.stem)]
    paths += [(f"{st.name}.{b.name}.", (*part_ops(b, "pre"), *part_ops(b, "main"))) for st, b in plan.blocks()]
    for prefix, ops in paths:
        for op, nxt in itertools.pairwise(ops):
            if describe(op).fold_role(op) == "conv" and describe(nxt).fold_role(nxt) == "norm":
                norm = model.get_submodule(prefix + nxt.name)
                return not isinstance(norm, nn.BatchNorm2d | FrozenBatchNorm2d)
    return False


def pack_for_inference(model: ResNet, *, input_size: tuple[int, int] | None = None) -> fx.GraphModule:
    """A CPU inference copy of ``model``: :func:`fuse_for_inference`, then every conv (with the residual add and
    ReLU after it) one oneDNN primitive with pre-packed weights (see the module docstring).

    Args:
        model: a float32 CPU network from :func:`resnetdsl.build_model`, fused already or not.
        input_size: (H, W) of the example input whose shapes decide which adds are residual (default: the
            plan's); any size the network accepts runs afterwards.

    Returns:
        A ``torch.fx.GraphModule`` in eval mode, with the model's ``plan``, ``feature_info``, ``num_classes`` and
        ``num_features``; its ``forward`` takes and returns what the model's does. Run it under
        ``torch.inference_mode()`` or ``torch.no_grad()``: the packed convs have no backward.

    Raises:
        ValueError: the model is not float32 on the CPU, or oneDNN is not available.
        KeyError: the plan holds an op type the fusing pass does not know.
    """
    fused = fused_on_onednn(model, "pack_for_inference")
    gm = fx.GraphModule(fused, _Tracer().trace(fused), class_name="Packed" + type(model).__name__)
    _drop_identities(gm)
    h, w = input_size or model.plan.input_size
    example = torch.zeros(1, model.plan.in_channels, h, w).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        ShapeProp(gm).propagate(example)
    _fuse_adds(gm)
    _pack_convs(gm)
    _fuse_gates(gm)
    _norms_to_depthwise(gm)
    _sum_in_place(gm)
    placeholder = next(iter(gm.graph.nodes))
    with gm.graph.inserting_after(placeholder):  # channels_last on entry (the fused model's pre-hook did it)
        entry = gm.graph.call_method("contiguous", (placeholder,), {"memory_format": torch.channels_last})
    placeholder.replace_all_uses_with(entry, delete_user_cb=lambda n: n is not entry)
    gm.graph.eliminate_dead_code()
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    for attr in ("plan", "feature_info", "num_classes", "num_features"):
        setattr(gm, attr, getattr(model, attr))
    return gm.eval().requires_grad_(False)
