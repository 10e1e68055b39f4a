// The interactive page of `specc graph --format html`: the same flatten, layout and drawing as
// specc/report/graph.py and svg.py, ported line for line so that a click can open or close a
// block. tests/test_graph.py checks that the boxes land where the Python layout puts them.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("specc-graph").textContent);
  const M = DATA.model, S = DATA.style;
  const open = new Set(DATA.open);
  const SVGNS = "http://www.w3.org/2000/svg";

  function fmtInt(n) { return n.toLocaleString("en-US"); }

  function labelLines(n) {
    const head = (n.role === "input" || n.role === "output") ? n.role + " " + n.name : n.name + " · " + n.type;
    const lines = [head, n.role !== "input" ? n.shape : n.family + " " + n.shape];
    if (n.role === "layer" || n.role === "group") {
      lines.push(n.params === null ? "? params" : fmtInt(n.params) + " params");
    }
    return lines;
  }

  // Python's textwrap.wrap for one paragraph: greedy, breaking long words.
  function wrap(text, width) {
    const words = text.split(/\s+/).filter(w => w.length);
    const out = [];
    let cur = "";
    for (let w of words) {
      while (w.length > width) {
        const room = cur ? width - cur.length - 1 : width;
        if (room <= 0) { out.push(cur); cur = ""; continue; }
        out.push(cur ? cur + " " + w.slice(0, room) : w.slice(0, room));
        cur = "";
        w = w.slice(room);
      }
      if (!cur) cur = w;
      else if (cur.length + 1 + w.length <= width) cur += " " + w;
      else { out.push(cur); cur = w; }
    }
    if (cur) out.push(cur);
    return out;
  }

  function boxLines(n) {
    const lines = labelLines(n);
    if (n.brief) {
      let wrapped = wrap(n.brief, S.ERROR_WRAP);
      if (wrapped.length > 3) wrapped = [...wrapped.slice(0, 2), wrapped[2].slice(0, S.ERROR_WRAP - 1) + "…"];
      lines.push(...wrapped);
    }
    return lines;
  }

  function flatten() {
    const flat = { nodes: [], edges: [], clusters: [], parent: new Map() };
    const env = new Map();
    for (const n of M.inputs) { flat.nodes.push(n); flat.parent.set(n.id, null); env.set(n.name, n.id); }
    function scope(nodes, env, around) {
      for (const n of nodes) {
        const sources = n.inputs.map(i => env.get(i)).filter(s => s !== undefined && s !== null);
        if (n.children && open.has(n.id)) {
          flat.clusters.push([n, around]);
          flat.parent.set(n.id, around);
          const inner = new Map([["input", sources.length ? sources[0] : null]]);
          scope(n.children, inner, n.id);
          env.set(n.name, n.output ? (inner.get(n.output) ?? null) : null);
          continue;
        }
        flat.nodes.push(n);
        flat.parent.set(n.id, around);
        for (const s of sources) flat.edges.push([s, n.id]);
        env.set(n.name, n.id);
      }
    }
    scope(M.nodes, env, null);
    for (const n of M.outputs) {
      const src = n.inputs.length ? env.get(n.inputs[0]) : null;
      flat.nodes.push(n);
      flat.parent.set(n.id, null);
      if (src !== undefined && src !== null) flat.edges.push([src, n.id]);
    }
    return flat;
  }

  function around(flat, id) {
    const out = [];
    let at = flat.parent.get(id);
    while (at !== null && at !== undefined) { out.push(at); at = flat.parent.get(at); }
    return out;
  }

  function members(flat) {
    const out = new Map(flat.clusters.map(([c]) => [c.id, []]));
    for (const n of flat.nodes) for (const at of around(flat, n.id)) out.get(at).push(n.id);
    return out;
  }

  function layout(flat) {
    const preds = new Map(flat.nodes.map(n => [n.id, []]));
    for (const [a, b] of flat.edges) preds.get(b).push(a);
    const layer = new Map();
    for (const n of flat.nodes) {
      layer.set(n.id, preds.get(n.id).reduce((m, p) => Math.max(m, layer.get(p) + 1), 0));
    }
    const boxes = new Map();
    for (const n of flat.nodes) {
      const lines = boxLines(n);
      boxes.set(n.id, { id: n.id, node: n, layer: layer.get(n.id),
        w: Math.max(...lines.map(s => s.length)) * S.CHAR_W + 2 * S.PAD_X, h: lines.length * S.LINE_H + 2 * S.PAD_Y,
        x: 0, y: 0 });
    }
    const arrows = [];
    const above = new Map(flat.nodes.map(n => [n.id, []]));
    flat.edges.forEach(([a, b], k) => {
      const chain = [a];
      for (let lay = layer.get(a) + 1; lay < layer.get(b); lay++) {
        const wid = "~" + k + "." + lay;
        boxes.set(wid, { id: wid, node: null, layer: lay, w: 4 * S.FRAME_X, h: 0, x: 0, y: 0 });
        above.set(wid, [chain[chain.length - 1]]);
        chain.push(wid);
      }
      above.get(b).push(chain[chain.length - 1]);
      arrows.push([...chain, b]);
    });
    let depth = 0;
    for (const bx of boxes.values()) depth = Math.max(depth, bx.layer);
    const rows = Array.from({ length: depth + 1 }, () => []);
    for (const [bid, bx] of boxes) rows[bx.layer].push(bid);
    for (let sweep = 0; sweep < 2; sweep++) {
      for (let lay = 1; lay <= depth; lay++) {
        const pos = new Map(rows[lay - 1].map((bid, i) => [bid, i]));
        const key = bid => above.get(bid).reduce((s, p) => s + pos.get(p), 0) / above.get(bid).length;
        rows[lay] = rows[lay].map((bid, i) => [key(bid), i, bid]).sort((a, b) => a[0] - b[0] || a[1] - b[1])
          .map(t => t[2]);
      }
    }
    const inside = new Map([...boxes.keys()].map(bid => [bid, new Set(around(flat, bid))]));
    const mem = members(flat);
    const inner = new Map(flat.clusters.map(([c]) => [c.id, []]));
    for (const [c] of flat.clusters) for (const at of around(flat, c.id)) inner.get(at).push(c.id);
    function place(lanes, sides, before) {
      for (const row of rows) {
        let left = null;
        for (const bid of row) {
          const bx = boxes.get(bid);
          const real = above.get(bid).filter(p => boxes.get(p).node !== null).map(p => boxes.get(p).x);
          const sources = bx.node !== null && real.length ? real : above.get(bid).map(p => boxes.get(p).x);
          let want = lanes.has(bid) ? lanes.get(bid)
            : sources.length ? sources.reduce((s, x) => s + x, 0) / sources.length : bx.w / 2;
          if (left !== null) {
            const lb = boxes.get(left), a = inside.get(left), b = inside.get(bid);
            const edge = Math.max(lb.x + lb.w / 2, ...[...a].filter(g => !b.has(g) && sides.has(g))
              .map(g => sides.get(g)[1] - before.get(left) + lb.x));
            const reach = Math.max(bx.w / 2, ...[...b].filter(g => !a.has(g) && sides.has(g))
              .map(g => before.get(bid) - sides.get(g)[0]));
            want = Math.max(want, edge + S.GAP_X + reach);
          }
          bx.x = want;
          left = bid;
        }
      }
    }
    function frameSides() {
      const sides = new Map();
      for (const [c] of [...flat.clusters].reverse()) {  // inner groups first
        const ms = mem.get(c.id).map(m => boxes.get(m));
        if (!ms.length) continue;
        const kids = inner.get(c.id).filter(i => sides.has(i) && flat.parent.get(i) === c.id).map(i => sides.get(i));
        const titleW = (c.name + " · " + c.type).length * S.CHAR_W + 24;
        sides.set(c.id, [
          Math.min(...ms.map(b => b.x - b.w / 2 - S.FRAME_X), Math.min(...ms.map(b => b.x)) - titleW,
            ...kids.map(k => k[0] - S.FRAME_X)),
          Math.max(...ms.map(b => b.x + b.w / 2 + S.FRAME_X), ...kids.map(k => k[1] + S.FRAME_X))]);
      }
      return sides;
    }
    let lanes = new Map(), sides = new Map();
    for (let pass = 0; pass < 4; pass++) {
      const before = new Map([...boxes].map(([bid, bx]) => [bid, bx.x]));
      place(lanes, sides, before);
      lanes = new Map();
      for (const chain of arrows) {
        const ws = chain.slice(1, -1);
        if (!ws.length) continue;
        const lane = Math.max(...ws.map(w => boxes.get(w).x));
        for (const w of ws) lanes.set(w, lane);
      }
      sides = frameSides();
      if ([...boxes].every(([bid, bx]) => Math.abs(before.get(bid) - bx.x) < 0.01)) break;
    }
    const spans = new Map();
    for (const [cid, ms] of mem) {
      if (!ms.length) continue;
      const lays = ms.map(m => boxes.get(m).layer);
      spans.set(cid, [Math.min(...lays), Math.max(...lays)]);
    }
    const opens = new Array(depth + 1).fill(0), closes = new Array(depth + 1).fill(0);
    for (const [lo, hi] of spans.values()) { opens[lo]++; closes[hi]++; }
    const heights = rows.map(row => row.reduce((m, b) => Math.max(m, boxes.get(b).h), 0));
    let y = S.HEADER_H + S.MARGIN;
    rows.forEach((row, lay) => {
      y += opens[lay] * S.FRAME_OPEN;
      for (const bid of row) boxes.get(bid).y = y + heights[lay] / 2;
      y += heights[lay] + closes[lay] * S.FRAME_CLOSE + S.GAP_Y;
    });
    const centre = rows.map(row => row.length ? boxes.get(row[0]).y : 0);
    const frames = [];
    for (const [c] of flat.clusters) {
      if (!spans.has(c.id)) continue;
      const [lo, hi] = spans.get(c.id);
      const nested = inner.get(c.id).filter(i => spans.has(i));
      const kOpen = nested.filter(i => spans.get(i)[0] === lo).length;
      const kClose = nested.filter(i => spans.get(i)[1] === hi).length;
      frames.push({ group: c, x0: sides.get(c.id)[0], x1: sides.get(c.id)[1],
        y0: centre[lo] - heights[lo] / 2 - S.FRAME_OPEN * (kOpen + 1) + 4,
        y1: centre[hi] + heights[hi] / 2 + S.FRAME_CLOSE * (kClose + 1) - 3 });
    }
    const left = Math.min(...[...boxes.values()].map(b => b.x - b.w / 2), ...frames.map(f => f.x0));
    for (const bx of boxes.values()) bx.x += S.MARGIN - left;
    for (const f of frames) { f.x0 += S.MARGIN - left; f.x1 += S.MARGIN - left; }
    const width = Math.max(...[...boxes.values()].map(b => b.x + b.w / 2), ...frames.map(f => f.x1)) + S.MARGIN;
    return { boxes, arrows, frames, width, height: y - S.GAP_Y + S.MARGIN };
  }

  function fill(n) {
    if (n.error) return S.ERROR_FILL;
    if (n.role === "input" || n.role === "output") return S.IO_FILL;
    if (n.role === "group") return S.GROUP_FILL;
    return S.COLOURS[n.family] || "#f8fafc";
  }

  function el(tag, attrs, parent, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function arrowPath(pts) {
    const a = pts[0], b = pts[pts.length - 1];
    const p = [[a.x, a.y + a.h / 2]];
    for (const w of pts.slice(1, -1)) { p.push([w.x, w.y - S.LINE_H]); p.push([w.x, w.y + S.LINE_H]); }
    p.push([b.x, b.y - b.h / 2]);
    let d = "M" + p[0][0].toFixed(1) + "," + p[0][1].toFixed(1);
    for (let i = 1; i < p.length; i++) {
      const [x0, y0] = p[i - 1], [x1, y1] = p[i];
      if (x0 === x1) { d += " L" + x1.toFixed(1) + "," + y1.toFixed(1); continue; }
      const mid = ((y0 + y1) / 2).toFixed(1);
      d += " C" + x0.toFixed(1) + "," + mid + " " + x1.toFixed(1) + "," + mid + " " + x1.toFixed(1) + "," +
        y1.toFixed(1);
    }
    return d;
  }

  function draw() {
    const lay = layout(flatten());
    const heading = M.name + " · " + fmtInt(M.total_params) + " params";
    lay.width = Math.max(lay.width, 2 * S.MARGIN + S.TITLE_CHAR_W * heading.length);
    const host = document.getElementById("graph");
    host.textContent = "";
    const svg = el("svg", { xmlns: SVGNS, width: lay.width.toFixed(1), height: lay.height.toFixed(1),
      viewBox: "0 0 " + lay.width.toFixed(1) + " " + lay.height.toFixed(1), "font-family": S.FONT,
      "font-size": 12 }, host);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
      markerHeight: 7, orient: "auto-start-reverse" }, el("defs", {}, svg));
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: S.STROKE }, marker);
    el("text", { class: "title", x: S.MARGIN, y: S.MARGIN + 12, "font-weight": "bold", "font-size": 14 }, svg, heading);
    for (const f of lay.frames) {
      const g = el("g", { class: "frame", "data-id": f.group.id }, svg);
      el("title", {}, g, f.group.id + " — click the title to close");
      el("rect", { x: f.x0, y: f.y0, width: f.x1 - f.x0, height: f.y1 - f.y0, rx: 8, fill: "none",
        stroke: f.group.error ? S.ERROR_STROKE : "#94a3b8", "stroke-dasharray": "4 3" }, g);
      const t = el("text", { x: f.x0 + 8, y: f.y0 + 15, fill: "#475569" }, g, f.group.name + " · " + f.group.type);
      t.addEventListener("click", () => { close(f.group.id); });
    }
    for (const ids of lay.arrows) {
      el("path", { class: "edge", d: arrowPath(ids.map(i => lay.boxes.get(i))), fill: "none", stroke: S.STROKE,
        "stroke-width": 1.3, "marker-end": "url(#arrow)" }, svg);
    }
    for (const bx of lay.boxes.values()) {
      const n = bx.node;
      if (n === null) continue;
      const g = el("g", { class: "node " + n.role + (n.error ? " error" : ""), "data-id": n.id }, svg);
      const base = labelLines(n);
      el("title", {}, g, base.join("\n") + (n.error ? "\n\n" + n.error : ""));
      el("rect", { x: bx.x - bx.w / 2, y: bx.y - bx.h / 2, width: bx.w, height: bx.h,
        rx: (n.role === "input" || n.role === "output") ? 14 : 5, fill: fill(n),
        stroke: n.error ? S.ERROR_STROKE : S.STROKE, "stroke-width": (n.error || n.role === "group") ? 2 : 1 }, g);
      const top = bx.y - bx.h / 2 + S.PAD_Y + 11;
      boxLines(n).forEach((line, i) => {
        const attrs = { x: bx.x - bx.w / 2 + S.PAD_X, y: top + i * S.LINE_H,
          fill: i >= base.length ? S.ERROR_STROKE : i === 0 ? "#0f172a" : "#334155" };
        if (i === 0) attrs["font-weight"] = "bold";
        el("text", attrs, g, line);
      });
      if (n.role === "group") g.addEventListener("click", () => { open.add(n.id); draw(); });
    }
    document.body.dataset.open = [...open].sort().join(",");
  }

  function close(id) {
    for (const o of [...open]) if (o === id || o.startsWith(id + ".")) open.delete(o);
    draw();
  }

  function allGroups(nodes, out) {
    for (const n of nodes) if (n.children) { out.push(n.id); allGroups(n.children, out); }
    return out;
  }

  document.getElementById("expand-all").addEventListener("click", () => {
    for (const id of allGroups(M.nodes, [])) open.add(id);
    draw();
  });
  document.getElementById("collapse-all").addEventListener("click", () => { open.clear(); draw(); });
  draw();
})();
