// Completion from the spec language's JSON Schema (resnetdsl schema): the keys of the mapping at the cursor,
// at any depth, and the allowed values of the key whose value is typed.

import { yamlContext } from "./yamlpath.js";

function deref(root, node) {
  let guard = 0;
  while (node && node.$ref && guard++ < 32) {
    const parts = node.$ref.replace(/^#\//, "").split("/");
    node = parts.reduce((n, p) => (n ? n[p] : undefined), root);
  }
  return node || null;
}

/** The schema and its alternatives (anyOf, oneOf, allOf), each dereferenced. */
function alternatives(root, node, out = []) {
  node = deref(root, node);
  if (!node || out.includes(node)) return out;
  out.push(node);
  for (const k of ["anyOf", "oneOf", "allOf"]) for (const sub of node[k] || []) alternatives(root, sub, out);
  return out;
}

/** The schemas a path leads to (every alternative that has it). */
export function schemasAt(root, path) {
  let nodes = alternatives(root, root);
  for (const part of path) {
    const next = [];
    for (const n of nodes) {
      if (typeof part === "number") {
        if (n.items) alternatives(root, n.items, next);
      } else if (n.properties && n.properties[part]) {
        alternatives(root, n.properties[part], next);
      } else if (n.additionalProperties && typeof n.additionalProperties === "object") {
        alternatives(root, n.additionalProperties, next);
      }
    }
    nodes = next;
    if (!nodes.length) break;
  }
  return nodes;
}

function firstLine(text) {
  return text ? String(text).split("\n\n")[0].replace(/\s+/g, " ").trim() : "";
}

function isObject(n) {
  return n.type === "object" || !!n.properties;
}

/** Keys offered in the mapping at `path`: [{label, info, object}]. */
export function keysAt(root, path) {
  const out = new Map();
  for (const n of schemasAt(root, path)) {
    for (const [k, v] of Object.entries(n.properties || {})) {
      if (out.has(k)) continue;
      const alts = alternatives(root, v);
      const desc = v.description || alts.map((a) => a.description).find(Boolean) || "";
      out.set(k, { label: k, info: firstLine(desc), object: alts.some(isObject) && !alts.some((a) => a.enum || a.const !== undefined) });
    }
  }
  return [...out.values()];
}

function show(v) {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Values offered for the key at `path`: enums, constants, booleans. */
export function valuesAt(root, path, presets = []) {
  const out = new Map();
  const nodes = schemasAt(root, path);
  for (const n of nodes) {
    for (const v of n.enum || []) out.set(show(v), { label: show(v), info: firstLine(n.description) });
    if (n.const !== undefined) out.set(show(n.const), { label: show(n.const), info: firstLine(n.description) });
    if (n.type === "boolean") {
      out.set("true", { label: "true", info: "" });
      out.set("false", { label: "false", info: "" });
    }
  }
  if (path.length === 1 && path[0] === "extends") for (const p of presets) out.set(p, { label: p, info: "preset" });
  return [...out.values()];
}

/** A CodeMirror completion source over the schema. */
export function schemaCompletion(root, presets = []) {
  return (ctx) => {
    const text = ctx.state.doc.toString();
    const c = yamlContext(text, ctx.pos);
    if (!c) return null;
    if (!ctx.explicit && !c.prefix && c.mode === "key" && !/[\s,{]$/.test(text.slice(0, ctx.pos))) return null;
    if (c.mode === "key") {
      const keys = keysAt(root, c.path).filter((k) => !c.present.has(k.label) || k.label === c.prefix);
      if (!keys.length) return null;
      return {
        from: c.from,
        validFor: /^[\w-]*$/,
        options: keys.map((k) => ({ label: k.label, type: "property", info: k.info || undefined, apply: `${k.label}: ` })),
      };
    }
    const values = valuesAt(root, c.path, presets);
    if (!values.length) return null;
    return {
      from: c.from,
      validFor: /^[\w.-]*$/,
      options: values.map((v) => ({ label: v.label, type: "enum", info: v.info || undefined })),
    };
  };
}
