"""The committed front-end bundle is what frontend/build.mjs builds from the lock file and the sources, its
dependencies are pinned and licensed, and the licences ship with it. No npm needed; with node and frontend's
node_modules present, the bundle is also rebuilt and compared byte for byte."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT

FRONTEND = ROOT / "frontend"
ASSETS = ROOT / "resnetdsl" / "web" / "assets"
LICENCES_ALLOWED = {"MIT", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "ISC"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ASSETS / "manifest.json").read_text())
    return data


def test_the_manifest_names_every_source_and_its_hash(manifest: dict[str, Any]) -> None:
    sources = {
        "package.json",
        "package-lock.json",
        "build.mjs",
        *(f"src/{p.name}" for p in (FRONTEND / "src").iterdir()),
    }
    assert set(manifest["sources"]) == sources, "frontend/ changed: run `npm ci && node build.mjs` in frontend/"
    for name, digest in manifest["sources"].items():
        assert _sha(FRONTEND / name) == digest, f"frontend/{name} changed since the bundle was built (node build.mjs)"


def test_the_committed_assets_are_the_manifests(manifest: dict[str, Any]) -> None:
    assert set(manifest["assets"]) == {"viewer.js", "editor.js", "style.css", "LICENSES.txt"}
    for name, digest in manifest["assets"].items():
        assert _sha(ASSETS / name) == digest, f"resnetdsl/web/assets/{name} is not what the build wrote"
    assert sorted(p.name for p in ASSETS.iterdir()) == sorted([*manifest["assets"], "manifest.json"])


def test_every_bundled_package_is_the_locked_one_and_licensed(manifest: dict[str, Any]) -> None:
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    for pkg in manifest["packages"]:
        locked = lock["packages"][f"node_modules/{pkg['name']}"]
        assert (pkg["version"], pkg["integrity"]) == (locked["version"], locked["integrity"]), pkg["name"]
        assert pkg["license"] in LICENCES_ALLOWED, pkg
    names = {p["name"] for p in manifest["packages"]}
    assert {
        "@hpcc-js/wasm-graphviz",
        "svg-pan-zoom",
        "@codemirror/view",
        "@codemirror/lint",
        "@codemirror/lang-yaml",
    } <= names


def test_the_direct_dependencies_are_pinned_exactly() -> None:
    package = json.loads((FRONTEND / "package.json").read_text())
    for group in ("dependencies", "devDependencies"):
        for name, version in package[group].items():
            assert version[0].isdigit() and all(c.isdigit() or c == "." for c in version), (name, version)
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    assert "resolved" not in json.dumps(lock)  # the lock names packages and hashes, not where they were fetched


def test_the_licences_ship_with_the_bundle(manifest: dict[str, Any]) -> None:
    text = (ASSETS / "LICENSES.txt").read_text()
    for pkg in manifest["packages"]:
        header = f"{pkg['name']} {pkg['version']} ({pkg['license']}), in {', '.join(pkg['bundles'])}"
        assert header in text, header
        body = text.split(header, 1)[1].split("-" * 76)[1]  # up to the next package's rule
        assert "copyright" in body.lower() or "license" in body.lower(), pkg["name"]
    assert "Eclipse Public License" in text  # Graphviz, inside @hpcc-js/wasm-graphviz
    assert "frontend/build.mjs" in (ASSETS / "manifest.json").read_text()


def test_the_assets_are_package_data_that_nothing_ignores() -> None:
    """Hatch puts every file of the package that git does not ignore into the wheel."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    names = [str(p.relative_to(ROOT)) for p in ASSETS.iterdir()]
    ignored = subprocess.run(["git", "check-ignore", *names], cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout == "", ignored.stdout


def test_rebuilding_gives_the_same_bytes(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (FRONTEND / "node_modules" / "esbuild").exists():
        pytest.skip("needs node and frontend/node_modules (npm ci in frontend/)")
    done = subprocess.run(
        [node, "build.mjs", "--out", str(tmp_path)], cwd=FRONTEND, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    for path in ASSETS.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


# --- the browser in CI ---------------------------------------------------------------------------------------


def test_ci_installs_the_browser_and_requires_it() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    install = run.index("apt-get install -y -qq chromium")
    assert install < run.index('bash -c "$cmd"') and "command -v apt-get" in run
    assert 'export RESNETDSL_REQUIRE_BROWSER="${RESNETDSL_REQUIRE_BROWSER:-1}"' in run


def test_the_browser_tests_fail_rather_than_skip_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    from . import browser

    monkeypatch.setattr(browser, "chromium", lambda: None)
    monkeypatch.setenv(browser.REQUIRED, "1")
    with pytest.raises(pytest.fail.Exception, match="no chromium on PATH"):
        browser.require()
    monkeypatch.delenv(browser.REQUIRED)
    with pytest.raises(pytest.skip.Exception, match="no chromium on PATH"):
        browser.require()
