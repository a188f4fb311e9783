// One network as the viewer shows it: its drawing for a state, the facts of each item, the summary's rows.

import { fmtInt, fmtShape, networkDot } from "./dot.js";
import { ancestorsToOpen, indexModel, runOf } from "./index.js";

export function fmtMacs(n) {
  return n >= 1e8 ? `${(n / 1e9).toFixed(2)} GMACs` : `${(n / 1e6).toFixed(1)} MMACs`;
}

function rf(item) {
  if (item.rf === undefined) return null;
  return item.rf === null ? "the whole input" : `${item.rf} px`;
}

/** The facts of one item: rows of [label, value], its state_dict entries, a title. */
export function describe(model, index, id, statusOf = null) {
  const entry = index.byId.get(id);
  if (!entry) return null;
  const { item, type } = entry;
  const rows = [];
  const add = (k, v) => {
    if (v !== null && v !== undefined && v !== "") rows.push([k, String(v)]);
  };
  let state = [];
  let title = item.path;
  if (type === "run") {
    const stage = index.byId.get(item.stage).item;
    const blocks = stage.blocks.slice(item.start, item.start + item.n);
    const b = blocks[0];
    title = item.path;
    add("module paths", item.path);
    add("kind", `${item.n} identical blocks: ${b.kind}`);
    add("input", fmtShape(b.in));
    add("output", fmtShape(b.out));
    add("params", `${fmtInt(b.params)} each, ${fmtInt(blocks.reduce((s, x) => s + x.params, 0))} in all`);
    add("buffers", fmtInt(blocks.reduce((s, x) => s + x.buffers, 0)));
    add("MACs", fmtInt(blocks.reduce((s, x) => s + x.macs, 0)));
    add("stride", b.stride);
    add("dilation", b.dilation);
    add("receptive field", rf(blocks[blocks.length - 1]));
    if (b.sc) add("shortcut", `${b.shortcut} (${b.sc.text}, drawn ${b.sc.style})`);
    for (const x of blocks) for (const l of x.layers) state.push(...l.state);
    return { title, type, rows, state, statusOf };
  }
  if (type === "io") return null;
  add("module path", item.path);
  if (type === "layer") {
    add("kind", `${item.kind} (${item.text})`);
    add("role", item.role);
  } else if (type === "block") {
    add("kind", `${item.title}: ${item.kind}`);
    add("channels", item.channels.join(" → "));
    if (item.groups > 1) add("groups", item.groups);
  } else if (type === "stage") {
    add("kind", `${item.kind} (${item.depth} blocks)`);
    add("channels", item.channels.join(" → "));
  } else {
    add("kind", item.kind);
    add("layers", item.lines.join(" · "));
  }
  add("input", fmtShape(item.in));
  add("output", fmtShape(item.out));
  add("params", fmtInt(item.params));
  add("buffers", fmtInt(item.buffers));
  add("MACs", fmtInt(item.macs) + (item.macs ? ` (${fmtMacs(item.macs)})` : ""));
  add("stride", item.stride);
  add("dilation", item.dilation);
  add("receptive field", rf(item));
  if (item.jump) add("output stride", item.jump);
  if (type === "block") {
    add("shortcut", item.sc ? `${item.shortcut} (${item.sc.text}, drawn ${item.sc.style})` : "none (no add)");
    if (item.attention.length) add("attention", item.attention.join(", "));
    if (item.pre) add("pre-activation", item.fromPre ? "yes; the shortcut reads the pre-activated input" : "yes");
  }
  if (item.frozen) add("frozen", "yes (no gradients)");
  if (type === "layer") state = item.state;
  else if (type === "block") for (const l of item.layers) state.push(...l.state);
  else if (type === "stage") for (const b of item.blocks) for (const l of b.layers) state.push(...l.state);
  else for (const l of item.layers) state.push(...l.state);
  return { title, type, rows, state, statusOf };
}

/** Summary rows for what is open: stages always, a stage's blocks when it is open, a block's layers too. */
export function tableRows(model, open) {
  const rows = [];
  const row = (item, level, kind) =>
    rows.push({ id: item.id, path: item.path, kind, out: item.out, params: item.params, macs: item.macs, level });
  for (const part of model.parts) {
    row(part, 0, part.t === "stage" ? part.kind : part.title);
    if (part.t === "ops") {
      if (open.has(part.id)) for (const l of part.layers) row(l, 1, l.kind);
      continue;
    }
    if (!open.has(part.id)) continue;
    for (const b of part.blocks) {
      row(b, 1, b.kind);
      if (open.has(b.id)) for (const l of b.layers) row(l, 2, l.kind);
    }
  }
  return rows;
}

/** The run of identical blocks (its id) that block `id` belongs to, else null. */
export function blockRun(index, id) {
  const entry = index.byId.get(id);
  if (!entry || entry.type !== "block") return null;
  return runOf(index.byId.get(entry.parent).item, entry.item.index);
}

/** The viewer's source for one network model. */
export function networkSource(model) {
  const index = indexModel(model);
  const paths = [...index.byPath.keys()];
  return {
    model,
    name: model.name,
    title: model.name,
    subtitle: model.stats,
    index,
    paths,
    initialOpen: model.open,
    draw: (open) => networkDot(model, open),
    describe: (id) => describe(model, index, id),
    rows: (open) => tableRows(model, open),
    find: (path) => index.byPath.get(path) || null,
    ancestors: (id) => ancestorsToOpen(model, index, id),
    runOf: (id) => blockRun(index, id),
    levels: {
      stage: [],
      block: model.parts.filter((p) => p.t === "stage").map((p) => p.id),
      layer: model.parts.flatMap((p) => (p.t === "stage" ? [p.id, ...p.blocks.map((b) => b.id)] : [p.id])),
    },
    totals: model.totals,
  };
}
