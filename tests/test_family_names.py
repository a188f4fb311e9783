"""Every model name of timm's ResNet-family modules imports (issue 18): on the meta device, ``spec_from_model`` gives
a spec whose built model has timm's state_dict keys, in order, with timm's shapes.

The names come from timm's registry (``timm.list_models(module=…)``, ``test_*`` aside), so the list stays true as
timm grows. Numeric parity of representative names is in the family test files (tests/test_family_*.py).
"""

from __future__ import annotations

from collections import Counter

import pytest
import timm
import torch

from resnetdsl import build_model
from resnetdsl.importer import spec_from_model

MODULES = ("resnet", "resnetv2", "sknet", "resnest", "res2net", "senet")
"""timm's modules of the ResNet family."""

NOT_MERGED: dict[str, str] = {}
"""Names that do not import yet: name → family."""


def _names() -> list[tuple[str, str]]:
    return [(m, n) for m in MODULES for n in timm.list_models(module=m) if not n.startswith("test_")]


NAMES = _names()
_IMPORTED: dict[str, Counter[str]] = {"imported": Counter(), "total": Counter()}


def _case(module: str, name: str) -> object:
    marks = []
    if name in NOT_MERGED:
        marks.append(pytest.mark.xfail(strict=True, reason=f"{NOT_MERGED[name]} is not in the language yet"))
    return pytest.param(module, name, id=name, marks=marks)


@pytest.mark.parametrize(("module", "name"), [_case(m, n) for m, n in NAMES])
def test_every_family_name_imports_on_meta(module: str, name: str) -> None:
    _IMPORTED["total"][module] += 1
    with torch.device("meta"):
        ref = timm.create_model(name, pretrained=False)
    spec = spec_from_model(ref)
    model = build_model(spec, device="meta")
    got = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    want = [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    assert got == want
    _IMPORTED["imported"][module] += 1


def test_the_name_list_is_timms_and_the_counts_are_printed() -> None:
    """131 names in timm 1.0's six modules; every name not owned by another branch imports (when the
    parametrized test ran in this session, its counts are printed per module)."""
    per_module = Counter(m for m, _ in NAMES)
    assert sum(per_module.values()) >= 131, per_module
    assert set(NOT_MERGED) <= {n for _, n in NAMES}, set(NOT_MERGED) - {n for _, n in NAMES}
    ran = _IMPORTED["total"]
    for module in MODULES:
        print(f"{module:<9} imported {_IMPORTED['imported'][module]} of {ran[module]} run ({per_module[module]} names)")
    total_ran = sum(ran.values())
    if total_ran == len(NAMES):  # the whole list ran: every name of this branch imported, the others did not
        assert sum(_IMPORTED["imported"].values()) == len(NAMES) - len(NOT_MERGED)
