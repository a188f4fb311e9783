"""The torch module of Res2Net's hierarchical split (issue 18; timm's ``Bottle2neck``), beside
:mod:`resnetdsl.layers`: the builder creates it and the Python exporter copies its source into the files it writes
(self-contained: only ``torch``, ``Tensor`` and ``nn``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Res2Split(nn.Module):
    """The split convs of a Res2Net block (``convs.0`` … as its own children) and, beside it on the block under
    timm's names, their norms (``bns``) and the last split's pool (``pool``): :meth:`attach` registers all three on
    the block, in timm's order. ``forward`` cuts the input into splits of ``width`` channels; split i < scale − 1
    runs conv → norm → act, first adding the previous split's output when ``cumulative``; the last split passes
    through (or the pool); the outputs are concatenated. Not scriptable (the norms are the block's)."""

    def __init__(
        self, convs: list[nn.Module], norms: list[nn.Module], act: nn.Module, pool: nn.Module | None, width: int,
        cumulative: bool,
    ) -> None:  # fmt: skip
        super().__init__()
        for i, conv in enumerate(convs):
            self.add_module(str(i), conv)
        self.act = act
        self.width = width
        self.cumulative = cumulative
        self.n = len(convs)
        self.__dict__["bns"] = nn.ModuleList(norms)  # the block's children, not this module's
        self.__dict__["pool"] = pool

    def attach(self, block: nn.Module, name: str) -> nn.Module:
        """Register this module as ``name`` on ``block``, then the norms (``bns``) and the pool (``pool``)."""
        block.add_module(name, self)
        block.add_module("bns", self.__dict__["bns"])
        if self.__dict__["pool"] is not None:
            block.add_module("pool", self.__dict__["pool"])
        return self

    def forward(self, x: Tensor) -> Tensor:
        spx = torch.split(x, self.width, 1)
        bns = self.__dict__["bns"]
        out: list[Tensor] = []
        sp = spx[0]
        for i in range(self.n):
            sp = spx[i] if i == 0 or not self.cumulative else sp + spx[i]
            sp = self._modules[str(i)](sp)  # type: ignore[misc]
            if len(bns):
                sp = bns[i](sp)
            sp = self.act(sp)
            out.append(sp)
        pool = self.__dict__["pool"]
        out.append(spx[self.n] if pool is None else pool(spx[self.n]))
        return torch.cat(out, 1)
