"""Inference pass over a built model: fold norms into convs, drop what eval mode does not run, channels_last.

What folds, and why the rest does not:

- **conv → BatchNorm / FrozenBatchNorm** (post-activation blocks, stems, projection shortcuts, and the
  ``conv1 → bn2``, ``conv2 → bn3`` pairs inside pre-activation blocks): in eval mode the norm is the per-channel
  affine ``y = s·x + t`` with fixed ``s``, ``t``, so it becomes the conv's weight scale and bias exactly.
  A ``NormAct`` (BatchNorm + ReLU in one module) leaves its ReLU behind.
- **a conv → the next block's pre-activation norm**, when nothing else reads the conv's output: the stem conv
  and the first block's norm when that block's shortcut reads the pre-activated input (a projection, as in
  He et al. 2016) or it has no shortcut; without shortcuts also each block's last conv and the next norm. The
  norm folds backwards into the conv, as above.
- **a norm after an add** (a pre-activation block's ``bn1``, the final norm) cannot fold backwards (two paths
  meet there) and cannot fold forwards either: a ReLU stands between it and the next conv. Even without the
  ReLU, a norm *before* a zero-padded conv does not fold exactly: the conv pads the normalised tensor with
  zeros, a folded conv would pad the raw one, so the border pixels would see ``t`` instead of ``0``
  (only unpadded convs would be exact). These norms stay: eval-mode BatchNorm is one cheap affine pass.
- **GroupNorm** normalises with statistics of the input itself, not constants: it cannot fold and stays; so do
  timm's GroupNormAct, EvoNorm2dS0 and FilterResponseNormTlu2d (norm-act kinds ``group``, ``evonorm_s0``,
  ``frn``), whose statistics (and gates) come from the input too.
- **a weight-standardised conv** (``conv: std``, BiT's StdConv2d) standardises a fixed weight: in eval mode
  that is a constant, so it becomes a plain Conv2d with the standardised weight (and then takes a following
  batch norm like any conv).
- **a composite op's own pairs** (fold role ``inner``): a selective kernel's branch conv and norm, Res2Net's split
  convs and their norms (``convs.i`` → ``bns.i``, beside the split on the block); split attention's stay.
- **Dropout** and **DropPath** are the identity in eval mode and are removed.

Every plan op type is handled through its fold role (keep, drop, norm, conv: its description in
:mod:`resnetdsl.ops`); a type without a description raises :class:`KeyError`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from resnetdsl import plan as P
from resnetdsl.build_torch import ResNet
from resnetdsl.layers import BatchNormAct2d, FrozenBatchNorm2d, StdConv2d
from resnetdsl.ops import DESCRIPTIONS
from resnetdsl.ops.base import FoldRole
from resnetdsl.records import record
from resnetdsl.walk import Part, Visitor, run_block, run_plan


def _fold(conv: nn.Conv2d, norm: nn.Module) -> None:
    """Fold an eval-mode batch norm (or frozen one) that follows ``conv`` into its weight and bias, in place."""
    assert isinstance(norm, nn.BatchNorm2d | FrozenBatchNorm2d), type(norm)
    mean, var = norm.running_mean, norm.running_var
    assert mean is not None and var is not None, "a batch norm without running statistics cannot fold"
    weight, bias = fuse_conv_bn_weights(
        conv.weight, conv.bias, mean, var, norm.eps, norm.weight, norm.bias, transpose=False
    )
    conv.weight, conv.bias = weight, bias


def _leftover(norm: nn.Module) -> nn.Module:
    """What stays of a folded norm: the ReLU of a NormAct, nothing of a plain norm."""
    return norm.act if isinstance(norm, BatchNormAct2d) else nn.Identity()


def _standardized(conv: StdConv2d) -> nn.Conv2d:
    """A plain conv computing what ``conv`` computes in eval mode: its weight standardised once."""
    plain = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,  # type: ignore[arg-type]
        stride=conv.stride,  # type: ignore[arg-type]
        padding=conv.padding,  # type: ignore[arg-type]
        dilation=conv.dilation,  # type: ignore[arg-type]
        groups=conv.groups,
        bias=conv.bias is not None,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    plain.weight.copy_(conv.standardized_weight())
    if conv.bias is not None and plain.bias is not None:
        plain.bias.copy_(conv.bias)
    return plain


@record
class _Conv:
    """The conv whose output is the tensor flowing, when the next op is its only reader."""

    scope: nn.Module
    name: str


class _Fuser(Visitor[_Conv | None]):
    """The walk of the built model: each op's fold role (its description's) says what becomes of its module.

    The value flowing is the conv that produced the tensor, as long as nothing else reads it: a fork (the
    tensor feeds a block's branch and its shortcut) or an add ends that. So a norm folds into the conv right
    before it, also across a block boundary (the stem conv and the first pre-activation norm, when the
    block's shortcut reads the pre-activated input), and never where two readers or two paths meet.
    """

    def __init__(self, model: ResNet) -> None:
        self.model = model
        self.scope: nn.Module = model
        self._pairs: tuple[tuple[str, str], ...] = ()
        self._beside = False

    def block(self, stage: P.Stage, block: P.Block, x: _Conv | None) -> _Conv | None:
        self.scope = self.model.get_submodule(f"{stage.name}.{block.name}")
        try:
            return run_block(block, x, self)
        finally:
            self.scope = self.model

    def op(self, op: P.Op, x: _Conv | None, part: Part) -> _Conv | None:
        description = DESCRIPTIONS[type(op)]  # KeyError: an op type this pass does not know
        role = description.fold_role(op)
        if role == "inner":
            self._pairs = description.inner_folds(op)
            self._beside = bool(description.beside(op))  # its paths start at the block (Res2Net, issue 18)
        return _HANDLERS[role](self, op.name, x)

    def fork(self, x: _Conv | None) -> tuple[_Conv | None, _Conv | None]:
        return None, None

    def add(self, main: _Conv | None, shortcut: _Conv | None) -> _Conv | None:
        return None

    # -- what each fold role does --

    def keep(self, name: str, x: _Conv | None) -> _Conv | None:
        return None

    def drop(self, name: str, x: _Conv | None) -> _Conv | None:
        """The identity in eval mode: removed; the tensor passes on unchanged."""
        replace_module(self.scope, name, nn.Identity())
        return x

    def conv(self, name: str, x: _Conv | None) -> _Conv | None:
        conv = self.scope.get_submodule(name)
        if isinstance(conv, StdConv2d):  # its standardised weight is a constant in eval mode
            replace_module(self.scope, name, _standardized(conv))
        return _Conv(self.scope, name)

    def inner(self, name: str, x: _Conv | None) -> _Conv | None:
        """A composite op (a selective kernel, a conv + norm + act): its own convs take their norms; it stays."""
        module = self.scope if self._beside else self.scope.get_submodule(name)
        for conv_name, norm_name in self._pairs:
            norm = module.get_submodule(norm_name)
            _fold(module.get_submodule(conv_name), norm)  # type: ignore[arg-type]
            replace_module(module, norm_name, _leftover(norm))
        return None

    def norm(self, name: str, x: _Conv | None) -> _Conv | None:
        if x is None:  # after an add, a fork or anything but a conv: it stays
            return None
        conv = x.scope.get_submodule(x.name)
        assert isinstance(conv, nn.Conv2d)
        norm = self.scope.get_submodule(name)
        _fold(conv, norm)
        replace_module(self.scope, name, _leftover(norm))
        return None


def replace_module(scope: nn.Module, name: str, module: nn.Module) -> None:
    """Put ``module`` in place of ``scope``'s submodule ``name``; forward skips it when it is the identity."""
    parent, _, leaf = name.rpartition(".")
    setattr(scope.get_submodule(parent) if parent else scope, leaf, module)
    if not isinstance(module, nn.Identity):
        return
    # forward runs the modules named in these lists: leave out those now the identity
    for names in ("_pre", "_main", "_shortcut", "_post", "_features", "_head"):
        held = getattr(scope, names, None)
        if held is not None and name in held:
            setattr(scope, names, tuple(n for n in held if n != name))


_HANDLERS: dict[FoldRole, Callable[[_Fuser, str, _Conv | None], _Conv | None]] = {
    "keep": _Fuser.keep,
    "drop": _Fuser.drop,
    "conv": _Fuser.conv,
    "norm": _Fuser.norm,
    "inner": _Fuser.inner,
}
"""Fold role → what the pass does; every op type's role comes from its description (:mod:`resnetdsl.ops`)."""


def _to_channels_last(module: nn.Module, args: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    x = args[0]
    return (x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x, *args[1:])


def fuse_for_inference(model: ResNet, *, channels_last: bool = True, inplace: bool = False) -> ResNet:
    """An eval-mode copy of ``model`` for fast inference (see the module docstring for what folds).

    Args:
        model: a network from :func:`resnetdsl.build_model`.
        channels_last: store conv weights as channels_last and convert the input to it on entry (oneDNN and
            cuDNN run NHWC convs fastest).
        inplace: change ``model`` itself instead of a copy.

    Returns:
        The fused network, in eval mode, with ``requires_grad`` off. Its state_dict differs from the
        original's (folded norms are gone, convs gained biases); outputs equal the eval-mode original's to
        float rounding.

    Raises:
        KeyError: the plan holds an op type this pass does not know.
    """
    fused = model if inplace else copy.deepcopy(model)
    fused.eval()
    with torch.no_grad():
        run_plan(fused.plan, None, _Fuser(fused))
    fused.requires_grad_(False)
    if channels_last:
        fused.to(memory_format=torch.channels_last)
        fused.register_forward_pre_hook(_to_channels_last)
    return fused
