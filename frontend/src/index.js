// The items of a network model by id and by module path, and what must open for an item to be drawn on its own.

/** What an id in the open set opens: a stage (s2), a run of identical blocks (s2r1), a block (s2b4), a part. */
export function runId(stage, start) {
  return `${stage.id}r${start}`;
}

/** The parts, stages, blocks and layers of a model, by id and by module path. */
export function indexModel(model) {
  const byId = new Map();
  const byPath = new Map();
  const put = (item, parent, type) => {
    byId.set(item.id, { item, parent, type });
    if (!byPath.has(item.path)) byPath.set(item.path, item.id);
  };
  for (const part of model.parts) {
    put(part, null, part.t);
    if (part.t === "ops") {
      for (const l of part.layers) put(l, part.id, "layer");
    } else {
      for (const b of part.blocks) {
        put(b, part.id, "block");
        for (const l of b.layers) put(l, b.id, "layer");
      }
      for (const [start, n] of part.runs) {
        if (n < 2) continue;
        const first = part.blocks[start];
        const last = part.blocks[start + n - 1];
        const run = { id: runId(part, start), path: `${first.path} – ${last.path}`, start, n, stage: part.id };
        byId.set(run.id, { item: run, parent: part.id, type: "run" });
      }
    }
  }
  return { byId, byPath };
}

/** The run (id) a block belongs to when it is one of a run of identical blocks, else null. */
export function runOf(stage, j) {
  for (const [start, n] of stage.runs) {
    if (n > 1 && j >= start && j < start + n) return runId(stage, start);
  }
  return null;
}

/** The ids to open so that the item `id` is drawn on its own. */
export function ancestorsToOpen(model, index, id) {
  const out = [];
  let entry = index.byId.get(id);
  if (!entry) return out;
  if (entry.type === "layer") {
    out.push(entry.parent);
    entry = index.byId.get(entry.parent);
  }
  if (entry.type === "block") {
    const stage = index.byId.get(entry.parent).item;
    const run = runOf(stage, entry.item.index);
    if (run) out.push(run);
    out.push(stage.id);
  } else if (entry.type === "run") {
    out.push(entry.parent);
  }
  return out;
}
