// The live editor (resnetdsl serve): a YAML editor (CodeMirror 6) beside the interactive drawing. After each pause
// in typing the text goes to the server, which checks it on the one checking path and answers with the problems
// (shown as markers at their line and column) and, when the spec is valid, the network's model (drawn here).

import { autocompletion, closeBrackets, completionKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { lintGutter, lintKeymap, setDiagnostics } from "@codemirror/lint";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { EditorState } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";

import { clear, h } from "./dom.js";
import { schemaCompletion } from "./schema.js";
import { networkSource } from "./source.js";
import { Viewer } from "./viewer.js";

const PAUSE_MS = 150;

function diagnostics(doc, issues) {
  return issues.map((i) => {
    let from = 0;
    let to = Math.min(doc.length, doc.line(1).to);
    if (i.line && i.line <= doc.lines) {
      const line = doc.line(i.line);
      from = Math.min(line.to, line.from + Math.max(0, (i.col || 1) - 1));
      const rest = doc.sliceString(from, line.to);
      const word = /^[^\s,:{}[\]]+/.exec(rest);
      to = Math.min(line.to, word ? from + word[0].length : from + 1);
    }
    const message = (i.path ? `${i.path}: ` : "") + i.message;
    return { from, to, severity: i.severity === "warning" ? "warning" : "error", message, source: "resnetdsl" };
  });
}

export class LiveEditor {
  constructor(root, config) {
    this.config = config;
    this.seq = 0;
    this.shown = 0;
    this.timer = null;
    this.viewer = null;
    this.pending = null;
    this.root = root;
    root.classList.add("rd-editor-app");
    this.status = h("span", { class: "rd-status-line", role: "status" });
    const presets = h("select", { class: "rd-presets", "aria-label": "start from a preset" }, h("option", { value: "" }, "start from a preset…"));
    for (const name of Object.keys(config.presets)) presets.append(h("option", { value: name }, name));
    presets.addEventListener("change", () => {
      if (presets.value) this.setText(config.presets[presets.value]);
      presets.value = "";
    });
    const bar = h("div", { class: "rd-edit-bar" }, presets);
    if (config.writable) {
      bar.append(h("button", { type: "button", class: "rd-btn", onclick: () => this.save() }, `save to ${config.file}`));
    }
    bar.append(this.status);
    this.cm = h("div", { class: "rd-cm" });
    this.problems = h("ul", { class: "rd-problems", "aria-label": "problems" });
    this.viewRoot = h("div", { class: "rd-view" });
    root.append(h("section", { class: "rd-edit" }, bar, this.cm, h("h3", {}, "problems"), this.problems), this.viewRoot);
    this.view = new EditorView({
      parent: this.cm,
      state: EditorState.create({
        doc: config.text,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          closeBrackets(),
          highlightActiveLine(),
          highlightSelectionMatches(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          yaml(),
          lintGutter(),
          autocompletion({ override: [schemaCompletion(config.schema, Object.keys(config.presets))] }),
          keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap, ...searchKeymap]),
          EditorState.tabSize.of(2),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) this.schedule();
          }),
        ],
      }),
    });
    this.check();
  }

  text() {
    return this.view.state.doc.toString();
  }

  setText(text) {
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
  }

  schedule() {
    this.editedAt = performance.now();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), PAUSE_MS);
  }

  async post(path, body) {
    const r = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Resnetdsl-Token": this.config.token },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
    return data;
  }

  async check() {
    const seq = ++this.seq;
    const text = this.text();
    let data;
    try {
      data = await this.post("/api/check", { text });
    } catch (err) {
      if (seq === this.seq) this.status.textContent = `the server did not answer: ${err.message}`;
      return;
    }
    if (seq !== this.seq) return; // a newer text is on its way
    this.showProblems(data.issues);
    if (data.model) {
      await this.draw(data.model);
      this.status.textContent = `checked and drawn in ${Math.round(performance.now() - (this.editedAt || performance.now()))} ms`;
    } else {
      this.root.classList.add("rd-stale");
      this.status.textContent = `${data.issues.filter((i) => i.severity === "error").length} problem(s); the drawing shows the last valid spec`;
    }
    this.shown = seq;
    this.root.dataset.checked = String(seq);
    this.root.dispatchEvent(new CustomEvent("rd-checked", { detail: { seq, valid: !!data.model, serverMs: data.ms } }));
  }

  async draw(model) {
    this.root.classList.remove("rd-stale");
    const source = networkSource(model);
    if (!this.viewer) {
      this.viewer = new Viewer(this.viewRoot, source, { png: true, spec: () => this.text() });
      await this.viewer.draw({ first: true });
    } else {
      this.viewer.setSource(source, { keepOpen: true });
      await this.viewer.draw({ keepView: true });
    }
  }

  showProblems(issues) {
    this.view.dispatch(setDiagnostics(this.view.state, diagnostics(this.view.state.doc, issues)));
    clear(this.problems);
    if (!issues.length) this.problems.append(h("li", { class: "rd-ok" }, "no problems"));
    for (const i of issues) {
      const where = i.line ? `${i.line}:${i.col}: ` : "";
      const li = h("li", { class: `rd-${i.severity}`, "data-line": i.line || "" }, `${where}${i.severity}: ${i.path ? i.path + ": " : ""}${i.message}`);
      li.addEventListener("click", () => {
        if (!i.line) return;
        const line = this.view.state.doc.line(Math.min(i.line, this.view.state.doc.lines));
        this.view.dispatch({ selection: { anchor: Math.min(line.to, line.from + (i.col || 1) - 1) }, scrollIntoView: true });
        this.view.focus();
      });
      this.problems.append(li);
    }
  }

  async save() {
    try {
      const r = await this.post("/api/save", { text: this.text() });
      this.status.textContent = `saved ${r.file}`;
    } catch (err) {
      this.status.textContent = `not saved: ${err.message}`;
    }
  }
}
