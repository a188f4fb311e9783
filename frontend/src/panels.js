// The panels beside the drawing: the facts of what is hovered or selected, the legend, the summary table.

import { STATUS_COLORS, fmtInt, fmtShape } from "./dot.js";
import { clear, h } from "./dom.js";
import { fmtMacs } from "./source.js";

const STATE_SHOWN = 64;

export function showFacts(v, id) {
  const d = v.source.describe(id);
  if (!d) return;
  clear(v.facts);
  v.facts.append(h("h2", {}, d.title));
  const dl = h("table", { class: "rd-facts-table" });
  for (const [key, value] of d.rows) dl.append(h("tr", {}, h("th", {}, key), h("td", {}, value)));
  v.facts.append(dl);
  const entry = v.source.index.byId.get(id);
  if (entry && entry.type !== "layer") {
    const isOpen = v.isOpen(id);
    v.facts.append(
      h("button", { type: "button", class: "rd-btn", onclick: () => v.toggle(id) }, isOpen ? "close" : "open"),
    );
  }
  if (d.state && d.state.length) {
    const n = d.state.length;
    const ul = h("ul", { class: "rd-state" });
    for (const [key, shape] of d.state.slice(0, STATE_SHOWN)) {
      const status = d.statusOf ? d.statusOf(key) : null;
      const li = h("li", { class: status ? `st-${status}` : "" }, h("code", {}, key), " ", shape.length ? fmtShape(shape) : "scalar");
      if (status) {
        li.append(" ", h("span", { class: "rd-status", style: { background: STATUS_COLORS[status].fill, borderColor: STATUS_COLORS[status].line } }, status));
      }
      ul.append(li);
    }
    if (n > STATE_SHOWN) ul.append(h("li", { class: "rd-more" }, `… and ${n - STATE_SHOWN} more`));
    v.facts.append(h("details", { class: "rd-state-box", open: n <= 30 }, h("summary", {}, `state_dict: ${n} ${n === 1 ? "entry" : "entries"}`), ul));
  }
}

export function showEdge(v, f) {
  clear(v.facts);
  const name = (node) => {
    const ref = v.drawn.nodes.get(node);
    if (!ref) return node;
    const entry = v.source.index.byId.get(ref.id);
    return entry ? entry.item.path + (ref.part === "add" ? " (add)" : "") : ref.id;
  };
  const dl = h("table", { class: "rd-facts-table" });
  const add = (k, v) => dl.append(h("tr", {}, h("th", {}, k), h("td", {}, v)));
  add("from", name(f.from));
  add("to", name(f.to));
  add("tensor", fmtShape(f.shape));
  if (f.shortcut) {
    add("shortcut", f.shortcut.text);
    add("drawn", `${f.shortcut.style}: ${f.shortcut.style === "projection" || f.shortcut.style === "avgpool_projection" ? "dashed" : "solid"}`);
  }
  if (f.tap !== undefined) add("feature map", String(f.tap));
  v.facts.append(h("h2", {}, f.shortcut ? "shortcut edge" : "edge"), dl);
}

export function renderLegend(v, used) {
  clear(v.legend);
  const model = v.source.legendModel || v.source.model;
  if (!model) return;
  const rows = [];
  for (const [use, style] of Object.entries(model.legend.shortcuts)) {
    if (!used || !used.has(use)) continue;
    rows.push(
      h(
        "li",
        {},
        h("span", { class: "rd-swatch", style: { borderBottom: `2px ${style.style} ${style.color}` } }),
        h("span", { style: { color: style.color } }, style.text),
      ),
    );
  }
  if (rows.length) v.legend.append(h("h3", {}, "shortcuts"), h("ul", { class: "rd-legend-list" }, rows));
  const frozen = model.legend.frozen || [];
  const look = model.legend.frozenLook;
  if (frozen.length && look) {
    const swatch = { background: look.fill, border: `1px dashed ${look.line}`, height: "8px" };
    const items = frozen.map((note, k) =>
      h("li", { class: "rd-frozen" }, h("span", { class: "rd-swatch", style: k ? {} : swatch }), h("span", {}, note)),
    );
    v.legend.append(h("h3", {}, "training"), h("ul", { class: "rd-legend-list" }, items));
  }
  if (v.source.statusLegend) v.legend.append(v.source.statusLegend());
}

export function renderTable(v) {
  clear(v.table);
  const rows = v.source.rows(v.open);
  if (!rows.length) return;
  const t = h("table", { class: "rd-summary" });
  t.append(
    h("thead", {}, h("tr", {}, h("th", {}, "module"), h("th", {}, "kind"), h("th", {}, "output"), h("th", { class: "num" }, "params"), h("th", { class: "num" }, "MACs"))),
  );
  const body = h("tbody");
  for (const r of rows) {
    const tr = h(
      "tr",
      { "data-id": r.id, class: `lvl${r.level}` },
      h("td", { class: "path" }, r.path),
      h("td", {}, r.kind),
      h("td", {}, fmtShape(r.out)),
      h("td", { class: "num" }, r.params === null ? "" : fmtInt(r.params)),
      h("td", { class: "num" }, r.macs === null ? "" : fmtInt(r.macs)),
    );
    if (r.cls) tr.classList.add(...r.cls);
    body.append(tr);
  }
  t.append(body);
  const totals = v.source.totals;
  if (totals) {
    t.append(
      h(
        "tfoot",
        {},
        h("tr", { class: "rd-total" }, h("td", {}, "total"), h("td", {}), h("td", {}), h("td", { class: "num", "data-total": "params" }, fmtInt(totals.params)), h("td", { class: "num" }, fmtInt(totals.macs))),
      ),
    );
  }
  body.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-id]");
    if (tr) v.reveal(v.source.index.byId.get(tr.dataset.id).item.path);
  });
  body.addEventListener("mouseover", (e) => {
    const tr = e.target.closest("tr[data-id]");
    v.hovered = tr ? tr.dataset.id : null;
    v.mark();
  });
  v.table.append(h("h3", {}, "summary"), t);
  if (totals) v.table.append(h("p", { class: "rd-note" }, `${fmtInt(totals.params)} params · ${fmtMacs(totals.macs)}`));
}
