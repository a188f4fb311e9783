"""Training over several processes: synchronised batch norm for any device, FSDP2 sharding per stage.

``torch.nn.SyncBatchNorm`` synchronises only CUDA/XPU tensors (on CPU it raises in training), and its
``convert_sync_batchnorm`` would turn timm's ``BatchNormAct2d`` (a BatchNorm2d subclass with a ReLU child) into a
plain norm, dropping the ReLU. :func:`convert_sync_batchnorm` here replaces every ``BatchNorm2d`` with
:class:`SyncBatchNorm2d` and every ``BatchNormAct2d`` with :class:`SyncBatchNormAct2d`: the same state_dict
keys, the statistics reduced over all processes with ``torch.distributed.nn.functional.all_reduce`` (autograd
carries the gradient across processes), on any backend (gloo on CPU, nccl on GPU). Outside a process group, or
in eval mode, they are ordinary batch norms.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from resnetdsl.build_torch import BatchNormAct2d


class SyncBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the whole global batch (all processes)."""

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = (0, 2, 3)
        count = torch.full((1,), x.numel() // x.shape[1], dtype=x.dtype, device=x.device)
        stats: Tensor = torch.cat([x.sum(dims), (x * x).sum(dims), count])
        stats = all_reduce(stats)  # type: ignore[no-untyped-call]  # summed over processes; backward sums the gradients the same way
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = stats[c : 2 * c] / n - mean * mean
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 0.1
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1), alpha=m)
                if self.num_batches_tracked is not None:
                    self.num_batches_tracked.add_(1)
        shape = (1, c, 1, 1)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


class SyncBatchNormAct2d(SyncBatchNorm2d):
    """:class:`SyncBatchNorm2d` then ReLU, with ``BatchNormAct2d``'s names (the ReLU is the child ``act``)."""

    def __init__(self, num_features: int, **kwargs: Any) -> None:
        super().__init__(num_features, **kwargs)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(super().forward(x), inplace=True)


def _converted(module: nn.BatchNorm2d) -> SyncBatchNorm2d:
    cls = SyncBatchNormAct2d if isinstance(module, BatchNormAct2d) else SyncBatchNorm2d
    new = cls(module.num_features, eps=module.eps, momentum=module.momentum)
    new.load_state_dict(module.state_dict())
    new.train(module.training)
    return new.to(module.weight.device)


def convert_sync_batchnorm(model: nn.Module) -> nn.Module:
    """Replace, in place, every ``BatchNorm2d`` (and ``BatchNormAct2d``) with its synchronised twin; returns
    ``model``. Call before wrapping in DDP. Frozen and group norms are left alone (nothing to synchronise)."""
    for name, child in list(model.named_children()):
        if type(child) in (nn.BatchNorm2d, BatchNormAct2d):
            setattr(model, name, _converted(child))  # type: ignore[arg-type]
        else:
            convert_sync_batchnorm(child)
    return model


def shard_per_stage(model: nn.Module) -> nn.Module:
    """FSDP2: ``fully_shard`` each stage, then the whole model (stem and head go with the root). In place."""
    from torch.distributed.fsdp import fully_shard

    plan = getattr(model, "plan", None)
    assert plan is not None, "a model from resnetdsl.build_model"
    for stage in plan.stages:
        fully_shard(model.get_submodule(stage.name))
    fully_shard(model)
    return model
