// The minimap: the whole drawing small, in a corner, with the part in view outlined; a click moves the view there.

import { clear } from "./dom.js";

export class Minimap {
  constructor(viewer, el) {
    this.v = viewer;
    this.el = el;
    this.svg = null;
    this.rect = null;
    this.pending = false;
    el.addEventListener("click", (e) => this.onClick(e));
  }

  /** A new drawing: the small copy is made again at the next update. */
  reset() {
    this.svg = null;
  }

  updateSoon() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.update();
    });
  }

  copy() {
    clear(this.el);
    const doc = new DOMParser().parseFromString(this.v.svgText, "image/svg+xml");
    const el = document.importNode(doc.documentElement, true);
    for (const x of el.querySelectorAll("[id]")) x.removeAttribute("id");
    el.setAttribute("width", "100%");
    el.setAttribute("height", "100%");
    el.setAttribute("preserveAspectRatio", "xMidYMid meet");
    const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    rect.setAttribute("class", "rd-view");
    el.append(rect);
    this.el.append(el);
    this.svg = el;
    this.rect = rect;
  }

  viewport() {
    return this.v.svg.querySelector(".svg-pan-zoom_viewport");
  }

  update() {
    if (!this.v.svg || !this.v.pz) return;
    if (!this.svg) this.copy();
    const ctm = this.viewport().getScreenCTM();
    if (!ctm) return;
    // the corners of the view in the drawing's coordinates, which the copy shares
    const inv = ctm.inverse();
    const box = this.v.canvas.getBoundingClientRect();
    const a = new DOMPoint(box.left, box.top).matrixTransform(inv);
    const b = new DOMPoint(box.right, box.bottom).matrixTransform(inv);
    this.rect.setAttribute("x", String(a.x));
    this.rect.setAttribute("y", String(a.y));
    this.rect.setAttribute("width", String(Math.max(1, b.x - a.x)));
    this.rect.setAttribute("height", String(Math.max(1, b.y - a.y)));
  }

  onClick(e) {
    if (!this.svg || !this.v.pz) return;
    const mctm = this.svg.getScreenCTM();
    if (!mctm) return;
    const g = new DOMPoint(e.clientX, e.clientY).matrixTransform(mctm.inverse());
    const s = g.matrixTransform(this.viewport().getScreenCTM());
    const box = this.v.canvas.getBoundingClientRect();
    this.v.pz.panBy({ x: box.left + box.width / 2 - s.x, y: box.top + box.height / 2 - s.y });
    this.updateSoon();
  }
}
