"""Measure what a training-mode forward pass saves for backward: distinct storages, parameters and buffers
excluded; the inputs of checkpointed blocks (held by torch.utils.checkpoint, not through saved-tensor hooks)
added."""

from __future__ import annotations

import torch
from torch import nn

from resnetdsl.build_torch import CheckpointSequential, ResidualBlock


def saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    own = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        if st.data_ptr() not in own:
            seen[st.data_ptr()] = max(seen.get(st.data_ptr(), 0), st.nbytes())
        return t

    def held_by_checkpoint(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        pack(args[0])

    hooks = []
    for m in model.modules():
        if isinstance(m, CheckpointSequential):
            hooks += [b.register_forward_pre_hook(held_by_checkpoint) for b in m if isinstance(b, ResidualBlock)]
    model.train()
    keep = []
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        keep.append(model(x))  # keep the graph (and so the saved tensors) alive while counting
    for h in hooks:
        h.remove()
    return sum(seen.values())
