// Where in a YAML document the cursor is: the key path to it and whether a key or a value is being typed.
//
// A small scanner of the text before the cursor, not a parser: it follows block mappings and sequences by their
// columns and flow collections ({…} and […]) by their brackets, skipping quoted scalars and comments, which is
// what completion needs in a spec that is half typed (and so not valid YAML).

const KEY_RE = /^((?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#:{}[\],"'][^:#{}[\],]*?))\s*:(?=\s|$)/;

function unquote(k) {
  k = k.trim();
  if (k.startsWith('"') && k.endsWith('"')) return k.slice(1, -1);
  if (k.startsWith("'") && k.endsWith("'")) return k.slice(1, -1).replace(/''/g, "'");
  return k;
}

function stripComment(line) {
  let q = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === q && (q === "'" || line[i - 1] !== "\\")) q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

function pathOf(stack) {
  const out = [];
  for (const e of stack) {
    if (e.type === "seq") out.push(e.index);
    else if (e.key !== null) out.push(e.key);
  }
  return out;
}

/** Scan a flow collection from `text[i]` (an opening bracket); returns the index after it closes, or the flow
 * stack left open at the end of the text. */
function scanFlow(text, i, flow) {
  let word = "";
  for (; i < text.length; i++) {
    const c = text[i];
    const top = flow[flow.length - 1];
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && !(text[j] === c && (c === "'" || text[j - 1] !== "\\"))) j++;
      word = text.slice(i, j + 1);
      i = j;
      continue;
    }
    if (c === "#" && (i === 0 || /\s/.test(text[i - 1]))) {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    if (c === "{" || c === "[") {
      if (top && top.type === "map" && top.expectKey) top.key = null;
      flow.push(c === "{" ? { type: "map", key: null, expectKey: true, keys: new Set(), start: i + 1 } : { type: "seq", index: 0, start: i + 1 });
      word = "";
    } else if (c === "}" || c === "]") {
      flow.pop();
      word = "";
      if (!flow.length) return { end: i + 1, flow };
    } else if (c === ":" && top && top.type === "map" && top.expectKey && (i + 1 >= text.length || /[\s,{}[\]]/.test(text[i + 1]))) {
      top.key = unquote(word);
      top.keys.add(top.key);
      top.expectKey = false;
      top.valueStart = i + 1;
      word = "";
    } else if (c === ",") {
      if (top && top.type === "map") {
        top.expectKey = true;
        top.key = null;
        top.start = i + 1;
      } else if (top) {
        top.index++;
        top.start = i + 1;
      }
      word = "";
    } else if (!/\s/.test(c) || word) {
      word += c;
    }
  }
  return { end: i, flow };
}

/**
 * The context of the cursor at `pos`:
 *   { path, mode: "key" | "value", prefix, from, present }
 * `path` leads to the mapping whose key is typed (mode "key") or to the key whose value is typed ("value");
 * `prefix` is what is typed so far, starting at `from`; `present` holds the keys the mapping already has.
 */
export function yamlContext(text, pos) {
  const before = text.slice(0, pos);
  const lines = before.split("\n");
  const stack = []; // {col, type: "map"|"seq", key, index, keys}
  let offset = 0;
  const popTo = (col, isDash) => {
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.col > col) stack.pop();
      else if (top.col === col && top.type === "seq" && !isDash) stack.pop();
      else break;
    }
  };
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n];
    const last = n === lines.length - 1;
    const lineStart = offset;
    offset += raw.length + 1;
    const line = last ? raw : stripComment(raw);
    if (!last && !line.trim()) continue;
    let col = line.length - line.trimStart().length;
    let rest = line.slice(col);
    if (last && /^\s*#/.test(raw)) return null;
    // sequence dashes
    let dashed = false;
    while (/^-(\s|$)/.test(rest)) {
      popTo(col, true);
      const top = stack[stack.length - 1];
      if (top && top.type === "seq" && top.col === col && !dashed) top.index++;
      else stack.push({ col, type: "seq", index: 0 });
      dashed = true;
      const m = /^-\s*/.exec(rest);
      col += m[0].length;
      rest = rest.slice(m[0].length);
      if (!rest && !last) break;
    }
    if (!dashed) popTo(col, false);
    const key = KEY_RE.exec(rest);
    if (last && !key) {
      if (/^[{[]/.test(rest)) break; // handled below, as a flow collection
      // a key being typed (or nothing yet)
      const word = /^[^\s:{}[\],#]*$/.test(rest) ? rest : null;
      if (word === null) return null;
      let path;
      let present = new Set();
      const top = stack[stack.length - 1];
      if (top && top.type === "map" && top.col === col) {
        path = pathOf(stack).slice(0, -1);
        present = top.keys;
      } else path = pathOf(stack);
      return { path, mode: "key", prefix: word, from: lineStart + col, present };
    }
    if (!key) {
      if (/^[{[]/.test(rest)) {
        const r = scanFlow(before, lineStart + col, []);
        if (r.flow.length) return flowContext(pathOf(stack), r.flow, before, pos);
        offset = before.indexOf("\n", r.end - 1) + 1 || before.length + 1;
        n = before.slice(0, offset).split("\n").length - 2;
      }
      continue;
    }
    const top = stack[stack.length - 1];
    const name = unquote(key[1]);
    if (top && top.type === "map" && top.col === col) {
      top.key = name;
      top.keys.add(name);
    } else {
      stack.push({ col, type: "map", key: name, keys: new Set([name]) });
    }
    const valueCol = col + key[0].length;
    const value = rest.slice(key[0].length);
    const lead = value.length - value.trimStart().length;
    const v = value.trimStart();
    if (/^[{[]/.test(v)) {
      const start = lineStart + valueCol + lead;
      const r = scanFlow(before, start, []);
      if (r.flow.length) return flowContext(pathOf(stack), r.flow, before, pos);
      const next = before.indexOf("\n", r.end);
      if (next < 0) return null;
      offset = next + 1;
      n = before.slice(0, offset).split("\n").length - 2;
      continue;
    }
    if (last) {
      if (/^["'|>&*!]/.test(v)) return null; // inside a quoted or block scalar, an anchor, an alias or a tag
      return { path: pathOf(stack), mode: "value", prefix: v, from: lineStart + valueCol + lead, present: new Set() };
    }
  }
  // the last line opened a flow collection at its start (after dashes): scan from there
  const lineStart = before.lastIndexOf("\n") + 1;
  const m = /^(\s*(?:-\s+)*)([{[])/.exec(before.slice(lineStart));
  if (m) {
    const r = scanFlow(before, lineStart + m[1].length, []);
    if (r.flow.length) return flowContext(pathOf(stack), r.flow, before, pos);
  }
  return null;
}

function flowContext(base, flow, before, pos) {
  const path = [...base];
  for (let k = 0; k < flow.length - 1; k++) {
    const f = flow[k];
    path.push(f.type === "seq" ? f.index : f.key);
  }
  const top = flow[flow.length - 1];
  const typed = /[^\s{}[\],:]*$/.exec(before)[0];
  const from = pos - typed.length;
  if (top.type === "seq") return { path: [...path, top.index], mode: "value", prefix: typed, from, present: new Set() };
  if (top.expectKey) {
    const present = new Set(top.keys);
    return { path, mode: "key", prefix: typed, from, present };
  }
  return { path: [...path, top.key], mode: "value", prefix: typed, from, present: new Set() };
}
