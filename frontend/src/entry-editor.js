// Entry of the editor bundle (editor.js): the live editor page served by `resnetdsl serve`.

import { LiveEditor } from "./editor.js";

function start() {
  const root = document.getElementById("rd-root");
  const config = JSON.parse(document.getElementById("rd-config").textContent);
  window.resnetdsl = { editor: new LiveEditor(root, config) };
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
