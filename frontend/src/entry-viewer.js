// Entry of the viewer bundle (viewer.js): the HTML diagram and the diff page. Reads the page's data block and
// mounts the viewer; `window.resnetdsl` holds the viewer for scripts and tests.

import { diffSource } from "./diff.js";
import { networkSource } from "./source.js";
import { Viewer, mountViewer } from "./viewer.js";

function data(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : null;
}

async function start() {
  const root = document.getElementById("rd-root");
  if (!root) return;
  const model = data("rd-model");
  const diff = data("rd-diff");
  const spec = data("rd-spec");
  let source;
  if (model) {
    source = networkSource(model);
    if (spec && typeof spec.text === "string") source.spec = spec.text;
  } else if (diff) source = diffSource(diff);
  else return;
  window.resnetdsl.viewer = await mountViewer(root, source);
}

window.resnetdsl = { Viewer, mountViewer, networkSource, diffSource, viewer: null };
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
