// The diff page: two networks (or a network and a checkpoint) in one drawing, A beside B, their stages and blocks
// on the same ranks; what differs outlined in red; every layer filled by what load_weights does with its tensors.
// The data (what differs, each tensor's fate, the per-stage deltas) comes from resnetdsl/web/diff.py.

import {
  CHANGED,
  NetWriter,
  STATUS_COLORS,
  STATUS_ORDER,
  dotText,
  fmtInt,
  fmtShape,
  graphHeader,
  legendNode,
} from "./dot.js";
import { ancestorsToOpen, indexModel } from "./index.js";
import { h } from "./dom.js";
import { blockRun, describe } from "./source.js";

const SIDES = ["a", "b"];

function signed(n) {
  return (n > 0 ? "+" : n < 0 ? "−" : "±") + fmtInt(Math.abs(n));
}

export function deltaText(d) {
  return `Δ ${signed(d.params)} params, ${signed(d.macs)} MACs`;
}

function worst(statuses) {
  for (const s of STATUS_ORDER) if (statuses.has(s)) return s;
  return null;
}

/** Keys of the tensors an item holds (a layer's own; a block's, run's, stage's or part's, all within). */
function keysOf(entry, index) {
  const { item, type } = entry;
  if (type === "layer") return item.state.map((s) => s[0]);
  const layers = [];
  if (type === "block") layers.push(...item.layers);
  else if (type === "stage") for (const b of item.blocks) layers.push(...b.layers);
  else if (type === "run") {
    const st = index.byId.get(item.stage).item;
    for (const b of st.blocks.slice(item.start, item.start + item.n)) layers.push(...b.layers);
  } else if (item.layers) layers.push(...item.layers);
  return layers.flatMap((l) => l.state.map((s) => s[0]));
}

class Annotator {
  constructor(data, side, index) {
    this.d = data;
    this.side = side;
    this.index = index;
    this.status = data.status[side];
    this.changes = data.changes[side];
    this.only = new Set(data.only[side]);
    this.shortcuts = new Set(data.shortcutChanges[side]);
  }

  reasons(id) {
    const entry = this.index.byId.get(id);
    if (entry && entry.type === "run") {
      const st = this.index.byId.get(entry.item.stage).item;
      const out = new Set();
      for (const b of st.blocks.slice(entry.item.start, entry.item.start + entry.item.n)) {
        for (const r of this.changes[b.id] || []) out.add(r);
      }
      return [...out];
    }
    return this.changes[id] || [];
  }

  counts(entry) {
    const c = {};
    for (const k of keysOf(entry, this.index)) {
      const s = this.status[k];
      if (s) c[s] = (c[s] || 0) + 1;
    }
    return c;
  }

  countLine(entry) {
    const c = this.counts(entry);
    const parts = STATUS_ORDER.filter((s) => c[s]).map(
      (s) => `<font color="${STATUS_COLORS[s].line}">■</font> <font point-size="9">${c[s]} ${s}</font>`,
    );
    return parts.join("  ");
  }

  delta(id) {
    return this.side === "b" ? this.d.deltas[id] : null;
  }

  node(ref) {
    if (ref.part || ref.type === "io") return null;
    const entry = this.index.byId.get(ref.id);
    if (!entry) return null;
    const out = { cls: [], attrs: {}, line: "" };
    const lines = [];
    if (entry.type === "layer") {
      const st = worst(new Set(keysOf(entry, this.index).map((k) => this.status[k]).filter(Boolean)));
      if (st) {
        out.attrs.fillcolor = STATUS_COLORS[st].fill;
        out.cls.push(`st-${st}`);
      }
    } else {
      const line = this.countLine(entry);
      if (line) lines.push(line);
    }
    const reasons = this.reasons(ref.id);
    if (reasons.length) {
      out.cls.push("changed");
      Object.assign(out.attrs, { color: CHANGED, penwidth: "3" });
      for (const r of reasons) lines.push(`<font color="${CHANGED}">≠ ${dotText(r)}</font>`);
    }
    if (this.only.has(ref.id)) {
      out.cls.push("only");
      Object.assign(out.attrs, { color: CHANGED, penwidth: "3", style: "rounded,filled,dashed" });
      lines.push(`<font color="${CHANGED}">only in ${this.side.toUpperCase()}</font>`);
    }
    const d = entry.type === "stage" ? this.delta(ref.id) : null;
    if (d) lines.push(`<font point-size="9">${dotText(deltaText(d))}</font>`);
    out.line = lines.join("<br/>");
    return out;
  }

  cluster(ref) {
    const entry = this.index.byId.get(ref.id);
    if (!entry || (entry.type !== "stage" && entry.type !== "block" && entry.type !== "ops")) return null;
    const out = { cls: [], attrs: {}, label: "" };
    const reasons = this.reasons(ref.id);
    if (reasons.length) {
      out.cls.push("changed");
      Object.assign(out.attrs, { color: CHANGED, penwidth: "3" });
      out.label += `  <font color="${CHANGED}">≠ ${dotText(reasons.join("; "))}</font>`;
    }
    if (this.only.has(ref.id)) {
      out.cls.push("only");
      Object.assign(out.attrs, { color: CHANGED, penwidth: "3" });
      out.label += `  <font color="${CHANGED}">only in ${this.side.toUpperCase()}</font>`;
    }
    const d = entry.type === "stage" ? this.delta(ref.id) : null;
    if (d && this.index.byId.get(ref.id)) out.label += `  <font point-size="9">${dotText(deltaText(d))}</font>`;
    return out;
  }

  edge(block) {
    if (!this.shortcuts.has(block.id)) return null;
    return { cls: ["changed"], attrs: { penwidth: "3.5" } };
  }
}

function sideLabel(data, side) {
  const s = data[side];
  return `<b>${side.toUpperCase()}: ${dotText(s.label)}</b>` + (s.model ? `<br/><font point-size="10">${dotText(s.model.stats)}</font>` : "");
}

export function diffDot(data, indexes, open) {
  const drawn = SIDES.filter((s) => data[s].model);
  const model = data[drawn[0]].model;
  const title = `<b>${dotText(data.a.label)}</b> → <b>${dotText(data.b.label)}</b>`;
  const lines = graphHeader(model, `<font point-size="16">${title}</font>`, model.look);
  const nodes = new Map();
  const edges = new Map();
  const used = new Set();
  const writers = {};
  for (const side of drawn) {
    const w = new NetWriter(data[side].model, open, {
      prefix: `${side}_`,
      annotate: new Annotator(data, side, indexes[side]),
    });
    w.depth = 2;
    w.build();
    writers[side] = w;
    lines.push(`\tsubgraph "cluster_side_${side}" {`);
    lines.push(`\t\tgraph [label=<${sideLabel(data, side)}> id="side_${side}" style="rounded" color="#888888" margin="14"]`);
    lines.push(...w.lines, "\t}");
    for (const [k, v] of w.nodes) nodes.set(k, { ...v, side });
    for (const [k, v] of w.edges) edges.set(k, v);
    for (const u of w.used) used.add(u);
  }
  if (writers.a && writers.b) {
    for (const [key, na] of writers.a.anchors) {
      const nb = writers.b.anchors.get(key);
      if (na && nb) lines.push(`\t{rank=same; "${na}"; "${nb}"}`);
    }
  }
  const legend = legendNode(writers[drawn[drawn.length - 1]], used);
  if (legend) lines.push(legend);
  lines.push("}");
  return { dot: lines.join("\n") + "\n", nodes, edges, used };
}

function statusLegend(data) {
  const c = data.counts;
  const ul = h("ul", { class: "rd-legend-list" });
  for (const s of [...STATUS_ORDER].reverse()) {
    ul.append(
      h(
        "li",
        { class: `st-${s}` },
        h("span", { class: "rd-chip", style: { background: STATUS_COLORS[s].fill, borderColor: STATUS_COLORS[s].line } }),
        `${s}: ${c[s] || 0}`,
      ),
    );
  }
  return h(
    "div",
    {},
    h("h3", {}, `tensors, loading ${data.a.label} into ${data.b.label}`),
    ul,
    h("p", { class: "rd-note" }, h("span", { class: "rd-chip changed" }), " red outline: differs from the other side"),
  );
}

function partsTable(data) {
  const t = h("table", { class: "rd-summary rd-diff-parts" });
  t.append(h("thead", {}, h("tr", {}, h("th", {}, "part"), h("th", { class: "num" }, "params A"), h("th", { class: "num" }, "params B"), h("th", { class: "num" }, "Δ params"), h("th", { class: "num" }, "Δ MACs"))));
  const body = h("tbody");
  for (const r of data.parts) {
    const pa = r.a ? r.a.params : 0;
    const pb = r.b ? r.b.params : 0;
    const ma = r.a ? r.a.macs : 0;
    const mb = r.b ? r.b.macs : 0;
    body.append(
      h(
        "tr",
        { "data-part": r.part, class: pa !== pb || ma !== mb ? "rd-differs" : "" },
        h("td", {}, r.part),
        h("td", { class: "num" }, r.a ? fmtInt(pa) : "-"),
        h("td", { class: "num" }, r.b ? fmtInt(pb) : "-"),
        h("td", { class: "num" }, signed(pb - pa)),
        h("td", { class: "num" }, signed(mb - ma)),
      ),
    );
  }
  t.append(body);
  return t;
}

function keysList(data) {
  if (!data.keys) return null;
  const ul = h("ul", { class: "rd-keys" });
  for (const k of data.keys) ul.append(h("li", {}, h("code", {}, k.path), `: ${k.a} → ${k.b}`));
  return h("div", {}, h("h3", {}, data.keys.length ? "spec keys that differ" : "spec: the same"), ul);
}

function tensorList(data, side) {
  const s = data[side];
  const ul = h("ul", { class: "rd-state rd-checkpoint" });
  for (const [key, shape] of s.tensors) {
    const st = data.status[side][key];
    ul.append(
      h(
        "li",
        { class: st ? `st-${st}` : "" },
        h("code", {}, key),
        " ",
        shape.length ? fmtShape(shape) : "scalar",
        st ? h("span", { class: "rd-status", style: { background: STATUS_COLORS[st].fill, borderColor: STATUS_COLORS[st].line } }, st) : "",
      ),
    );
  }
  return h("div", {}, h("h3", {}, `${side.toUpperCase()}: checkpoint ${s.label}, ${s.tensors.length} tensors`), ul);
}

/** The viewer's source for a diff. */
export function diffSource(data) {
  const indexes = {};
  const byId = new Map();
  const byPath = new Map();
  for (const side of SIDES) {
    const m = data[side].model;
    if (!m) continue;
    const idx = indexModel(m);
    indexes[side] = idx;
    for (const [id, e] of idx.byId) byId.set(`${side}_${id}`, { ...e, parent: e.parent ? `${side}_${e.parent}` : null, side });
    for (const [p, id] of idx.byPath) if (side === "b" || !byPath.has(p)) byPath.set(p, `${side}_${id}`);
  }
  const index = { byId, byPath };
  const split = (id) => {
    const m = /^([ab])_(.*)$/.exec(id);
    return m ? [m[1], m[2]] : [null, id];
  };
  const drawn = SIDES.find((s) => data[s].model);
  const legendModel = data[drawn].model;
  const stageIds = (m) => m.parts.filter((p) => p.t === "stage").map((p) => p.id);
  const all = (m) => m.parts.flatMap((p) => (p.t === "stage" ? [p.id, ...p.blocks.map((b) => b.id)] : [p.id]));
  const union = (f) => [...new Set(SIDES.flatMap((s) => (data[s].model ? f(data[s].model) : [])))];
  return {
    model: legendModel,
    legendModel,
    name: `${data.a.label}_vs_${data.b.label}`,
    title: `${data.a.label} → ${data.b.label}`,
    subtitle: `${data.counts.loaded} loaded, ${data.counts.adapted} adapted, ${data.counts.reinitialised} reinitialised, ${data.counts.missing} missing, ${data.counts.unexpected} unexpected, ${data.counts.mismatched} mismatched`,
    index,
    paths: [...byPath.keys()],
    initialOpen: union((m) => m.open),
    levels: { stage: [], block: union(stageIds), layer: union(all) },
    draw: (open) => diffDot(data, indexes, open),
    openKey: (id) => split(id)[1],
    find: (path) => byPath.get(path) || null,
    ancestors: (id) => {
      const [side, raw] = split(id);
      return side ? ancestorsToOpen(data[side].model, indexes[side], raw) : [];
    },
    runOf: (id) => {
      const [side, raw] = split(id);
      const run = side ? blockRun(indexes[side], raw) : null;
      return run ? `${side}_${run}` : null;
    },
    describe: (id) => {
      const [side, raw] = split(id);
      if (!side) return null;
      const d = describe(data[side].model, indexes[side], raw, (k) => data.status[side][k]);
      if (!d) return null;
      d.title = `${side.toUpperCase()}: ${d.title}`;
      const reasons = new Annotator(data, side, indexes[side]).reasons(raw);
      if (reasons.length) d.rows.unshift(["differs", reasons.join("; ")]);
      if (data.only[side].includes(raw)) d.rows.unshift(["only in", side.toUpperCase()]);
      const delta = data.deltas[raw];
      if (delta && indexes[side].byId.get(raw).type === "stage") d.rows.push(["B − A", deltaText(delta)]);
      return d;
    },
    rows: () => [],
    totals: null,
    statusLegend: () => statusLegend(data),
    extra: () => {
      const box = h("div", {}, h("h3", {}, "parameters and MACs per part"), partsTable(data));
      const keys = keysList(data);
      if (keys) box.append(keys);
      for (const side of SIDES) if (data[side].tensors) box.append(tensorList(data, side));
      box.append(h("p", { class: "rd-note" }, `A: ${data.a.label} (${data.a.kind}); B: ${data.b.label} (${data.b.kind}).`));
      return box;
    },
  };
}
