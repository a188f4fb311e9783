"""The rules of the selective kernel blocks (issue 18, SK family): odd kernels, and channel counts a selective
kernel conv can split and group (its branches' group norms included)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from resnetdsl.plan import Plan, SelectiveKernel
from resnetdsl.walk import part_ops

if TYPE_CHECKING:
    from resnetdsl.lower.common import _Issues
    from resnetdsl.lower.resolve import Network


def odd_sk_kernels(net: Network, plan: Plan, issues: _Issues) -> None:
    """A branch of an even kernel would not keep the map's size."""
    for path, kernels in net.written("sk_kernels"):
        even = [k for k in kernels if k % 2 == 0]
        if even:
            issues.add(path, f"kernels must be odd, so that each branch keeps the map's size (got {even[0]})")


def sk_channels(net: Network, plan: Plan, issues: _Issues) -> None:
    """A split input divides the SK conv's input channels by the branches; groups divide each branch's input and
    output; a group norm's groups divide a branch's channels. One issue per place the setting was set."""
    reported: set[tuple[object, ...]] = set()
    for rb, (st, b) in zip(net.blocks(), plan.blocks(), strict=True):
        for op in part_ops(b, "main"):
            if not isinstance(op, SelectiveKernel):
                continue
            where = f"{st.name}.{b.name}.{op.name}"
            n, share = len(op.paths), op.paths[0].conv.in_channels
            g = op.paths[0].conv.groups
            origin = rb.settings.origin
            problem = None
            if op.split_input and op.in_channels % n:
                key = origin.get("sk_split_input") or origin.get("sk_kernels") or rb.width_at
                problem = (
                    key,
                    (
                        f"{n} branches cannot split the {op.in_channels} input channels of {where} evenly; "
                        "set sk_split_input: false or choose a width they divide"
                    ),
                )
            elif share % g or op.out_channels % g:
                key = origin.get("groups") or rb.width_at
                problem = (
                    key,
                    (
                        f"{g} groups do not divide the {share} → {op.out_channels} channels of each branch of {where}; "
                        "choose groups that divide them"
                    ),
                )
            else:
                norm = op.paths[0].norm
                if norm is not None and norm.kind == "group" and norm.channels % norm.groups:
                    key = origin.get("norm_groups") or origin.get("norm") or ("defaults", "norm")
                    problem = (
                        key,
                        (
                            f"{norm.groups} groups do not divide the {norm.channels} channels of the branches of "
                            f"{where}; set norm_groups to a divisor of {norm.channels}"
                        ),
                    )
            if problem is not None and problem[0] not in reported:
                reported.add(problem[0])
                issues.add(problem[0], problem[1])


RULES = (odd_sk_kernels, sk_channels)
