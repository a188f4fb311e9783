"""Inference pass over a built model: fold norms into convs, drop what eval mode does not run, channels_last.

What folds, and why the rest does not:

- **conv → BatchNorm / FrozenBatchNorm** (post-activation blocks, stems, projection shortcuts, and the
  ``conv1 → bn2``, ``conv2 → bn3`` pairs inside pre-activation blocks): in eval mode the norm is the per-channel
  affine ``y = s·x + t`` with fixed ``s``, ``t``, so it becomes the conv's weight scale and bias exactly.
  A ``NormAct`` (BatchNorm + ReLU in one module) leaves its ReLU behind.
- **stem conv → the first pre-activation norm**, when that block's shortcut reads the pre-activated input
  (a projection, as in He et al. 2016): the stem's output then feeds nothing but that norm, so the norm folds
  backwards into the stem conv, as above.
- **a norm after an add** (a pre-activation block's ``bn1``, the final norm) cannot fold backwards (two paths
  meet there) and cannot fold forwards either: a ReLU stands between it and the next conv. Even without the
  ReLU, a norm *before* a zero-padded conv does not fold exactly: the conv pads the normalised tensor with
  zeros, a folded conv would pad the raw one, so the border pixels would see ``t`` instead of ``0``
  (only unpadded convs would be exact). These norms stay: eval-mode BatchNorm is one cheap affine pass.
- **GroupNorm** normalises with statistics of the input itself, not constants: it cannot fold and stays.
- **Dropout** and **DropPath** are the identity in eval mode and are removed.

Every plan op type is handled explicitly; a type this pass does not know raises :class:`KeyError`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from resnetdsl import plan as P
from resnetdsl.build_torch import BatchNormAct2d, FrozenBatchNorm2d, ResidualBlock, ResNet

# What the pass does with each op type when it is not folded into a neighbour: keep it, or drop it (eval no-op).
_EVAL_ROLE: dict[type, str] = {
    P.Conv: "keep",
    P.Norm: "keep",
    P.NormAct: "keep",
    P.Act: "keep",
    P.Pool: "keep",
    P.GlobalPool: "keep",
    P.Flatten: "keep",
    P.Dropout: "drop",
    P.Linear: "keep",
    P.Identity: "keep",
    P.PadShortcut: "keep",
    P.SqueezeExcite: "keep",
    P.EfficientChannelAttn: "keep",
    P.DropPath: "drop",
}


def _foldable(op: P.Op) -> bool:
    return (isinstance(op, P.Norm) and op.kind in ("batch", "frozen_batch")) or isinstance(op, P.NormAct)


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


class _Scope:
    """Module lookup and replacement under one container (the network, or one block)."""

    def __init__(self, root: nn.Module) -> None:
        self.root = root

    def get(self, name: str) -> nn.Module:
        return self.root.get_submodule(name)

    def set(self, name: str, module: nn.Module) -> None:
        parent, _, leaf = name.rpartition(".")
        setattr(self.root.get_submodule(parent) if parent else self.root, leaf, module)


def _fuse_path(scope: _Scope, ops: Sequence[P.Op]) -> set[str]:
    """Fold conv → norm pairs and drop eval no-ops along one sequential path; the names now the identity."""
    gone: set[str] = set()
    for i, op in enumerate(ops):
        role = _EVAL_ROLE[type(op)]  # KeyError: an op type this pass does not know
        if role == "drop":
            scope.set(op.name, nn.Identity())
            gone.add(op.name)
        elif isinstance(op, P.Conv) and i + 1 < len(ops) and _foldable(ops[i + 1]):
            norm_name = ops[i + 1].name
            conv = scope.get(op.name)
            assert isinstance(conv, nn.Conv2d)
            norm = scope.get(norm_name)
            _fold(conv, norm)
            left = _leftover(norm)
            scope.set(norm_name, left)
            if isinstance(left, nn.Identity):
                gone.add(norm_name)
    return gone


def _drop_names(names: tuple[str, ...] | None, gone: set[str]) -> tuple[str, ...] | None:
    return None if names is None else tuple(n for n in names if n not in gone)


def _fuse_block(block_module: ResidualBlock, block: P.Block) -> None:
    scope = _Scope(block_module)
    gone = set()
    for path in (block.pre, block.main, block.shortcut_ops, block.post):
        gone |= _fuse_path(scope, path)
    # forward runs the modules named in these lists: leave out those now the identity
    block_module._pre = _drop_names(block_module._pre, gone) or ()
    block_module._main = _drop_names(block_module._main, gone) or ()
    block_module._shortcut = _drop_names(block_module._shortcut, gone)
    block_module._post = _drop_names(block_module._post, gone) or ()


def _fold_stem_into_first_block(model: ResNet) -> None:
    """Stem ending in a conv, first block pre-activated with a shortcut reading the pre-activated input: the
    first pre norm is the stem output's only reader, so it folds into the stem conv."""
    plan = model.plan
    if not plan.stem or not plan.stages or not isinstance(plan.stem[-1], P.Conv):
        return
    stage, block = plan.stages[0], plan.stages[0].blocks[0]
    if not block.pre or not block.shortcut_from_pre or not _foldable(block.pre[0]):
        return
    block_module = model.get_submodule(f"{stage.name}.{block.name}")
    assert isinstance(block_module, ResidualBlock)
    conv = model.get_submodule(plan.stem[-1].name)
    assert isinstance(conv, nn.Conv2d)
    name = block.pre[0].name
    norm = block_module.get_submodule(name)
    _fold(conv, norm)
    left = _leftover(norm)
    _Scope(block_module).set(name, left)
    if isinstance(left, nn.Identity):
        block_module._pre = tuple(n for n in block_module._pre if n != name)


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
    plan = fused.plan
    with torch.no_grad():
        _fold_stem_into_first_block(fused)
        top = _Scope(fused)
        gone = _fuse_path(top, plan.stem) | _fuse_path(top, plan.final) | _fuse_path(top, plan.head)
        for stage, block in plan.blocks():
            block_module = fused.get_submodule(f"{stage.name}.{block.name}")
            assert isinstance(block_module, ResidualBlock)
            _fuse_block(block_module, block)
    fused._features = tuple(n for n in fused._features if n not in gone)
    fused._head = tuple(n for n in fused._head if n not in gone)
    fused.requires_grad_(False)
    if channels_last:
        fused.to(memory_format=torch.channels_last)
        fused.register_forward_pre_hook(_to_channels_last)
    return fused
