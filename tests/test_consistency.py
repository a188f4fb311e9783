"""Every command and every API entry point tells the same story about the same spec.

For each invalid fixture, ``validate``, ``summary``, ``render`` and ``build`` print the same problems with the same
marks and exit 1, and the Python API (``summarize``, ``render``, ``build_model``, ``plan_of``, ``check``) raises a
``SpecError`` with the same issues. For each bundled preset, all of them succeed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import resnetdsl
from resnetdsl.cli import main
from tests.conftest import FIXTURES, ROOT

INVALID = FIXTURES / "invalid"
FIXTURE_NAMES = sorted(p.stem for p in INVALID.glob("*.yaml"))

API: dict[str, Callable[[Any], object]] = {
    "check": resnetdsl.check,
    "plan_of": resnetdsl.plan_of,
    "summarize": resnetdsl.summarize,
    "render": resnetdsl.render,
    "build_model": lambda s: resnetdsl.build_model(s, device="meta"),
}


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _problems(capsys: pytest.CaptureFixture[str], source: str, *extra: str) -> dict[str, tuple[int, list[str]]]:
    """What each command and each API function says about ``source``: (exit code or 1 for a raise, lines)."""
    seen: dict[str, tuple[int, list[str]]] = {}
    code, out, err = _cli(capsys, "validate", "--format", "text", source)
    assert err == ""
    seen["validate"] = (code, out.splitlines()[:-1])  # the last line counts files
    for command in ("summary", "render", "build"):
        args = [command, source, *extra]
        if command == "render":
            args += ["--format", "dot"]
        code, out, err = _cli(capsys, *args)
        seen[command] = (code, err.splitlines())
    for name, func in API.items():
        try:
            func(source)
        except resnetdsl.SpecError as exc:
            seen[name] = (1, [i.format(severity=True) for i in exc.issues])
        else:
            seen[name] = (0, [])
    return seen


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_door_gives_the_same_problems(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    seen = _problems(capsys, f"tests/fixtures/invalid/{name}.yaml")
    expected = seen["validate"]
    assert expected[0] == 1 and expected[1], "every fixture is invalid"
    for door, said in seen.items():
        assert said == expected, f"{door} differs from validate"


def test_extends_problems_name_the_users_line_then_the_bases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("base").mkdir()
    Path("base/b.yaml").write_text("extends: ../a.yaml\nname: b\n")
    Path("a.yaml").write_text("extends: base/b.yaml\nname: a\n")
    Path("small.yaml").write_text("extends: resnet50\nname: t\ninput: {size: [32, 32]}\n")
    seen = _problems(capsys, "a.yaml")
    assert seen["validate"] == (
        1,
        ["a.yaml:1:10: error: extends: extends cycle through '../a.yaml' (at base/b.yaml:1:10, through 'extends')"],
    )
    assert all(said == seen["validate"] for said in seen.values()), seen
    seen = _problems(capsys, "small.yaml")
    [line] = seen["validate"][1]
    assert line.startswith("small.yaml:1:10: error: stages[3]: the feature map reaches 1×1 at layer4.0.conv2")
    assert line.endswith("(at line 14 of preset 'resnet50', through 'extends')")
    assert all(said == seen["validate"] for said in seen.values()), seen


def test_a_child_is_not_blamed_for_settings_it_inherits(tmp_path: Path) -> None:
    spec = tmp_path / "basic50.yaml"
    spec.write_text("extends: resnet50\nname: basic50\ndefaults: {block: basic}\n")
    plan = resnetdsl.plan_of(spec)  # resnet50's stride_on (bottleneck only) is dropped, not an error
    assert {b.kind for _, b in plan.blocks()} == {"basic"}
    spec.write_text("extends: resnet50\nname: basic50\ndefaults: {block: basic, groups: 2}\n")
    with pytest.raises(resnetdsl.SpecError) as info:
        resnetdsl.plan_of(spec)
    assert [i.format() for i in info.value.issues] == [
        f"{spec}:3:26: defaults.groups: applies only to bottleneck, resnest or res2net blocks "
        "(every stage uses basic blocks)"
    ]


def test_input_on_the_command_line_is_the_command_lines_fault(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("gray.yaml").write_text(
        "name: gray\ninput: {channels: 1, size: [48, 48]}\nstem: {kind: conv3, width: 8}\n"
        "stages: [{depth: 1, width: 8}]\n"
    )
    code, out, err = _cli(capsys, "summary", "gray.yaml", "--input", "64", "--depth", "stage")
    assert (code, err) == (0, "") and out.startswith("gray: input 1×64×64 → output 1000\n")
    code, out, err = _cli(capsys, "render", "gray.yaml", "--input", "64x32", "--format", "dot")
    assert code == 0 and "1×64×32" in out
    for command in ("summary", "render", "build"):
        code, out, err = _cli(capsys, command, "gray.yaml", "--input", "3x48x48")
        assert (code, out, err) == (1, "", "error: --input: the input has 3 channels but conv1 takes 1\n")
    with pytest.raises(resnetdsl.SpecError) as info:
        resnetdsl.summarize("gray.yaml", input_size=(3, 48, 48))
    assert [i.format() for i in info.value.issues] == ["input_size: the input has 3 channels but conv1 takes 1"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: resnetdsl.summarize("resnet18", input_size="48"), "input_size must be H, (H, W) or (C, H, W)"),
        (lambda: resnetdsl.render("resnet18", input_size=(0, 48)), "input_size must hold whole numbers >= 1"),
        (lambda: resnetdsl.summarize("resnet18").rows_at("blocks"), "depth must be one of 'stage', 'block', 'layer'"),
        (lambda: resnetdsl.build_model("resnet18", seed=-1), "seed must be a whole number from 0 to 2**63-1"),
    ],
)
def test_bad_api_arguments_name_the_argument(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        call()
    assert not isinstance(info.value, resnetdsl.SpecError)
    assert str(info.value).startswith(message)


def test_same_square_input_in_every_form() -> None:
    forms = [48, (48, 48), (3, 48, 48), [48, 48]]
    assert len({resnetdsl.summarize("resnet18", input_size=f) for f in forms}) == 1
    dots = {resnetdsl.render("resnet18", input_size=f).source for f in forms}
    assert len(dots) == 1


@pytest.mark.parametrize("preset", resnetdsl.presets())
def test_every_preset_passes_every_door(
    preset: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    small = ["--input", "32" if preset.startswith(("cifar", "preact_resnet", "wrn")) else "64"]
    for args in (
        ["validate", preset],
        ["summary", preset],
        ["render", preset, "--format", "dot"],
        ["build", preset, *small],
    ):
        code, _, err = _cli(capsys, *args)
        assert (code, err) == (0, ""), args
    for func in API.values():
        func(preset)


def test_warnings_reach_every_door(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    thin = "specs/resnet18.yaml"
    code, out, err = _cli(capsys, "validate", "--format", "text", thin)
    assert code == 0 and out.endswith("no errors\n")  # the spec itself is fine at 224×224
    said = {}
    for command in ("summary", "render", "build"):
        extra = ["--format", "dot"] if command == "render" else []
        code, out, err = _cli(capsys, command, thin, "--input", "3x32x224", *extra)
        said[command] = (code, err)
    warning = said["summary"][1]
    assert warning.startswith("specs/resnet18.yaml:14:5: warning: stages[3]: the feature map reaches 1×7")
    assert said == {command: (0, warning) for command in said}
    assert [w.format(severity=True) + "\n" for w in resnetdsl.check(thin, input_size=(32, 224)).warnings] == [warning]


def test_format_advice_fits_the_caller(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.jpeg"
    with pytest.raises(ValueError) as info:
        resnetdsl.render_to("resnet18", out)
    assert str(info.value) == (
        f"cannot tell the format of '{out}' from its extension; pass format='svg', 'png', 'pdf' or 'dot'"
    )
    code, _, err = _cli(capsys, "render", "resnet18", "-o", str(out))
    assert (code, err) == (
        2,
        f"resnetdsl render: cannot tell the format of '{out}' from its extension; use --format svg|png|pdf|dot\n",
    )
    assert not out.exists()


def test_validate_takes_what_the_other_commands_take(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = "name: t\nstages: [{depth: 0, width: 8}]\n"
    code, out, _ = _cli(capsys, "validate", text)
    assert (code, out) == (
        1,
        "<string>:2:18: error: stages[0].depth: must be >= 1 (got 0)\n1 file checked, 1 error in 1 file\n",
    )
    assert _cli(capsys, "validate", "resnet50", "cifar_resnet56")[:2] == (0, "2 files checked, no errors\n")
    Path("hetero.yaml").write_text("name: h\nstages: [{depth: 1, width: 8}]\n")
    code, _, err = _cli(capsys, "validate", "hetro.yaml")
    assert (code, err) == (
        2,
        "resnetdsl validate: error: no such file or directory: 'hetro.yaml' (did you mean 'hetero.yaml'?)\n",
    )
    code, _, err = _cli(capsys, "summary", "hetro.yaml")
    assert (code, err) == (1, "hetro.yaml: error: no such file (did you mean 'hetero.yaml'?)\n")


def test_api_functions_stay_functions_after_every_module_is_imported() -> None:
    # a submodule of the same name as an API function would replace the function on first import
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(resnetdsl.__path__, "resnetdsl."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name in resnetdsl.__all__:
        value = getattr(resnetdsl, name)
        assert not isinstance(value, type(resnetdsl)), f"resnetdsl.{name} is a module, not the API object"


def test_package_names_stay_their_objects_after_every_module_is_imported() -> None:
    # the same for every package (resnetdsl.weights, resnetdsl.load, resnetdsl.commands, …): a name it exports
    # is still its object, never a submodule of that name bound over it
    import importlib
    import pkgutil
    import types

    names = [info.name for info in pkgutil.walk_packages(resnetdsl.__path__, "resnetdsl.")]
    modules = [importlib.import_module(n) for n in names if not n.endswith("__main__")]
    packages = [m for m in [resnetdsl, *modules] if hasattr(m, "__path__")]
    assert {"resnetdsl.weights", "resnetdsl.load", "resnetdsl.commands"} <= {p.__name__ for p in packages}
    for package in packages:
        for name in getattr(package, "__all__", ()):
            value = getattr(package, name)
            assert not isinstance(value, types.ModuleType), f"{package.__name__}.{name} is a module"


def test_documented_module_paths_import() -> None:
    # docs/python.md names these as their homes; a renamed module leaves a re-export behind
    from resnetdsl.compare import Diff, diff
    from resnetdsl.importer import UnsupportedModel
    from resnetdsl.summary import format_summary
    from resnetdsl.validate import UsageError
    from resnetdsl.weights import WeightError, load_weights, predict

    assert issubclass(WeightError, ValueError) and issubclass(UnsupportedModel, ValueError)
    assert issubclass(UsageError, Exception) and isinstance(Diff, type)
    assert resnetdsl.diff is not diff and callable(format_summary)  # the API function wraps the module's
    assert load_weights.__module__ == "resnetdsl.weights.checkpoint" and predict.__module__ == "resnetdsl.weights.fit"
