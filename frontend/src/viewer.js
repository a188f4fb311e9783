// The interactive drawing: Graphviz (WebAssembly) lays out the DOT of the current state, svg-pan-zoom pans and
// zooms it; a minimap, deep links (#layer3.4.conv2), a search box, the facts panel, the legend, the summary
// table linked both ways with the drawing, and downloads. Used by the HTML diagram, the diff page and the editor.

import { Graphviz } from "@hpcc-js/wasm-graphviz";
import svgPanZoom from "svg-pan-zoom";

import { clear, download, fileName, h, svgToPng } from "./dom.js";
import { Minimap } from "./minimap.js";
import { renderLegend, renderTable, showEdge, showFacts } from "./panels.js";

let loading = null;
/** The Graphviz library, compiled once per page. */
export function graphviz() {
  if (!loading) loading = Graphviz.load();
  return loading;
}

// svg-pan-zoom applies a pan or zoom at the next animation frame: measure the drawing only after it
const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));

export class Viewer {
  constructor(root, source, opts = {}) {
    this.root = root;
    this.opts = opts;
    this.open = new Set();
    this.svgText = "";
    this.pz = null;
    this.drawn = { nodes: new Map(), edges: new Map() };
    this.nameOf = new Map();
    this.selected = null;
    this.hovered = null;
    this.layoutMs = 0;
    this.build();
    this.setSource(source, { keepOpen: false });
  }

  // -- the page --

  build() {
    const bar = h("header", { class: "rd-bar" });
    this.titleEl = h("h1", { class: "rd-title" });
    this.subtitleEl = h("span", { class: "rd-subtitle" });
    this.search = h("input", {
      type: "search",
      class: "rd-search",
      placeholder: "find a module: layer3.4.conv2",
      list: "rd-paths",
      "aria-label": "find a module by its path",
    });
    this.datalist = h("datalist", { id: "rd-paths" });
    this.message = h("span", { class: "rd-message", role: "status" });
    this.search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") this.reveal(this.search.value.trim(), { fromSearch: true });
    });
    this.search.addEventListener("change", () => this.reveal(this.search.value.trim(), { fromSearch: true }));
    const level = (name, label) =>
      h("button", { type: "button", class: "rd-btn", "data-level": name, onclick: () => this.setLevel(name) }, label);
    this.downloads = h("span", { class: "rd-downloads" });
    bar.append(
      h("div", { class: "rd-heading" }, this.titleEl, this.subtitleEl),
      h("div", { class: "rd-tools" }, this.search, this.datalist, this.message),
      h(
        "div",
        { class: "rd-tools" },
        h("span", { class: "rd-label" }, "open:"),
        level("stage", "stages"),
        level("block", "blocks"),
        level("layer", "layers"),
        h("button", { type: "button", class: "rd-btn", onclick: () => this.fit() }, "fit"),
        this.downloads,
      ),
    );
    this.canvas = h("div", { class: "rd-canvas", tabindex: "0" });
    this.minimap = h("div", { class: "rd-minimap", title: "click to move there" });
    this.stage = h("section", { class: "rd-stage" }, this.canvas, this.minimap);
    this.facts = h("div", { class: "rd-facts" }, h("p", { class: "rd-hint" }, "Hover over a node or an edge for its facts; click a stage or a block to open or close it."));
    this.legend = h("div", { class: "rd-legend" });
    this.extra = h("div", { class: "rd-extra" });
    this.table = h("div", { class: "rd-table" });
    this.side = h("aside", { class: "rd-side" }, this.facts, this.legend, this.extra, this.table);
    this.root.classList.add("rd-app");
    this.root.append(bar, h("main", { class: "rd-main" }, this.stage, this.side));
    this.canvas.addEventListener("mouseover", (e) => this.onHover(e));
    this.canvas.addEventListener("mouseleave", () => this.onHover(null));
    this.canvas.addEventListener("click", (e) => this.onClick(e));
    this.minimapView = new Minimap(this, this.minimap);
    window.addEventListener("hashchange", () => this.revealHash());
    window.addEventListener("resize", () => {
      if (this.pz) {
        this.pz.resize();
        this.updateMinimap();
      }
    });
  }

  setSource(source, { keepOpen = true } = {}) {
    const first = !this.source;
    this.source = source;
    if (!keepOpen || first) this.open = new Set(source.initialOpen);
    else {
      for (const id of [...this.open]) if (!source.index.byId.has(id)) this.open.delete(id);
    }
    this.titleEl.textContent = source.title;
    this.subtitleEl.textContent = source.subtitle || "";
    document.title = source.title ? `${source.title} · resnetdsl` : "resnetdsl";
    clear(this.datalist);
    const paths = source.paths.slice(0, 5000);
    for (const p of paths) this.datalist.append(h("option", { value: p }));
    clear(this.extra);
    if (source.extra) this.extra.append(source.extra());
    this.renderDownloads();
  }

  renderDownloads() {
    clear(this.downloads);
    const name = this.source.name;
    this.downloads.append(
      h("button", { type: "button", class: "rd-btn", onclick: () => download(fileName(name, "svg"), this.svgText, "image/svg+xml") }, "SVG"),
    );
    if (this.opts.png) {
      this.downloads.append(
        h("button", { type: "button", class: "rd-btn", onclick: () => svgToPng(this.svgText).then((b) => download(fileName(name, "png"), b)) }, "PNG"),
      );
    }
    const spec = this.opts.spec ? this.opts.spec() : this.source.spec;
    if (spec !== undefined && spec !== null) {
      this.downloads.append(
        h("button", { type: "button", class: "rd-btn", onclick: () => download(fileName(name, "yaml"), this.opts.spec ? this.opts.spec() : spec, "application/yaml") }, "spec"),
      );
    }
  }

  say(text) {
    this.message.textContent = text || "";
  }

  // -- drawing --

  async draw({ focus = null, keep = null, first = false, keepView = false } = {}) {
    const gv = await graphviz();
    const t0 = performance.now();
    const out = this.source.draw(this.open);
    let svg;
    try {
      svg = gv.layout(out.dot, "svg", "dot");
    } catch (err) {
      this.say(`Graphviz could not lay out this state: ${err.message || err}`);
      return false;
    }
    const before = keep ? this.screenBox(keep) : null;
    const zoom = this.pz && !first ? this.pz.getSizes().realZoom : null;
    const pan = keepView && this.pz ? this.pz.getPan() : null;
    this.svgText = svg;
    this.drawn = out;
    this.nameOf = new Map();
    for (const [name, ref] of out.nodes) {
      if (ref.part) continue;
      if (!name.startsWith("c_") || !this.nameOf.has(ref.id)) this.nameOf.set(ref.id, name);
    }
    this.mount(svg);
    this.layoutMs = performance.now() - t0;
    if (zoom !== null) this.setRealZoom(zoom);
    else await this.initialView();
    if (pan) this.pz.pan(pan);
    await frame();
    if (before) await this.keepBox(keep, before);
    else if (focus) await this.centre(focus);
    this.renderLegend(out.used);
    this.renderTable();
    this.mark();
    this.updateMinimap();
    this.root.dataset.drawn = String((Number(this.root.dataset.drawn) || 0) + 1);
    this.root.dispatchEvent(new CustomEvent("rd-drawn", { detail: { ms: this.layoutMs } }));
    return true;
  }

  mount(svg) {
    if (this.pz) {
      this.pz.destroy();
      this.pz = null;
    }
    clear(this.canvas);
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    const el = document.importNode(doc.documentElement, true);
    this.graphBox = (el.getAttribute("viewBox") || "0 0 1 1").split(/[\s,]+/).map(Number);
    el.setAttribute("width", "100%");
    el.setAttribute("height", "100%");
    el.classList.add("rd-svg");
    this.canvas.append(el);
    this.svg = el;
    this.pz = svgPanZoom(el, {
      zoomEnabled: true,
      panEnabled: true,
      controlIconsEnabled: false,
      dblClickZoomEnabled: false,
      mouseWheelZoomEnabled: true,
      preventMouseEventsDefault: true,
      fit: true,
      center: true,
      minZoom: 0.02,
      maxZoom: 40,
      zoomScaleSensitivity: 0.25,
      onPan: () => this.updateMinimapSoon(),
      onZoom: () => this.updateMinimapSoon(),
    });
    this.fitZoom = this.pz.getSizes().realZoom;
    this.minimapView.reset();
  }

  async initialView() {
    // a tall drawing fits too small to read: show its top at a readable size instead
    if (this.fitZoom >= 0.55) return;
    const sizes = this.pz.getSizes();
    const lr = (this.source.legendModel || this.source.model || {}).rankdir === "LR";
    const across = lr ? sizes.height / (this.graphBox[3] + 40) : sizes.width / (this.graphBox[2] + 40);
    this.setRealZoom(Math.min(1, Math.max(0.55, across)));
    await frame();
    const box = this.svg.querySelector("g.graph").getBoundingClientRect();
    const view = this.canvas.getBoundingClientRect();
    if (lr) {
      this.pz.panBy({ x: view.left + 12 - box.left, y: view.top + view.height / 2 - (box.top + box.height / 2) });
    } else {
      this.pz.panBy({ x: view.left + view.width / 2 - (box.left + box.width / 2), y: view.top + 12 - box.top });
    }
  }

  setRealZoom(real) {
    this.pz.zoom(real / this.fitZoom);
  }

  fit() {
    if (!this.pz) return;
    this.pz.resize();
    this.pz.fit();
    this.pz.center();
    this.updateMinimapSoon();
  }

  element(id) {
    // the drawn element that stands for item `id`: its node, its cluster when open, else its nearest drawn parent
    let cur = id;
    const seen = new Set();
    while (cur && !seen.has(cur)) {
      seen.add(cur);
      const name = this.nameOf.get(cur);
      const el = name && this.svg ? this.svg.getElementById(name) : null;
      if (el) return el;
      cur = this.visibleParent(cur);
    }
    return null;
  }

  visibleParent(id) {
    const entry = this.source.index.byId.get(id);
    if (!entry) return null;
    if (entry.type === "block" && this.source.runOf) {
      const run = this.source.runOf(id);
      if (run && !this.isOpen(run)) return run;
    }
    return entry.parent;
  }

  screenBox(id) {
    const el = this.element(id);
    return el ? el.getBoundingClientRect() : null;
  }

  async keepBox(id, before) {
    const el = this.element(id);
    if (!el) return;
    const now = el.getBoundingClientRect();
    this.pz.panBy({ x: before.left + before.width / 2 - (now.left + now.width / 2), y: before.top - now.top });
    await frame();
  }

  async centre(id) {
    const el = this.element(id);
    if (!el) return;
    const box = el.getBoundingClientRect();
    const view = this.canvas.getBoundingClientRect();
    this.pz.panBy({ x: view.left + view.width / 2 - (box.left + box.width / 2), y: view.top + view.height / 2 - (box.top + box.height / 2) });
    await frame();
    this.updateMinimap();
  }

  // -- state --

  setLevel(level) {
    this.open = new Set(this.source.levels[level]);
    this.draw({ first: true });
  }

  key(id) {
    return this.source.openKey ? this.source.openKey(id) : id;
  }

  isOpen(id) {
    return this.open.has(this.key(id));
  }

  toggle(id) {
    const key = this.key(id);
    if (this.open.has(key)) this.open.delete(key);
    else this.open.add(key);
    return this.draw({ keep: id });
  }

  async reveal(path, { fromSearch = false } = {}) {
    if (!path) return false;
    let id = this.source.find(path);
    if (!id) {
      const near = this.source.paths.find((p) => p.endsWith("." + path)) || this.source.paths.find((p) => p.includes(path));
      if (near && fromSearch) id = this.source.find(near);
    }
    if (!id) {
      this.say(`no module '${path}'`);
      return false;
    }
    this.say("");
    for (const a of this.source.ancestors(id)) this.open.add(a);
    await this.draw({ focus: id });
    this.select(id);
    try {
      const want = "#" + encodeURI(this.source.index.byId.get(id).item.path);
      if (location.hash !== want) history.replaceState(null, "", want);
    } catch (_) {
      // a sandboxed frame may refuse to change its address
    }
    return true;
  }

  revealHash() {
    let hash = "";
    try {
      hash = decodeURI(location.hash.slice(1));
    } catch (_) {
      hash = location.hash.slice(1);
    }
    if (hash) return this.reveal(hash);
    return Promise.resolve(false);
  }

  select(id) {
    this.selected = id;
    this.showFacts(id);
    this.mark();
    const row = this.table.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (row) row.scrollIntoView({ block: "nearest" });
  }

  mark() {
    if (!this.svg) return;
    for (const el of this.svg.querySelectorAll(".rd-selected, .rd-hover")) el.classList.remove("rd-selected", "rd-hover");
    for (const el of this.table.querySelectorAll("tr.rd-selected, tr.rd-hover")) el.classList.remove("rd-selected", "rd-hover");
    const put = (id, cls) => {
      if (!id) return;
      const el = this.element(id);
      if (el) el.classList.add(cls);
      const row = this.table.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
      if (row) row.classList.add(cls);
    };
    put(this.selected, "rd-selected");
    put(this.hovered, "rd-hover");
  }

  // -- events --

  refOf(target) {
    const g = target && target.closest ? target.closest("g.node, g.edge, g.cluster") : null;
    if (!g) return null;
    if (g.classList.contains("edge")) {
      const facts = this.drawn.edges.get(g.id);
      return facts ? { edge: g.id, facts } : null;
    }
    const ref = this.drawn.nodes.get(g.id);
    return ref ? { ...ref, cluster: g.classList.contains("cluster") } : null;
  }

  onHover(e) {
    const ref = e ? this.refOf(e.target) : null;
    const key = ref ? ref.edge || ref.id : null;
    if (key === this.hoverKey) return;
    this.hoverKey = key;
    this.hovered = ref && !ref.edge ? ref.id : null;
    if (ref && ref.edge) this.showEdge(ref.facts);
    else if (ref) this.showFacts(ref.id);
    else if (this.selected) this.showFacts(this.selected);
    this.mark();
  }

  onClick(e) {
    const ref = this.refOf(e.target);
    if (!ref || ref.edge || ref.type === "io") return;
    const toggles = ref.type !== "layer" && ref.id !== "legend";
    if (toggles && (ref.cluster || ref.type === "run" || !this.isOpen(ref.id) || ref.part === "add")) {
      if (ref.part === "add") return this.select(ref.id);
      this.selected = ref.id;
      return this.toggle(ref.id);
    }
    this.select(ref.id);
  }

  // -- panels (panels.js) and the minimap (minimap.js) --

  showFacts(id) {
    showFacts(this, id);
  }

  showEdge(f) {
    showEdge(this, f);
  }

  renderLegend(used) {
    renderLegend(this, used);
  }

  renderTable() {
    renderTable(this);
  }

  updateMinimapSoon() {
    this.minimapView.updateSoon();
  }

  updateMinimap() {
    this.minimapView.update();
  }
}

/** Mount a viewer on `root` for `source` and draw it; a deep link in the address opens centred on its module. */
export async function mountViewer(root, source, opts = {}) {
  const viewer = new Viewer(root, source, opts);
  await viewer.draw({ first: true });
  root.dataset.firstDrawMs = performance.now().toFixed(1); // since the page began to load
  if (location.hash.length > 1) await viewer.revealHash();
  root.dataset.ready = "1";
  return viewer;
}
