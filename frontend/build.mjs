// Builds the front end into resnetdsl/web/assets (or --out DIR): viewer.js (the HTML diagram and the diff page),
// editor.js (the live editor), style.css, LICENSES.txt (the licence of every npm package the bundles contain,
// and the notices of what those packages themselves bundle), and manifest.json (the hashes of the sources, the
// lock file and every asset, which tests/test_web_bundle.py checks without npm).
//
//   npm ci && node build.mjs            # from frontend/
//
// The output depends only on the sources, the lock file's packages and esbuild's version: building twice gives
// the same bytes.

import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outFlag = args.indexOf("--out");
const out = resolve(outFlag >= 0 ? args[outFlag + 1] : join(here, "..", "resnetdsl", "web", "assets"));

const sha256 = (data) => createHash("sha256").update(data).digest("hex");
const text = (p) => readFileSync(p, "utf8");

const BUNDLES = { "viewer.js": "src/entry-viewer.js", "editor.js": "src/entry-editor.js" };

// What the npm packages bundle in turn, beyond their own licence (from each package's documentation).
const NOTICES = {
  "@hpcc-js/wasm-graphviz": [
    "This package contains Graphviz compiled to WebAssembly.",
    "Graphviz is distributed under the Eclipse Public License 1.0 (EPL-1.0); its source code is available",
    "from the Graphviz project (https://graphviz.org, https://gitlab.com/graphviz/graphviz).",
    "The build also includes the Expat XML parser (MIT licence).",
  ].join("\n"),
};

async function bundle(name, entry) {
  const result = await esbuild.build({
    entryPoints: [join(here, entry)],
    bundle: true,
    minify: true,
    format: "iife",
    target: ["es2020"],
    legalComments: "none",
    charset: "utf8",
    metafile: true,
    write: false,
    logLevel: "warning",
  });
  const code = result.outputFiles[0].text;
  const packages = new Set();
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) packages.add(m[1]);
  }
  return { name, code, packages };
}

function licenceText(dir) {
  const names = readdirSync(dir).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f));
  if (!names.length) throw new Error(`no licence file in ${dir}`);
  return names.map((f) => text(join(dir, f)).trim()).join("\n\n");
}

function sourceFiles() {
  const files = ["package.json", "package-lock.json", "build.mjs"];
  for (const f of readdirSync(join(here, "src")).sort()) files.push(`src/${f}`);
  return files;
}

async function main() {
  mkdirSync(out, { recursive: true });
  const lock = JSON.parse(text(join(here, "package-lock.json")));
  const built = [];
  for (const [name, entry] of Object.entries(BUNDLES)) built.push(await bundle(name, entry));
  const css = await esbuild.build({
    entryPoints: [join(here, "src/style.css")],
    bundle: true,
    minify: true,
    write: false,
    logLevel: "warning",
  });
  const assets = {
    "viewer.js": built[0].code,
    "editor.js": built[1].code,
    "style.css": css.outputFiles[0].text,
  };
  const used = new Set([...built[0].packages, ...built[1].packages]);
  const packages = [...used].sort().map((name) => {
    const entry = lock.packages[`node_modules/${name}`];
    if (!entry) throw new Error(`${name} is bundled but not in package-lock.json`);
    const dir = join(here, "node_modules", name);
    const pkg = JSON.parse(text(join(dir, "package.json")));
    if (pkg.version !== entry.version) throw new Error(`${name}: installed ${pkg.version}, locked ${entry.version}`);
    return {
      name,
      version: entry.version,
      license: entry.license || pkg.license,
      integrity: entry.integrity,
      bundles: Object.keys(BUNDLES).filter((b, i) => built[i].packages.has(name)),
      text: licenceText(dir),
      notice: NOTICES[name] || "",
    };
  });
  const licences = [
    "Third-party software in resnetdsl's web assets (viewer.js, editor.js)",
    "====================================================================",
    "",
    "Each package below is bundled, as the npm registry published it at the version shown, into the files listed.",
    "",
  ];
  for (const p of packages) {
    licences.push("-".repeat(76), `${p.name} ${p.version} (${p.license}), in ${p.bundles.join(", ")}`, "-".repeat(76), "");
    if (p.notice) licences.push(p.notice, "");
    licences.push(p.text, "");
  }
  assets["LICENSES.txt"] = licences.join("\n");
  for (const [name, data] of Object.entries(assets)) writeFileSync(join(out, name), data);
  const manifest = {
    comment: "Written by frontend/build.mjs; tests/test_web_bundle.py checks it. Do not edit.",
    esbuild: esbuild.version,
    sources: Object.fromEntries(sourceFiles().map((f) => [f, sha256(readFileSync(join(here, f)))])),
    assets: Object.fromEntries(Object.entries(assets).map(([n, d]) => [n, sha256(Buffer.from(d, "utf8"))])),
    packages: packages.map(({ name, version, license, integrity, bundles }) => ({ name, version, license, integrity, bundles })),
  };
  writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  const sizes = Object.entries(assets).map(([n, d]) => `${n} ${(Buffer.byteLength(d) / 1024).toFixed(0)} kB`);
  console.log(`wrote ${relative(process.cwd(), out) || "."}: ${sizes.join(", ")}`);
  if (!existsSync(join(out, "manifest.json"))) process.exit(1);
}

main().catch((err) => {
  console.error(err.message || err);
  process.exit(1);
});
