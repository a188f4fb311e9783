"""Exporters: standalone PyTorch source (golden files, equal keys and outputs, TorchScript, ruff), ONNX
(onnxruntime at two input sizes), torch.export and torch.compile."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.export import python as export_python
from resnetdsl.export.onnx import to_onnx
from resnetdsl.export.python import to_python

from .conftest import run_cli
from .family_helpers import load_exported

GOLDEN_PRESETS = ["cifar_resnet20", "resnet50d", "preact_resnet164", "resnetv2_50", "seresnet50"]
# (preset, input size): every block kind, layout, norm, attention, shortcut and stem kind among them
EQUAL_PRESETS = [
    ("resnet18", 64),
    ("cifar_resnet20", 32),
    ("ecaresnet50d", 64),
    ("resnetv2_18", 64),
    ("extends: preact_resnet164\nstages: [{depth: 2, width: 16}, {depth: 2, width: 32, stride: 2}]", 32),
    ("wrn16_8", 32),
    ("extends: resnet18\ndefaults: {norm: group, drop_path: 0.1, attention: se}", 64),
    ("extends: resnet18\ndefaults: {norm: frozen_batch, act: silu}", 64),
    ("extends: resnet18d\noutput_stride: 16", 64),  # timm's 'SAME' avg pool in the dilated stage's shortcut
    *(pytest.param(n, 64, marks=pytest.mark.slow) for n in ["resnet50d", "resnetrs50", "resnext50_32x4d"]),
    *(pytest.param(n, 64, marks=pytest.mark.slow) for n in ["preact_resnet164", "resnetv2_50"]),
    pytest.param("resnet50_gn", 64, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name", GOLDEN_PRESETS)
def test_golden_source(name: str, golden: Callable[[str, str], None]) -> None:
    golden(f"export/{name}.py", to_python(resnetdsl.plan_of(name)))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
@pytest.mark.parametrize(("name", "size"), EQUAL_PRESETS)
def test_exported_module_equals_built_model(name: str, size: int, tmp_path: Path) -> None:
    plan = resnetdsl.plan_of(name)
    source = to_python(plan)
    assert "resnetdsl" not in source.split('"""', 2)[2]  # only the module docstring names us
    code = source.split('"""', 2)[2]
    imports = {line for line in code.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"import torch", "import torch.nn.functional as F", "from torch import Tensor, nn"}
    model = resnetdsl.build_model(plan, seed=0).eval()
    exported = load_exported(source, tmp_path, "net")().eval()
    assert list(exported.state_dict()) == list(model.state_dict())  # same keys, same order
    exported.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(exported(x), expected, rtol=0, atol=0)
        scripted = torch.jit.script(exported)
        torch.testing.assert_close(scripted(x), expected, rtol=1e-5, atol=1e-5)


def test_exported_training_step_equals_built_model(tmp_path: Path) -> None:
    """Training mode too: batch statistics, running-stat updates (NormAct counts batches), the same gradients."""
    plan = resnetdsl.plan_of("resnetv2_18")
    model = resnetdsl.build_model(plan, seed=0)
    exported = load_exported(to_python(plan), tmp_path, "v2")()
    exported.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 64, 64)
    for m in (model, exported):
        m(x).square().mean().backward()
    torch.testing.assert_close(exported.state_dict(), model.state_dict())
    for (n, a), (_, b) in zip(model.named_parameters(), exported.named_parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, msg=n)


def test_blocks_of_one_kind_share_a_class() -> None:
    source = to_python(resnetdsl.plan_of("resnet50"))
    assert source.count("class Bottleneck(") == 1 and "class Bottleneck2" not in source
    assert "*(Bottleneck(2048, 512, 2048) for _ in range(2))" not in source  # runs shorter than 3 stay spelled out
    deep = to_python(resnetdsl.plan_of("cifar_resnet1202"))
    assert "*(BasicBlock(16, 16) for _ in range(200))" in deep and len(deep.splitlines()) < 150
    assert "BasicBlock(16, 32, stride=2, downsample=PadShortcut(16, 32, 2))" in deep


def test_exported_source_passes_ruff(tmp_path: Path) -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff not installed")
    for name in [*GOLDEN_PRESETS, "ecaresnet50d", "resnetrs50", "wrn28_10", "resnet50_gn"]:
        (tmp_path / f"{name}.py").write_text(to_python(resnetdsl.plan_of(name)), encoding="utf-8")
    config = str(Path(__file__).resolve().parent.parent / "pyproject.toml")  # the project's own rules
    for args in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        done = subprocess.run([ruff, *args, "--config", config, str(tmp_path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_exporting_source_does_not_import_torch() -> None:
    """The helper classes come from the builder's own module, read as text: writing the file needs no torch."""
    code = (
        "import sys, resnetdsl; from resnetdsl.export.python import to_python; "
        "text = to_python(resnetdsl.plan_of('resnetv2_50')) + to_python(resnetdsl.plan_of('seresnet50')); "
        "assert 'class BatchNormAct2d' in text and 'class SqueezeExcite' in text; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
    cli = run_cli("export", "resnet18d", "--format", "python")
    assert cli.returncode == 0 and "class ResNet18d" in cli.stdout


def test_helpers_are_the_builders_classes() -> None:
    """Each helper class the file defines is the source of the builder's own class, word for word."""
    import inspect

    from resnetdsl import layers

    source = to_python(resnetdsl.plan_of("extends: resnetv2_18\ndefaults: {attention: se, drop_path: 0.1}"))
    for cls in (layers.BatchNormAct2d, layers.SqueezeExcite, layers.DropPath):
        assert inspect.getsource(cls) in source, cls.__name__


def test_unknown_op_type_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(export_python.CONSTRUCTORS, P.PadShortcut)
    with pytest.raises(KeyError):
        to_python(resnetdsl.plan_of("cifar_resnet20"))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_built_model_is_not_scriptable_the_export_is() -> None:
    """The built model's forward looks its modules up by name (so that replacing ``block.conv2`` takes
    effect); TorchScript cannot compile that. docs/export.md points to the exported module instead."""
    with pytest.raises(Exception):  # noqa: B017 - TorchScript raises its own frontend errors
        torch.jit.script(resnetdsl.build_model("cifar_resnet20"))


def test_cli_export_python(tmp_path: Path) -> None:
    out = tmp_path / "model.py"
    done = run_cli("export", "cifar_resnet20", "--format", "python", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8") == to_python(resnetdsl.plan_of("cifar_resnet20"))
    bad = run_cli("export", "stages: []", "--format", "python")
    assert bad.returncode == 1 and "error" in bad.stderr


def test_torch_export_equals_eval_model() -> None:
    model = resnetdsl.build_model("cifar_resnet20", seed=0).eval()
    x = torch.randn(2, 3, 32, 32)
    program = torch.export.export(model, (x,), dynamic_shapes={"x": {0: torch.export.Dim.DYNAMIC}})
    y = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(y), model(y), rtol=1e-5, atol=1e-5)


def test_torch_compile_equals_eval_model() -> None:
    """dynamo captures the eval model in one graph and AOT autograd's decomposition computes the same outputs.
    Inductor's code generation of the same graph costs a minute or more of C++ compiling on 2 cores whatever the
    network's size, so that check (the same assertion, inductor's outputs against the eval model's, for the eval
    and the training model) runs in ``bench/compile.py``."""
    model = resnetdsl.build_model("cifar_resnet20", seed=0).eval()
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True, dynamic=False)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-4)


ONNX_PRESETS = [
    "cifar_resnet20",  # pad shortcuts
    "resnetv2_18",  # pre-activation, conv classifier
    "extends: resnet18\ndefaults: {attention: eca, norm: frozen_batch}",  # ECA's reshape by the batch size
    pytest.param("extends: resnet50d\noutput_stride: 8", marks=pytest.mark.slow),  # the 'same' avg pool shortcut
]


def _session(path: Path) -> Any:
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _check_onnx(path: Path, model: nn.Module, h: int, w: int) -> list[str]:
    """Run the file at another batch and sides than the traced ones; the output names."""
    session = _session(path)
    model.eval()
    for shape in [(1, 3, h, w), (3, 3, h + 16, w + 32)]:  # batch and both sides differ from the traced input
        x = torch.randn(*shape)
        outs = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            want = model(x)
        for got, ref in zip(outs, want if isinstance(want, list) else [want], strict=True):
            torch.testing.assert_close(torch.from_numpy(got), ref, rtol=1e-4, atol=1e-4)
    return [o.name for o in session.get_outputs()]


@pytest.mark.parametrize("name", ONNX_PRESETS)
def test_onnx_runtime_equals_torch(name: str, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    model = resnetdsl.build_model(name, seed=0)
    path = tmp_path / "model.onnx"
    to_onnx(model, path, input_size=(64, 64))
    assert _check_onnx(path, model, 64, 64) == ["output"]


def test_onnx_names_each_feature_map(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    model = resnetdsl.build_model("extends: resnet18\nfeatures: {out_indices: [0, 2, 3]}", seed=0)
    path = tmp_path / "backbone.onnx"
    to_onnx(model, path, input_size=(64, 64))
    assert _check_onnx(path, model, 64, 64) == ["feature_0", "feature_2", "feature_3"]


def _checkpoint(tmp_path: Path, name: str = "cifar_resnet20") -> tuple[Path, nn.Module]:
    """A 'trained' checkpoint: weights no seed gives, batch-norm statistics moved off their initial values."""
    model = resnetdsl.build_model(name, seed=3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
        model(torch.randn(8, 3, 32, 32))  # train mode: running statistics move
    path = tmp_path / "trained.pt"
    torch.save({"state_dict": model.state_dict()}, path)  # wrapped, as training scripts save it
    return path, model.eval()


def test_cli_export_onnx_loads_weights(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    ckpt, trained = _checkpoint(tmp_path)
    out = tmp_path / "model.onnx"
    done = run_cli("export", "cifar_resnet20", "--format", "onnx", "--weights", str(ckpt), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"wrote {out}"
    assert _check_onnx(out, trained, 32, 32) == ["output"]


def test_cli_export_python_writes_weights_beside(tmp_path: Path) -> None:
    ckpt, trained = _checkpoint(tmp_path)
    out = tmp_path / "net.py"
    done = run_cli("export", "cifar_resnet20", "--format", "python", "--weights", str(ckpt), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"wrote {tmp_path / 'net.pt'}", f"wrote {out}"]
    exported = load_exported(out.read_text(encoding="utf-8"), tmp_path, "withweights")().eval()
    exported.load_state_dict(torch.load(tmp_path / "net.pt", weights_only=True), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), trained(x), rtol=0, atol=0)


def test_cli_export_weights_must_fit_exactly(tmp_path: Path) -> None:
    ckpt, _ = _checkpoint(tmp_path, "cifar_resnet32")  # 5 blocks a stage where cifar_resnet20 has 3
    out = tmp_path / "model.onnx"
    done = run_cli("export", "cifar_resnet20", "--format", "onnx", "--weights", str(ckpt), "-o", str(out))
    assert done.returncode == 1
    assert done.stderr.startswith("resnetdsl: error: --weights: the checkpoint does not fit the network exactly\n")
    assert "unexpected" in done.stderr and not out.exists()
    missing = run_cli("export", "cifar_resnet20", "--format", "onnx", "--weights", "nowhere.pt", "-o", str(out))
    assert (missing.returncode, missing.stderr) == (1, "resnetdsl: error: --weights: no checkpoint file 'nowhere.pt'\n")
    to_stdout = run_cli("export", "cifar_resnet20", "--format", "python", "--weights", str(ckpt))
    assert (to_stdout.returncode, to_stdout.stderr) == (2, "resnetdsl: error: --weights needs -o FILE\n")


def test_onnx_is_traced_small_with_the_input_s_remainders() -> None:
    from resnetdsl.export.onnx import trace_side

    assert [trace_side(s) for s in (32, 64, 96, 160, 224, 256, 288, 299)] == [32, 64, 96, 96, 96, 64, 96, 107]
    for side in (224, 299, 1000):  # every map of the traced input keeps the size's remainder at every stride ≤ 64
        assert all(trace_side(side) % k == side % k for k in (2, 4, 8, 16, 32, 64))
