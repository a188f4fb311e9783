"""The settings of a plan and the fields of its ops in the standalone exports: feature maps (``forward`` returns
their list), frozen stages and ``norm_eval`` (frozen parameters, a ``train`` that keeps them in eval mode) and
zero-initialised residual branches, carried; what the source cannot carry (activation checkpointing), refused with
a message, never dropped. :data:`EXPORTED_SETTINGS` and :data:`OP_FIELDS` say, field by field, what happens."""

from __future__ import annotations

from resnetdsl import plan as P

# the op-field table sits with the constructors it describes (export.ops: this backend's table per op type)
from resnetdsl.export.ops import CARRIED as CARRIED
from resnetdsl.export.ops import IMPLIED as IMPLIED
from resnetdsl.export.ops import INIT as INIT
from resnetdsl.export.ops import OP_FIELDS as OP_FIELDS
from resnetdsl.export.ops import STRUCTURE as STRUCTURE
from resnetdsl.export.ops import TRAINING as TRAINING

EXPORTED_SETTINGS: dict[str, str] = {
    "out_indices": "carried: forward returns the list of feature maps, as build_model's model does",
    "frozen_stages": "carried: requires_grad False, and train() keeps the frozen parts in eval mode",
    "norm_eval": "carried: train() keeps every batch norm in eval mode",
    "checkpoint": "refused: activation checkpointing is a training-time setting of the built model",
    "pretrained_cfg": "not part of the network: how pretrained weights expect their input stays in the spec",
    "zero_init_residual": "carried: __init__ zeroes the same weights as build_model (each op's zero_init)",
}
"""What the Python export does with each backbone setting a plan carries (tests walk it against the plan)."""


def refuse_unexported(plan: P.Plan) -> None:
    """Raise for a setting of ``plan`` the standalone source cannot carry, rather than drop it silently.

    Raises:
        ValueError: a checkpointed stage, or a feature map tapped inside a container of the stem.
    """
    from resnetdsl.features import selected

    checkpointed = [st.name for st in plan.stages if st.checkpoint]
    if checkpointed:
        raise ValueError(
            f"the Python export does not carry activation checkpointing ({', '.join(checkpointed)} set "
            "checkpoint: true); export with --set stages.N.checkpoint=false, or use resnetdsl.build_model"
        )
    for tap in selected(plan) if plan.out_indices else ():
        if "." in tap.module:
            raise ValueError(
                f"the Python export cannot tap feature map {tap.index} inside {tap.module.partition('.')[0]} "
                f"({tap.module}); use resnetdsl.build_model, or leave {tap.index} out of features.out_indices"
            )


def forward_source(plan: P.Plan, feats: list[str], heads: list[str]) -> list[str]:
    """``forward``: the head on the features, or (a multi-scale backbone) the list of the tapped maps."""
    if not plan.out_indices:
        return [
            "    def forward(self, x: Tensor) -> Tensor:",
            "        x = self.forward_features(x)",
            *(f"        x = self.{n}(x)" for n in heads),
            "        return x",
        ]
    from resnetdsl.features import selected

    taps = {t.module for t in selected(plan)}
    lines = ["    def forward(self, x: Tensor) -> list[Tensor]:", "        out: list[Tensor] = []"]
    for n in feats:
        lines.append(f"        x = self.{n}(x)")
        if n in taps:
            lines.append("        out.append(x)")
    return [*lines, "        return out"]


def zero_init_source(plan: P.Plan) -> list[str]:
    """The lines of ``__init__`` that zero the weights an op's ``zero_init`` marks (``zero_init_residual``: the last
    norm of each residual branch), after the other initialisation, as ``build_model`` does; none without such
    ops."""
    from resnetdsl.walk import ops_in_forward_order

    names: list[str] = []
    for path, op in ops_in_forward_order(plan):
        if getattr(op, "zero_init", False):
            names.append(path)
        if getattr(getattr(op, "norm", None), "zero_init", False):  # a composite op's own norm (ConvNormAct)
            names.append(f"{path}.bn")
    if not names:
        return []
    return [
        "        for name in (",
        *(f'            "{n}",' for n in names),
        "        ):",
        "            nn.init.zeros_(self.get_submodule(name).weight)",
    ]


def frozen_source(plan: P.Plan) -> list[str]:
    """What ``frozen_stages`` and ``norm_eval`` add: frozen parameters and a ``train`` that keeps them in eval."""
    if plan.frozen_stages is None and not plan.norm_eval:
        return []
    lines: list[str] = []
    if plan.frozen_stages is not None:
        names = list(
            dict.fromkeys([op.name for op in plan.stem] + [st.name for st in plan.stages[: plan.frozen_stages]])
        )
        listed = ", ".join(f'"{n}"' for n in names)
        lines[:0] = [f"        for name in ({listed},):", "            self.get_submodule(name).requires_grad_(False)"]
        frozen = [
            f"            for name in ({listed},):",
            "                self.get_submodule(name).eval()",
        ]
    else:
        frozen = []
    norm = (
        [
            "            for m in self.modules():",
            "                if isinstance(m, nn.BatchNorm2d):",
            "                    m.eval()",
        ]
        if plan.norm_eval
        else []
    )
    return [
        *lines,
        "        self.train()",
        "",
        "    def train(self, mode: bool = True) -> nn.Module:",
        '        """Training mode; the frozen stem and stages (with norm_eval every batch norm) stay in eval."""',
        "        super().train(mode)",
        "        if mode:",
        *frozen,
        *norm,
        "        return self",
        "",
    ]
