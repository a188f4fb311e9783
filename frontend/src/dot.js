// The model of a network (resnetdsl/web/model.py) → Graphviz DOT for one expand/collapse state.
//
// The drawing is the static diagram's (resnetdsl/render/graph.py): each stage a cluster, a block a node with an
// explicit add node and its shortcut as an edge beside it, or, opened, a cluster of its layers; solid identity
// shortcuts, dashed projections, C×H×W on every edge. Here every stage, run of identical blocks, block and part
// (stem, final, head) opens and closes on its own, so any mix of levels is drawn, and the cursor that carries
// "the tensor flowing out of the last thing drawn" keeps the edges and shortcut styles right in each mix.
//
// All text from the model is escaped here (dotText) before it enters an HTML-like label; node ids are made of
// positions (s2b0_3), never of names.

import { runId } from "./index.js";

export const MUTED = "#666666";
const PART_FILL = "#f7f7f7";
const OPS_FILL = "#f2f2f2";

export const STATUS_COLORS = {
  loaded: { fill: "#c6f6d5", line: "#2f855a" },
  adapted: { fill: "#bee3f8", line: "#2b6cb0" },
  reinitialised: { fill: "#feebc8", line: "#c05621" },
  missing: { fill: "#fed7d7", line: "#c53030" },
  unexpected: { fill: "#e9d8fd", line: "#6b46c1" },
  mismatched: { fill: "#fbb6ce", line: "#97266d" },
};
export const STATUS_ORDER = ["mismatched", "missing", "unexpected", "reinitialised", "adapted", "loaded"];
export const CHANGED = "#d0021b";

/** Text as it may stand in a Graphviz HTML-like label: backslashes doubled, & < > " ' as entities. */
export function dotText(s) {
  return String(s)
    .replace(/\\/g, "\\\\")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#x27;");
}

function dotString(s) {
  return '"' + String(s).replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
}

export function fmtShape(dims) {
  return dims.join("×");
}

export function fmtInt(n) {
  return n.toLocaleString("en-US");
}

function small(text, size = 9, color = MUTED) {
  return text ? `<font point-size="${size}" color="${color}">${text}</font>` : "";
}

function bold(text) {
  return text ? `<b>${text}</b>` : "";
}

function attrs(map) {
  const out = [];
  for (const [k, v] of Object.entries(map)) {
    if (v === undefined || v === null || v === "") continue;
    out.push(k === "label" ? `label=<${v}>` : `${k}=${dotString(v)}`);
  }
  return out.join(" ");
}

class Cursor {
  constructor(node, shape) {
    this.node = node;
    this.shape = shape;
  }
}

/** Writes one network's nodes, clusters and edges (a prefix keeps two networks apart in a diff). */
export class NetWriter {
  constructor(model, open, opts = {}) {
    this.m = model;
    this.open = open;
    this.p = opts.prefix || "";
    this.ann = opts.annotate || null;
    this.td = model.rankdir !== "LR";
    this.side = this.td ? "e" : "s";
    this.fwd = this.td ? ["s", "n"] : ["e", "w"];
    this.lines = [];
    this.depth = 1;
    this.nodes = new Map(); // node name → {id, type}: the item it stands for
    this.edges = new Map(); // edge id → facts
    this.anchors = new Map(); // alignment key (a module path) → node name, for a diff
    this.used = new Set();
    this.kinds = new Set();
    this.attention = new Set();
    this.nEdges = 0;
  }

  emit(line) {
    this.lines.push("\t".repeat(this.depth) + line);
  }

  name(id) {
    return this.p + id;
  }

  node(name, label, a, ref) {
    const cls = ["rd", ref.type];
    const ann = this.ann ? this.ann.node(ref) : null;
    if (ann) {
      if (ann.cls) cls.push(...ann.cls);
      Object.assign(a, ann.attrs || {});
      if (ann.line) label += `<br/>${ann.line}`;
    }
    this.emit(`${dotString(name)} [${attrs({ label, id: name, class: cls.join(" "), ...a })}]`);
    this.nodes.set(name, this.p ? { ...ref, id: this.p + ref.id } : ref);
  }

  edgeId(facts) {
    const id = `${this.p}e${this.nEdges++}`;
    this.edges.set(id, facts);
    return id;
  }

  edge(tail, head, facts = {}) {
    const [tp, hp] = this.fwd;
    const id = this.edgeId({ from: tail.node, to: head, shape: tail.shape, ...facts });
    const a = { label: dotText(fmtShape(tail.shape)), weight: "100", id, class: "rd-edge main" };
    this.emit(`${dotString(tail.node)}:${tp} -> ${dotString(head)}:${hp} [${attrs(a)}]`);
  }

  shortcutEdge(tail, head, block, out, { first, last, each }) {
    const sc = block.sc;
    this.used.add(sc.style);
    const style = this.m.legend.shortcuts[sc.style];
    const text = first ? sc.text + (each ? ", each block" : "") : "";
    let label = text ? `${dotText(text)}<br/>${dotText(fmtShape(out))}` : dotText(fmtShape(out));
    // as resnetdsl/render/graph.py: leave low on the side, enter on the side, the words padded off the curve
    const [tailport, headport] = this.m.look.shortcutPorts || [this.side, this.side];
    const pad = this.m.look.shortcutPad;
    if (pad) label = `<table border="0" cellborder="0" cellspacing="0" cellpadding="${pad}"><tr><td>${label}</td></tr></table>`;
    const id = this.edgeId({ from: tail.node, to: head, shape: out, shortcut: sc, block: block.id });
    const cls = ["rd-edge", "shortcut", sc.style];
    const a = { label, weight: "1", id };
    if (first) a.tailport = tailport;
    if (last) a.headport = headport;
    Object.assign(a, { color: style.color, fontcolor: style.fontcolor, penwidth: style.penwidth, style: style.style });
    const ann = this.ann ? this.ann.edge(block) : null;
    if (ann) {
      cls.push(...(ann.cls || []));
      Object.assign(a, ann.attrs || {});
    }
    a.class = cls.join(" ");
    this.emit(`${dotString(tail.node)} -> ${dotString(head)} [${attrs(a)}]`);
  }

  cluster(id, a, ref, body) {
    const name = `cluster_${this.name(id)}`;
    this.emit(`subgraph ${dotString(name)} {`);
    this.depth++;
    const cls = ["rd", "open", ref.type];
    const ann = this.ann ? this.ann.cluster(ref) : null;
    if (ann) {
      cls.push(...(ann.cls || []));
      if (ann.label) a.label += ann.label;
      Object.assign(a, ann.attrs || {});
    }
    this.emit(`graph [${attrs({ id: `c_${this.name(id)}`, class: cls.join(" "), ...a })}]`);
    this.nodes.set(`c_${this.name(id)}`, this.p ? { ...ref, id: this.p + ref.id } : ref);
    const out = body();
    this.depth--;
    this.emit("}");
    return out;
  }

  partCluster(id, label, fill, ref, body, frozen = false) {
    const a = {
      label,
      style: "rounded,filled",
      fillcolor: fill,
      color: "#bbbbbb",
      fontname: this.m.look.font,
      fontsize: "11",
      labeljust: "l",
      margin: "10",
    };
    const look = this.m.legend.frozenLook;
    if (frozen && look) {
      // as resnetdsl/render/legend.py draws a frozen part (frozen_stages): grey, dashed, tagged
      Object.assign(a, {
        label: `${label}  <font point-size="10" color="#444444"><b>${dotText(look.tag)}</b></font>`,
        style: "rounded,filled,dashed",
        fillcolor: look.fill,
        color: look.line,
        penwidth: "1.5",
      });
    }
    return this.cluster(id, a, ref, body);
  }

  // -- pieces --

  input() {
    const name = this.name("input");
    const label = `<b>input</b><br/>${dotText(fmtShape(this.m.input))}`;
    this.node(name, label, { shape: "box", style: "rounded", group: "main" }, { id: "input", type: "io" });
    this.anchors.set("input", name);
    return new Cursor(name, this.m.input);
  }

  output(cur) {
    const name = this.name("output");
    this.node(
      name,
      `<b>output</b><br/>${dotText(this.m.output.text)}`,
      { shape: "box", style: "rounded" },
      { id: "output", type: "io" },
    );
    this.edge(cur, name);
    this.anchors.set("output", name);
  }

  opLabel(layer) {
    return `${dotText(layer.text)}  ${small(dotText(layer.name), 8)}`;
  }

  opNodes(cur, layers, group = "main") {
    for (const l of layers) {
      if (l.branches) {
        cur = this.branchCluster(cur, l);
        continue;
      }
      const name = this.name(l.id);
      this.node(name, this.opLabel(l), { fillcolor: l.fill, group }, { id: l.id, type: "layer" });
      this.edge(cur, name);
      cur = new Cursor(name, l.out);
    }
    return cur;
  }

  /** A multi-branch op at layer level, as resnetdsl/render/branches.py draws it: a cluster of its branches, C×H×W
   * on every edge, gate edges dotted. Its output node carries the layer's own name (search, deep links). */
  branchCluster(cur, l) {
    const br = l.branches;
    const ref = { id: l.id, type: "layer" };
    const base = this.name(l.id);
    const out = br.nodes[br.nodes.length - 1].key;
    const ids = { in: cur.node };
    const shapes = { in: cur.shape };
    for (const n of br.nodes) {
      ids[n.key] = n.key === out ? base : `${base}_${n.key}`;
      shapes[n.key] = n.shape;
    }
    const label = `${bold(dotText(l.name))}  ${small(dotText(l.kind), 8)}`;
    const a = { label, style: "rounded,dashed", color: "#aaaaaa", fontsize: "9", margin: "6" };
    this.cluster(`${l.id}_branches`, a, ref, () => {
      br.nodes.forEach((n, k) => {
        const text = dotText(n.label) + (n.name ? `  ${small(dotText(n.name), 8)}` : "");
        const na = { fillcolor: n.fill };
        if (n.kind === "merge") {
          Object.assign(na, { shape: n.label === "+" ? "circle" : "ellipse", margin: "0.04,0.02", fillcolor: "white" });
          if (n.label === "+") Object.assign(na, { width: "0.3", fixedsize: "true" });
        } else if (n.kind === "split") {
          Object.assign(na, { fillcolor: "#f7f7f7", fontsize: "9", margin: "0.06,0.02" });
        }
        if (k === 0 || n.key === out) na.group = "main";
        // the output node stands for the layer (search, selection, a diff's marks); the others are its parts
        this.node(ids[n.key], text, na, n.key === out ? ref : { ...ref, part: "branch" });
      });
    });
    for (const [tail, head, kind] of br.edges) {
      if (kind === "gate") {
        const id = this.edgeId({ from: ids[tail], to: ids[head], shape: shapes[tail] });
        const ink = this.m.legend.gate.ink;
        const g = { label: dotText(fmtShape(shapes[tail])), style: "dotted", color: ink, fontcolor: ink };
        Object.assign(g, { penwidth: "1.4", weight: "1", id, class: "rd-edge gate" });
        this.emit(`${dotString(ids[tail])} -> ${dotString(ids[head])} [${attrs(g)}]`);
      } else {
        this.edge(new Cursor(ids[tail], shapes[tail]), ids[head]);
      }
    }
    if (br.edges.some(([, , kind]) => kind === "gate")) this.gates = true;
    return new Cursor(base, l.out);
  }

  /** A multi-branch op in a block's node: a row before, the branches side by side, a row after. */
  branchTable(br) {
    const n = br.columns.length;
    const rows = br.before ? [`<tr><td colspan="${n}">${dotText(br.before)}</td></tr>`] : [];
    const cells = br.columns.map(([w, fill]) => `<td bgcolor="${fill}" border="1" color="#999999" style="rounded">${dotText(w)}</td>`);
    rows.push(`<tr>${cells.join("")}</tr>`);
    if (br.after) rows.push(`<tr><td colspan="${n}">${dotText(br.after)}</td></tr>`);
    return `<table border="0" cellborder="0" cellspacing="3" cellpadding="2">${rows.join("")}</table>`;
  }

  opsPart(cur, part, ends) {
    const ref = { id: part.id, type: "ops" };
    return this.partCluster(part.id, dotText(part.title), PART_FILL, ref, () => {
      if (this.open.has(part.id)) {
        cur = this.opNodes(cur, part.layers);
        if (part.layers.length) this.anchors.set(part.path, this.name(part.layers[part.layers.length - 1].id));
        if (part.id === "stem") {
          const k = this.stemTap();
          if (k !== null) ends[0] = new Cursor(this.name(part.layers[k].id), part.layers[k].out);
        }
      } else {
        const name = this.name(part.id);
        const lines = [bold(dotText(part.title)), ...part.lines.map(dotText)];
        this.node(name, lines.join("<br/>"), { fillcolor: OPS_FILL, group: "main" }, ref);
        this.edge(cur, name);
        this.anchors.set(part.path, name);
        if (part.id === "stem") {
          const k = this.stemTap();
          if (k !== null) ends[0] = new Cursor(name, part.layers[k].out);
        }
        cur = new Cursor(name, part.out);
      }
      return cur;
    }, part.frozen);
  }

  stemTap() {
    const tap = this.m.taps.find((t) => t.index === 0);
    return tap ? tap.stemLayer : null;
  }

  stage(cur, st) {
    const ref = { id: st.id, type: "stage" };
    if (!this.open.has(st.id)) {
      return this.partCluster(st.id, bold(dotText(st.title)), st.fill, ref, () => {
        const name = this.name(st.id);
        const [a, b, c, d, ...rest] = st.lines;
        const lines = [bold(dotText(a)), dotText(b), dotText(c), small(dotText(d)), ...rest.map((x) => small(dotText(x)))];
        this.node(name, lines.join("<br/>"), { group: "main" }, ref);
        this.edge(cur, name);
        this.anchors.set(st.path, name);
        for (const blk of st.blocks) this.kinds.add(blk.pre ? "pre" : "post");
        return new Cursor(name, st.out);
      }, st.frozen);
    }
    const label = `${bold(dotText(st.title))}  ${dotText(st.head)}`;
    return this.partCluster(st.id, label, st.fill, ref, () => {
      for (const [start, n] of st.runs) {
        const blocks = st.blocks.slice(start, start + n);
        const rid = runId(st, start);
        if (n > 1 && !this.open.has(rid)) {
          cur = this.group(cur, blocks, { id: rid, type: "run" });
        } else if (n > 1) {
          const rref = { id: rid, type: "run" };
          const text = `${blocks[0].path} – ${blocks[n - 1].path}: ${n} identical blocks`;
          const a = { label: small(dotText(text), 10), style: "rounded,dashed", color: "#999999", fontsize: "10", labeljust: "l" };
          cur = this.cluster(rid, a, rref, () => {
            for (const blk of blocks) cur = this.group(cur, [blk], { id: blk.id, type: "block" });
            return cur;
          });
        } else {
          cur = this.group(cur, blocks, { id: blocks[0].id, type: "block" });
        }
      }
      return cur;
    }, st.frozen);
  }

  groupName(blocks) {
    const first = blocks[0].path;
    return blocks.length === 1 ? first : `${first} – ${blocks[blocks.length - 1].path}`;
  }

  group(cur, blocks, ref) {
    const b = blocks[0];
    this.kinds.add(b.pre ? "pre" : "post");
    for (const a of b.attention) this.attention.add(a);
    const title = dotText(b.title) + (blocks.length > 1 ? ` ×${blocks.length}` : "");
    if (this.open.has(b.id)) return this.blockCluster(cur, blocks, title, ref);
    return this.blockNode(cur, blocks, title, ref);
  }

  blockNode(cur, blocks, title, ref) {
    const b = blocks[0];
    const n = blocks.length;
    const base = this.name(ref.id);
    const main = b.rows ? b.rows.map((r) => (r.branches ? this.branchTable(r.branches) : dotText(r.text))) : b.lines.map(dotText);
    const lines = [`${bold(title)}  ${small(dotText(this.groupName(blocks)))}`, ...main];
    lines.push(small(dotText(`${fmtInt(b.params)} params` + (n > 1 ? " each" : ""))));
    const a = { fillcolor: "white", group: "main" };
    if (n > 1) a.peripheries = "2";
    // a label holding a table must be a table itself (as resnetdsl/render/branches.py's rows_label)
    const label = b.rows
      ? `<table border="0" cellborder="0" cellspacing="0" cellpadding="1">${lines.map((x) => `<tr><td>${x}</td></tr>`).join("")}</table>`
      : lines.join("<br/>");
    this.node(base, label, a, ref);
    this.edge(cur, base);
    this.anchors.set(b.path, base);
    let out = new Cursor(base, b.out);
    if (b.add) {
      const add = `${base}_add`;
      const addRef = { id: ref.id, type: ref.type, part: "add" };
      if (b.post) {
        this.node(add, `${bold("+")} → ${dotText(b.post)}`, { shape: "ellipse", margin: "0.05,0.02", group: "main" }, addRef);
      } else {
        this.node(add, "<b>+</b>", { shape: "circle", width: "0.3", fixedsize: "true", group: "main" }, addRef);
      }
      this.edge(out, add);
      this.shortcutEdge(cur, add, b, b.out, { first: true, last: true, each: n > 1 });
      this.anchors.set(`${b.path}+`, add);
      out = new Cursor(add, b.out);
    }
    return out;
  }

  blockCluster(cur, blocks, title, ref) {
    const b = blocks[0];
    const n = blocks.length;
    let label = `${bold(title)}  ${dotText(this.groupName(blocks))}`;
    if (n > 1) label += small(dotText("  (identical blocks, drawn once)"));
    const a = { label, style: "rounded,filled", fillcolor: "white", color: "#999999", fontsize: "10" };
    if (n > 1) Object.assign(a, { peripheries: "1", penwidth: "2" });
    const cref = { id: b.id, type: "block", run: n > 1 ? ref.id : undefined };
    return this.cluster(b.id, a, cref, () => {
      const roles = { pre: [], main: [], shortcut: [], post: [] };
      for (const l of b.layers) roles[l.role].push(l);
      let fork = cur;
      const firstLayer = roles.pre[0] || roles.main[0] || null;
      if (firstLayer) this.anchors.set(b.path, this.name(firstLayer.id));
      cur = this.opNodes(cur, roles.pre);
      if (b.fromPre) fork = cur;
      cur = this.opNodes(cur, roles.main);
      if (b.add) {
        const add = this.name(`${b.id}_add`);
        this.node(add, "<b>+</b>", { shape: "circle", width: "0.3", fixedsize: "true", fillcolor: "white", group: "main" }, {
          id: b.id,
          type: "block",
          part: "add",
        });
        this.edge(cur, add);
        let sc = fork;
        roles.shortcut.forEach((l, k) => {
          const name = this.name(l.id);
          this.node(name, this.opLabel(l), { fillcolor: l.fill, group: this.name(b.id) }, { id: l.id, type: "layer" });
          const shape = k ? l.in : fork.shape;
          this.shortcutEdge(new Cursor(sc.node, shape), name, b, shape, { first: k === 0, last: false, each: n > 1 });
          sc = new Cursor(name, l.out);
        });
        this.shortcutEdge(sc, add, b, cur.shape, { first: roles.shortcut.length === 0, last: true, each: n > 1 });
        this.anchors.set(`${b.path}+`, add);
        cur = new Cursor(add, cur.shape);
      }
      cur = this.opNodes(cur, roles.post);
      return cur;
    });
  }

  taps(ends) {
    this.m.taps.forEach((tap) => {
      const src = ends[tap.index];
      if (!src) return;
      const name = this.name(`tap${tap.index}`);
      let what = `out[${tap.k}] · ${dotText(tap.module)}<br/>${dotText(fmtShape(src.shape))} · stride ${tap.reduction}`;
      if (tap.dilation > 1) what += ` · dil ${tap.dilation}`;
      this.node(name, `<b>feature ${tap.index}</b><br/>${what}`, { shape: "box", style: "rounded" }, { id: `tap${tap.index}`, type: "io" });
      const id = this.edgeId({ from: src.node, to: name, shape: src.shape, tap: tap.index });
      const a = {
        label: dotText(`${fmtShape(src.shape)} /${tap.reduction}`),
        style: "dotted",
        color: "#2b6cb0",
        fontcolor: "#2b6cb0",
        weight: "1",
        id,
        class: "rd-edge tap",
      };
      this.emit(`${dotString(src.node)}:${this.side} -> ${dotString(name)}:${this.fwd[1]} [${attrs(a)}]`);
    });
  }

  /** The whole network; returns the cursor after its last part. */
  build() {
    let cur = this.input();
    const ends = [];
    const stages = this.m.parts.filter((p) => p.t === "stage");
    for (const part of this.m.parts) {
      if (part.t === "ops") {
        cur = this.opsPart(cur, part, ends);
        if (part.id === "final") ends[stages.length] = cur;
      } else {
        cur = this.stage(cur, part);
        ends[part.index + 1] = cur;
      }
    }
    if (this.m.taps.length) this.taps(ends);
    else this.output(cur);
    return cur;
  }

  legendRows(used) {
    const rows = used.size ? ['<tr><td colspan="2" align="left"><b>shortcuts</b></td></tr>'] : [];
    for (const [use, style] of Object.entries(this.m.legend.shortcuts)) {
      if (!used.has(use)) continue;
      rows.push(
        `<tr><td width="36" height="6" sides="b" border="2" color="${style.color}" style="${style.style}"></td>` +
          `<td align="left"><font color="${style.color}">${dotText(style.text)}</font></td></tr>`,
      );
    }
    const notes = [];
    if (this.kinds.has("pre")) notes.push(this.m.legend.notes.pre);
    for (const key of [...this.attention].sort()) if (this.m.legend.notes[key]) notes.push(this.m.legend.notes[key]);
    if (this.gates) notes.push(this.m.legend.gate.note);
    if (notes.length) {
      rows.push('<tr><td colspan="2" align="left"><b>blocks</b></td></tr>');
      for (const note of notes) rows.push(`<tr><td colspan="2" align="left">${dotText(note)}</td></tr>`);
    }
    const frozen = this.m.legend.frozen || [];
    const look = this.m.legend.frozenLook;
    if (frozen.length && look) {
      rows.push('<tr><td colspan="2" align="left"><b>training</b></td></tr>');
      frozen.forEach((note, k) => {
        const sample = k
          ? "<td></td>"
          : `<td width="36" height="10" bgcolor="${look.fill}" border="1" color="${look.line}" style="dashed"></td>`;
        rows.push(`<tr>${sample}<td align="left">${dotText(note)}</td></tr>`);
      });
    }
    return rows;
  }
}

export function graphHeader(model, title, look) {
  const a = {
    rankdir: model.rankdir,
    newrank: "true",
    nodesep: "0.35",
    ranksep: "0.3",
    fontname: look.font,
    label: title,
    labelloc: "t",
    labeljust: "c",
    fontsize: "12",
  };
  return [
    "digraph resnet {",
    `\tgraph [${attrs(a)}]`,
    `\tnode [${attrs({ fontname: look.font, fontsize: "11", shape: "box", style: "rounded,filled", fillcolor: "white" })}]`,
    `\tedge [${attrs({ fontname: look.font, fontsize: "8", fontcolor: look.shapeInk, color: look.ink, arrowsize: "0.6" })}]`,
  ];
}

export function titleLabel(model, extra = "") {
  const rows = [];
  if (model.name) rows.push(`<font point-size="18">${bold(dotText(model.name))}</font>`);
  if (model.description.length) rows.push(small(model.description.map(dotText).join("<br/>"), 11));
  rows.push(dotText(model.stats + extra));
  const cells = rows.map((r) => `<tr><td>${r}</td></tr>`).join("");
  return `<table border="0" cellborder="0" cellspacing="2" cellpadding="0">${cells}</table>`;
}

export function legendNode(writer, used, name = "legend") {
  if (!used.size && !(writer.m.legend.frozen || []).length) return "";
  const rows = writer.legendRows(used);
  const table =
    '<table border="1" style="rounded" color="#bbbbbb" cellborder="0" cellspacing="3" cellpadding="1">' +
    rows.join("") +
    "</table>";
  return `\t${dotString(name)} [${attrs({ label: table, shape: "plaintext", style: "", fontsize: "9", id: name, class: "legend" })}]`;
}

/** DOT of one network in the state `open` (a Set of ids); with the maps from drawn ids to model items. */
export function networkDot(model, open) {
  const w = new NetWriter(model, open);
  w.build();
  const lines = [...graphHeader(model, titleLabel(model), model.look), ...w.lines];
  const legend = legendNode(w, w.used);
  if (legend) lines.push(legend);
  lines.push("}");
  return { dot: lines.join("\n") + "\n", nodes: w.nodes, edges: w.edges, used: w.used };
}
