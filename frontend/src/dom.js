// Small DOM helpers: every string reaches the page as text (textContent), never as markup.

export function h(tag, props = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Offer `data` as a file download named `name`. */
export function download(name, data, type) {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, style: { display: "none" } });
  document.body.append(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(url);
    a.remove();
  }, 1000);
}

/** A file name made of the network's name: letters, digits, `._-` kept, the rest `_`. */
export function fileName(name, ext) {
  const base = String(name || "network").replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "") || "network";
  return `${base.slice(0, 100)}.${ext}`;
}

/** The SVG text drawn as a PNG (at most 16,000 px a side), as a Blob. */
export function svgToPng(svgText, scale = 1.5) {
  return new Promise((resolve, reject) => {
    const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
    const svg = doc.documentElement;
    const vb = (svg.getAttribute("viewBox") || "0 0 100 100").split(/[\s,]+/).map(Number);
    let s = scale * (4 / 3);
    s = Math.min(s, 16000 / Math.max(vb[2], 1), 16000 / Math.max(vb[3], 1));
    const w = Math.max(1, Math.round(vb[2] * s));
    const hgt = Math.max(1, Math.round(vb[3] * s));
    svg.setAttribute("width", String(w));
    svg.setAttribute("height", String(hgt));
    const text = new XMLSerializer().serializeToString(svg);
    const img = new Image();
    const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
    img.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = hgt;
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "white";
      ctx.fillRect(0, 0, w, hgt);
      ctx.drawImage(img, 0, 0, w, hgt);
      URL.revokeObjectURL(url);
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("no png"))), "image/png");
    };
    img.onerror = () => reject(new Error("the SVG could not be drawn"));
    img.src = url;
  });
}
