"""Shared by the lowering steps: the issue collector, built-in defaults, reserved stage names, scope words."""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from resnetdsl.errors import Issue, Path, format_path
from resnetdsl.spec import Spec

BUILTIN_DEFAULTS: dict[str, Any] = {
    "block": "basic",
    "shortcut": "projection",
    "stride_on": None,  # bottleneck: 3x3
    "groups": None,  # bottleneck: 1
    "width_per_group": None,  # bottleneck: 64
    "expansion": None,  # per block kind
    "conv_bias": False,
    "shortcut_norm": None,  # true; false for pre-activation blocks
    "dropout": None,  # preact_basic: none
    "norm": "batch",
    "norm_groups": None,  # group norm: 32, unless norm_group_channels is set
    "norm_group_channels": None,
    "act": "relu",
    "act_negative_slope": None,  # leaky_relu: 0.01
    "conv": "plain",
    "std_eps": None,  # conv std: 1e-6
    "attention": "none",
    "se_ratio": None,  # se: 1/16
    "se_divisor": None,  # se: 8
    "eca_kernel": None,  # eca: from the channels
    "drop_path": None,  # 0
    # selective kernels (issue 18, SK family)
    "sk_kernels": None,  # [3, 5]
    "sk_keep_3x3": None,  # true
    "sk_split_input": None,  # true
    "sk_rd_ratio": None,  # 1/16
    "sk_rd_divisor": None,  # 8
    # RegNet (issue 19)
    "group_width": None,  # regnet: the inner width (one group)
    "bottleneck_ratio": None,  # regnet: 1
    "linear_out": None,  # false (RegNet Z)
    # family senet (issue 18)
    "shortcut_kernel": None,  # 1
    "reduce_first": None,  # 1
    "conv_widths": None,  # the block rule's widths
    # family: anti-aliasing and split attention (issue 18)
    "aa": "none",
    "radix": None,  # resnest: 2
    "avd": None,  # resnest: last
    "scale": None,  # res2net: 4 (family: Res2Net, issue 18)
}
RESERVED_NAMES = frozenset(
    # public attributes of torch.nn.Module and of the built model: a stage of that name could not be registered
    "T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double "
    "dump_patches eval extra_repr feature_info float forward forward_features forward_head forward_taps "
    "frozen_modules get_buffer get_classifier get_extra_state get_parameter "
    "get_submodule half ipu load_state_dict modules mtia named_buffers named_children named_modules "
    "named_parameters num_classes num_features parameters plan register_backward_hook register_buffer "
    "register_forward_hook register_forward_pre_hook register_full_backward_hook "
    "register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook "
    "register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook reset_classifier "
    "requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty train training type "
    "xpu zero_grad".split()
)
"""Names a stage may not take: every public attribute and method of the built model (its class, torch.nn.Module
and what an instance sets). Checked without importing torch; tests/test_lower.py compares it with ``dir()`` of a
built model, and the builder checks again against the live torch, whose attributes may grow."""


class _Issues:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.items: list[Issue] = []

    def add(self, path: Path, message: str, *, key: bool = False) -> None:
        """One problem at ``path``, marked by the rule every checker follows: ``key=True`` where the key cannot
        be there at all ("applies only to …", "has no effect …", "cannot be set …": the key's mark), else the
        value's mark (this value is wrong)."""
        src = self.spec._source
        mark = src.mark_for(path, key=key) if src is not None else None
        self.items.append(Issue(path, message, mark))


class Once:
    """One rule's reporter that names each path once: a setting many blocks take from one place is one problem,
    not one per block (the first block's message stands). Paths in ``skip`` (those a base spec wrote, say) are
    never reported."""

    def __init__(self, issues: _Issues, skip: Container[Path] = ()) -> None:
        self._issues = issues
        self._skip = skip
        self._seen: set[Path] = set()

    def add(self, path: Path, message: str) -> None:
        if path not in self._seen and path not in self._skip:
            self._seen.add(path)
            self._issues.add(path, message)


def scope_words(path: Path) -> str:
    """``defaults``, ``stages[1]`` or ``stages[1].blocks[0]``: the scope a setting at ``path`` was written in."""
    return format_path(path[:4] if path[2:3] == ("blocks",) else path[:2] if path[0] == "stages" else path[:1])


def inherited(spec: Spec, path: Path) -> bool:
    """The key at ``path`` was written in a base spec (through ``extends``), not in the spec's own file."""
    src = spec._source
    mark = src.mark_for(path, key=True) if src is not None else None
    # an override (`--set`) is the user's own word, as their file is
    return spec._via is not None and mark is not None and mark.file != spec._file and not _override(mark)


def _override(mark: Any) -> bool:
    from resnetdsl.load import is_override_mark

    return is_override_mark(mark)


def reserved_name_problem(name: str) -> str:
    """The message for a stage name that cannot be a module attribute (lowering and the builder say the same)."""
    return f"stage name '{name}' is an attribute of torch.nn.Module or the built model; choose another"
