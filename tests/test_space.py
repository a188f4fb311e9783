"""Design spaces: the file and its messages, enumeration and seeded sampling (the same in one process and in
workers), figures equal to the spec's own summary, budget, target, Pareto front and AnyNetX constraints against
brute force, written specs, the command, the picture."""

from __future__ import annotations

import itertools
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from resnetdsl import summarize
from resnetdsl.check import check
from resnetdsl.errors import SpecError
from resnetdsl.io import OutputError
from resnetdsl.memory import memory_report
from resnetdsl.space import explore, load_space, pareto_front, write_specs
from resnetdsl.space import search as search_module
from resnetdsl.space.output import format_result, spec_text
from resnetdsl.space.variables import parse_values

from .conftest import run_cli

SMALL = """\
name: small
base: cifar_resnet20
vary:
  stages.*.depth: [1, 2]
  stages.0.width: [16, 24]
budget: [params <= 150k]
pareto: [gmacs, params]
"""
"""16 members: three stage depths and the first width."""

REGNET = """\
name: rx
base:
  regnet: {w0: 24, wa: 24.48, wm: 2.54, depth: 6, group_width: 8}
  input: {size: [64, 64]}
vary:
  regnet.depth: 2..6
  regnet.w0: 8..64 log step 8
  regnet.wa: 8.0..64.0 log step 0.1
  regnet.wm: 2.0..3.0 log
  regnet.group_width: [8, 16]
count: 24
seed: 7
"""


def space_file(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small() -> search_module.Result:
    return explore(load_space(SMALL), jobs=1, show_progress=False)


def test_values() -> None:
    assert parse_values("2..12").size == 11
    grid = parse_values("8..256 log step 8")
    assert (grid.size, grid.value(0), grid.value(31), grid.integer) == (32, 8, 256, True)
    fine = parse_values("2.0..3.0 log step 0.001")
    assert fine.size == 1001 and fine.value(1) == 2.001 and fine.value(1000) == 3.0
    assert parse_values("1.5..3.0").size is None
    rng = random.Random(0)
    for v in (grid, fine, parse_values("1.5..3.0"), parse_values("8.0..256.0 log"), parse_values([1, 2])):
        for _ in range(200):
            x = v.sample(rng)
            assert (v.choices is not None and x in v.choices) or v.lo <= x <= v.hi
    assert {grid.sample(rng) for _ in range(2000)} == set(range(8, 257, 8))  # every grid point is drawn


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2...x", "'2...x' is not a range; write LO..HI [log] [step Q] (2..12, 8..256 log step 8, 1.5..3.0) or a "
         "list of values"),
        ("5..2", "range '5..2' is empty: 2 is below 5"),
        ("0..4 log", "a log range must start above 0 (got 0)"),
        ("1..4 step 0", "step must be > 0 (got 0)"),
        ("1..4 lin", "unexpected 'lin' in range '1..4 lin'; write LO..HI [log] [step Q] (2..12, 8..256 log step 8, "
         "1.5..3.0) or a list of values"),
        ([], "the list of values is empty"),
    ],
)  # fmt: skip
def test_values_errors(text: object, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_values(text)
    assert str(exc.value) == message


def test_space_file_problems_all_at_once(tmp_path: Path) -> None:
    path = space_file(
        tmp_path,
        """\
name: bad
base: resnet50
vary:
  stages.7.depth: 2..12
  stages.*.widht: [32, 64]
  stages.0.depth: 2...x
  head.num_clases: [10]
budget: [gmacs <<= 3, parms <= 20M, memory < 1GiB]
target: gmacs <= 3
""",
    )
    with pytest.raises(SpecError) as exc:
        load_space(path)
    f = str(path)
    assert [i.format() for i in exc.value.issues] == [
        f"{f}:4:3: vary.stages.7.depth: 'stages' has 4 items (0 to 3); there is no item '7'",
        f"{f}:5:3: vary.stages.*.widht: unknown key 'widht' (did you mean 'width'?)",
        f"{f}:6:19: vary.stages.0.depth: '2...x' is not a range; write LO..HI [log] [step Q] (2..12, 8..256 log "
        "step 8, 1.5..3.0) or a list of values",
        f"{f}:7:3: vary.head.num_clases: unknown key 'num_clases' (did you mean 'num_classes'?)",
        f"{f}:8:10: budget[0]: expected FIGURE OP VALUE, such as gmacs <= 0.4; OP is one of <=, >=, ==, <, > "
        "(got 'gmacs <<= 3')",
        f"{f}:8:23: budget[1]: unknown figure 'parms' (did you mean 'params'?); one of params, macs, gmacs, "
        "activations, depth, stages, output_stride, rf, memory, or rf.N (the receptive field of stage N, 0 the stem)",
        f"{f}:8:37: budget[2]: the memory figure needs a batch size: give batch: N (or --batch N)",
        f"{f}:9:9: target: expected FIGURE = VALUE, such as gmacs = 0.4 (got 'gmacs <= 3')",
    ]


def test_space_file_keys_and_base_problems(tmp_path: Path) -> None:
    path = space_file(
        tmp_path,
        "base:\n  extends: resnet18\n  stages: {1: {depth: 0}}\ncuont: 3\n",
    )
    with pytest.raises(SpecError) as exc:
        load_space(path)
    assert [i.format() for i in exc.value.issues] == [f"{path}:4:1: cuont: unknown key 'cuont' (did you mean 'count'?)"]
    path.write_text("base:\n  extends: resnet18\n  stages: {1: {depth: 0}}\n", encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_space(path)
    assert [i.format() for i in exc.value.issues] == [f"{path}:3:23: stages[1].depth: must be >= 1 (got 0)"]
    path.write_text("base:\n  regnet: {w0: 24, wa: 24.48, wm: 2.54, depth: 22}\nvary: {stages.0.depth: 1..2}\n")
    with pytest.raises(SpecError) as exc:
        load_space(path)
    assert [i.format() for i in exc.value.issues] == [
        f"{path}:2:11: regnet.group_width: is required",
        f"{path}:3:8: vary.stages.0.depth: 'stages' is generated by 'regnet'; vary regnet.* instead",
    ]


def test_enumeration_figures_are_the_summary(small: search_module.Result) -> None:
    assert small.mode == "enumerated" and small.drawn == 16 and len(small.valid) == 16
    assert {r.values for r in small.records} == set(itertools.product([1, 2], [1, 2], [1, 2], [16, 24]))
    for r in small.records:
        s = summarize(small.spec_data(r))
        assert (small.figure(r, "params"), small.figure(r, "gmacs"), small.figure(r, "activations")) == (
            s.params,
            s.macs / 1e9,
            s.acts,
        )


def test_budget_and_front_against_brute_force(small: search_module.Result) -> None:
    fits = [r for r in small.records if small.figure(r, "params") <= 150_000]
    assert {r.index for r in small.fit} == {r.index for r in fits} and 0 < len(fits) < 16
    pts = {r.index: (small.figure(r, "gmacs"), small.figure(r, "params")) for r in fits}
    brute = {i for i, p in pts.items() if not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in pts.values())}
    assert set(small.front) == brute
    assert [small.figure(r, "gmacs") for r in small.fit] == sorted(small.figure(r, "gmacs") for r in small.fit)
    assert ("budget params <= 150k", len(fits)) in small.funnel


def test_pareto_front_with_ties() -> None:
    rng = random.Random(3)
    for _ in range(50):
        pts = [(rng.randint(0, 5), rng.randint(0, 5)) for _ in range(rng.randint(1, 12))]
        brute = {i for i, p in enumerate(pts) if not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in pts)}
        assert pareto_front(pts) == brute, pts


def test_sampling_is_seeded_and_the_same_in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    space = load_space(REGNET)
    one = explore(space, jobs=1, show_progress=False)
    monkeypatch.setattr(search_module, "SERIAL_BELOW", 0)
    two = explore(space, jobs=2, show_progress=False)
    assert one.mode == "sampled" and two.jobs == 2
    assert one.records == two.records
    other = explore(load_space(REGNET.replace("seed: 7", "seed: 8")), jobs=1, show_progress=False)
    assert [r.values for r in other.records] != [r.values for r in one.records]


def test_regnet_candidates_are_the_regnet(tmp_path: Path) -> None:
    """Output stride and receptive field of a RegNet candidate (a spec with the regnet: key, RegNet's own blocks)
    equal the recurrence over RegNet's layers (3×3/2 stem; per block 1×1, 3×3 with the stride, 1×1)."""
    from resnetdsl.regnet import RegNetSpec, regnet_widths

    space = load_space(REGNET + "budget: [output_stride == 32, rf > 0]\n")
    result = explore(space, jobs=1, show_progress=False)
    for r in result.valid:
        doc = search_module.document(space, r.values)
        stages = regnet_widths(RegNetSpec.model_validate(doc["regnet"])).stages
        rf, jump = 3, 2
        for st in stages:
            rf, jump = rf + 2 * jump, jump * 2  # the first block's strided 3×3
            rf += 2 * jump * (st.depth - 1)
        assert result.figure(r, "output_stride") == jump == 2 ** (len(stages) + 1)
        assert result.figure(r, "rf") == rf


def test_target_keeps_members_within_tolerance(small: search_module.Result) -> None:
    t = sorted(small.figure(r, "gmacs") for r in small.valid)[8]
    result = explore(load_space(SMALL.replace("budget: [params <= 150k]", f"target: gmacs = {t}")), jobs=1)
    near = [r.index for r in result.valid if abs(result.figure(r, "gmacs") - t) <= 0.05 * t]
    assert 1 <= len(near) < 16 and sorted(r.index for r in result.fit) == near


def test_anynet_constraints_report_against_brute_force() -> None:
    text = """\
base:
  anynet: {depths: [1, 1, 1, 1], widths: [32, 64, 128, 256], bottleneck_ratios: [1, 1, 1, 1],
           group_widths: [8, 8, 8, 8]}
  input: {size: [64, 64]}
vary:
  anynet.depths.*: [1, 2]
  anynet.widths.2: [32, 128]
  anynet.bottleneck_ratios.1: [1, 0.5]
  anynet.group_widths.3: [8, 16]
constraints: [shared_group_width]
"""
    result = explore(load_space(text), jobs=1, show_progress=False)
    assert result.drawn == 2**7 and len(result.valid) == 2**7
    valid = len(result.valid)

    def meets(values: tuple[object, ...]) -> tuple[bool, bool, bool, bool]:
        d = values[:4]
        widths = [32, 64, values[4], 256]
        return (values[5] == 1, values[6] == 8, widths == sorted(widths), list(d) == sorted(d))

    met = [meets(r.values) for r in result.valid]
    expected = [(name, sum(m[k] for m in met), sum(all(m[: k + 1]) for m in met)) for k, name in
                enumerate(("shared_bottleneck_ratio", "shared_group_width", "widths_nondecreasing",
                           "depths_nondecreasing"))]  # fmt: skip
    assert list(result.constraint_report) == expected
    assert len(result.fit) == sum(m[1] for m in met) == valid // 2


def test_memory_figure_is_the_summary_memory() -> None:
    text = SMALL.replace("[params <= 150k]", "[memory <= 1GiB]") + "batch: 8\n"
    result = explore(load_space(text), jobs=1, show_progress=False)
    r = result.valid[0]
    f32 = memory_report(result.spec_data(r), 8)["float32"]
    assert result.figure(r, "memory") == f32.activation_total + f32.param_bytes * 3


def test_write_specs(tmp_path: Path, small: search_module.Result) -> None:
    rows = [r for r in small.fit if r.index in small.front]
    paths = write_specs(small, tmp_path / "out", rows)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(Path(p).name for p in paths)
    for r, p in zip(rows, paths, strict=True):
        text = Path(p).read_text(encoding="utf-8")
        assert text == spec_text(small, r) and text.startswith(f"# candidate {r.index} of space small: ")
        assert check(p).analysis.totals.params == small.figure(r, "params")
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot make the folder"):
        write_specs(small, tmp_path / "file", rows)


def test_formats(small: search_module.Result) -> None:
    data = json.loads(format_result(small, "json"))
    assert [c["index"] for c in data["candidates"]] == [r.index for r in small.fit]
    assert sum(c["front"] for c in data["candidates"]) == len(small.front)
    csv_lines = format_result(small, "csv").splitlines()
    assert (
        csv_lines[0]
        == "index,stages.0.depth,stages.1.depth,stages.2.depth,stages.0.width,params,gmacs,activations,front"
    )
    assert len(csv_lines) == len(small.fit) + 1
    table = format_result(small, "table")
    assert table.splitlines()[0].startswith("space small: every one of 16 members; 1 job, ")
    assert f"{len(small.fit)} fit; {len(small.front)} on the Pareto front of gmacs, params (*)" in table


def test_command(tmp_path: Path) -> None:
    path = space_file(tmp_path, SMALL)
    out = run_cli("space", str(path), "--format", "json", "--front", "--write", str(tmp_path / "out"),
                  "--budget", "gmacs <= 0.03", "--jobs", "1")  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["candidates"] and all(c["front"] and c["figures"]["gmacs"] <= 0.03 for c in data["candidates"])
    n = len(data["candidates"])
    assert out.stderr == f"wrote {n} spec{'s' if n != 1 else ''} into {tmp_path / 'out'}\n"  # no progress: no tty
    bad = run_cli("space", str(path), "--target", "gmacs=x", "--pareto", "gmacs")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.splitlines() == [
        "--pareto gmacs: error: expected two figures, such as gmacs,params",
        "--target gmacs=x: error: expected FIGURE = VALUE, such as gmacs = 0.4; OP is one of <=, >=, ==, <, > "
        "(got 'gmacs = x')",
    ]


def test_plot(tmp_path: Path, small: search_module.Result) -> None:
    pytest.importorskip("matplotlib")
    from resnetdsl.space.picture import plot

    plot(small, tmp_path / "a.svg", marks=[("ResNet-20", 0.041, 272_474)])
    plot(small, tmp_path / "b.svg", marks=[("ResNet-20", 0.041, 272_474)])
    svg = (tmp_path / "a.svg").read_text(encoding="utf-8")
    assert svg == (tmp_path / "b.svg").read_text(encoding="utf-8") and "Pareto front" in svg and "ResNet-20" in svg
    plot(small, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(OutputError, match=r"give a \.png, \.svg or \.pdf file"):
        plot(small, tmp_path / "c.gif")


def test_imports_stay_lazy() -> None:
    code = (
        "import sys, resnetdsl; a = 'resnetdsl.space' in sys.modules; "  # regnet.py is the spec's regnet: key now
        "import resnetdsl.cli; resnetdsl.cli.make_parser(); "
        "print(a, 'resnetdsl.space.search' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def test_a_space_with_no_member_fitting_says_so() -> None:
    result = explore(load_space(SMALL.replace("150k", "1k")), jobs=1, show_progress=False)
    assert result.fit == () and "0 fit; 0 on the Pareto front" in format_result(result)
    assert math.isfinite(result.seconds)


def test_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from resnetdsl import progress

    monkeypatch.setattr(progress, "enabled", lambda stream: True)
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(search_module, "SERIAL_BELOW", 0)
    explore(load_space(SMALL), jobs=2)
    err = capsys.readouterr().err
    assert "\rexploring: 0/1 candidates 1–16 of 16" in err and err.endswith("\r")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--count", "0"], "argument --count: must be >= 1, got 0"),
        (["--jobs", "two"], "argument --jobs: expected a whole number, got 'two'"),
        (["--seed", "-1"], "argument --seed: must be from 0 to 2**63-1, got -1"),
        (["--tolerance", "1.5"], "argument --tolerance: must be between 0 and 1, got 1.5"),
        (["--tolerance", "q"], "argument --tolerance: expected a number, got 'q'"),
    ],
)
def test_option_numbers_are_refused_in_words(argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``space``'s numbers go through the one parser the commands share (resnetdsl.commands.options.number)."""
    import argparse

    from resnetdsl.commands import space as command

    parser = argparse.ArgumentParser(prog="resnetdsl space")
    command.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["space.yaml", *argv])
    assert capsys.readouterr().err.splitlines()[-1] == f"resnetdsl space: error: {said}"
