"""SVG and HTML pictures of the network, laid out here (no Graphviz needed).

The layout is a plain layered DAG drawing: each box sits one layer below the deepest box it
reads (longest path), an arrow that skips layers runs through invisible waypoints so it bends
around the boxes in between, layers are ordered by the mean position of what each box reads,
and a box sits under the boxes it reads, pushed right when it would overlap a neighbour or
a frame it is not in (a few passes, until nothing moves). Open groups (blocks, repeats) are
framed, and the vertical gap above and below a frame makes room for it.

The HTML page carries the same model as JSON and the same layout in JavaScript
(``graph_page.js``), so a click can open or close a block; a test checks that the browser's
boxes land where this module puts them.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

from .graph import Flat, View, VNode, flatten, group_title, label_lines

CHAR_W = 7.3  # advance of one character of the 12 px monospace font the boxes use
TITLE_CHAR_W = 8.6  # and of the 14 px bold heading
LINE_H = 15
PAD_X, PAD_Y = 10, 7
GAP_X, GAP_Y = 28, 34
FRAME_OPEN, FRAME_CLOSE, FRAME_X = 24, 10, 10
MARGIN = 16
HEADER_H = 30
ERROR_WRAP = 52

# Fill and accent per layer family (the module that defines the kind); unknown families are grey.
COLOURS = {
    "conv": "#dbeafe", "convlstm": "#dbeafe", "norm": "#dcfce7", "activation": "#fef3c7", "pool": "#ede9fe",
    "linear": "#fce7f3", "embedding": "#fce7f3", "merge": "#ccfbf1", "reshape": "#f1f5f9", "reduce": "#f1f5f9",
    "index": "#f1f5f9",
    "dropout": "#f8fafc", "recurrent": "#ffedd5", "ssm": "#ffedd5", "attention": "#fee2e2", "wrappers": "#e0e7ff",
}
IO_FILL, GROUP_FILL, ERROR_FILL, ERROR_STROKE, STROKE = "#eef2ff", "#e0f2fe", "#fde8e8", "#c81e1e", "#64748b"


@dataclass
class Box:
    id: str
    node: VNode | None  # None: a waypoint of an arrow that skips layers
    layer: int
    w: float
    h: float
    x: float = 0.0  # centre
    y: float = 0.0  # centre


@dataclass
class Frame:
    group: VNode
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class Layout:
    boxes: dict[str, Box]
    arrows: list[list[str]]  # box ids from source through waypoints to target
    frames: list[Frame] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def box_lines(n: VNode) -> list[str]:
    lines = label_lines(n)
    if n.brief:
        wrapped = textwrap.wrap(n.brief, ERROR_WRAP)
        if len(wrapped) > 3:  # the whole text is in the tooltip and the page's list of errors
            wrapped = [*wrapped[:2], wrapped[2][:ERROR_WRAP - 1] + "…"]
        lines += wrapped
    return lines


def layout(flat: Flat) -> Layout:
    preds: dict[str, list[str]] = {n.id: [] for n in flat.nodes}
    for a, b in flat.edges:
        preds[b].append(a)
    layer: dict[str, int] = {}
    for n in flat.nodes:  # flat.nodes is in execution order: every source comes first
        layer[n.id] = max((layer[p] + 1 for p in preds[n.id]), default=0)
    boxes: dict[str, Box] = {}
    for n in flat.nodes:
        lines = box_lines(n)
        boxes[n.id] = Box(n.id, n, layer[n.id], max(len(s) for s in lines) * CHAR_W + 2 * PAD_X,
                          len(lines) * LINE_H + 2 * PAD_Y)
    arrows: list[list[str]] = []
    above: dict[str, list[str]] = {n.id: [] for n in flat.nodes}  # the boxes one layer up it hangs from
    for k, (a, b) in enumerate(flat.edges):
        chain = [a]
        for lay in range(layer[a] + 1, layer[b]):
            wid = f"~{k}.{lay}"
            boxes[wid] = Box(wid, None, lay, 4 * FRAME_X, 0.0)  # wide enough to clear a frame
            above[wid] = [chain[-1]]
            chain.append(wid)
        above[b].append(chain[-1])
        arrows.append([*chain, b])
    depth = max((bx.layer for bx in boxes.values()), default=0)
    rows: list[list[str]] = [[] for _ in range(depth + 1)]
    for bid, bx in boxes.items():
        rows[bx.layer].append(bid)
    for _ in range(2):  # barycentre sweeps: fewer crossings, branches keep their side
        for lay in range(1, depth + 1):
            pos = {bid: i for i, bid in enumerate(rows[lay - 1])}
            rows[lay].sort(key=lambda bid: sum(pos[p] for p in above[bid]) / len(above[bid]))
    inside = {bid: frozenset(_around(flat, bid)) for bid in boxes}
    members, inner = _members(flat), _inner(flat)
    lanes: dict[str, float] = {}
    sides: dict[str, tuple[float, float]] = {}
    # Each pass places the boxes knowing the previous one's lanes (an arrow that skips layers runs
    # straight, at its rightmost waypoint) and frames (a box outside a group keeps off its frame).
    for _ in range(4):
        before = {bid: bx.x for bid, bx in boxes.items()}
        _place(rows, boxes, above, inside, lanes, sides, before)
        lanes = {w: max(boxes[i].x for i in chain[1:-1]) for chain in arrows for w in chain[1:-1]}
        sides = _frame_sides(flat, boxes, members, inner)
        if all(abs(before[bid] - bx.x) < 0.01 for bid, bx in boxes.items()):
            break
    frames = _frames(flat, boxes)
    opens = [0] * (depth + 1)
    closes = [0] * (depth + 1)
    for lo, hi in frames.values():
        opens[lo] += 1
        closes[hi] += 1
    heights = [max((boxes[b].h for b in row), default=0.0) for row in rows]
    y = HEADER_H + MARGIN
    for lay, row in enumerate(rows):
        y += opens[lay] * FRAME_OPEN
        for bid in row:
            boxes[bid].y = y + heights[lay] / 2
        y += heights[lay] + closes[lay] * FRAME_CLOSE + GAP_Y
    out = Layout(boxes, arrows)
    out.frames = _frame_boxes(flat, boxes, frames, heights, rows, sides, inner)
    left = min([bx.x - bx.w / 2 for bx in boxes.values()] + [f.x0 for f in out.frames], default=0.0)
    for bx in boxes.values():
        bx.x += MARGIN - left
    for f in out.frames:
        f.x0 += MARGIN - left
        f.x1 += MARGIN - left
    out.width = max([bx.x + bx.w / 2 for bx in boxes.values()] + [f.x1 for f in out.frames], default=0.0) + MARGIN
    out.height = y - GAP_Y + MARGIN
    return out


def _around(flat: Flat, bid: str) -> list[str]:
    """The open groups a box is drawn inside, innermost first (none for a waypoint)."""
    out = []
    at = flat.parent.get(bid)
    while at is not None:
        out.append(at)
        at = flat.parent.get(at)
    return out


def _place(rows: list[list[str]], boxes: dict[str, Box], above: dict[str, list[str]],
           inside: dict[str, frozenset[str]], lanes: dict[str, float], sides: dict[str, tuple[float, float]],
           before: dict[str, float]) -> None:
    """Each box under the mean of the real boxes it reads (a waypoint: in its lane, else under the
    one before it), pushed right where it would overlap its left neighbour, or the frame of a
    group only one of the two is in (``sides``: where the frames were, with the boxes ``before``)."""
    for row in rows:
        left: str | None = None
        for bid in row:
            bx = boxes[bid]
            real = [boxes[p].x for p in above[bid] if boxes[p].node is not None]
            sources = real if bx.node is not None and real else [boxes[p].x for p in above[bid]]
            want = lanes[bid] if bid in lanes else sum(sources) / len(sources) if sources else bx.w / 2
            if left is not None:
                lb = boxes[left]
                edge = max([lb.x + lb.w / 2] + [sides[g][1] - before[left] + lb.x
                                                for g in inside[left] - inside[bid] if g in sides])
                reach = max([bx.w / 2] + [before[bid] - sides[g][0] for g in inside[bid] - inside[left] if g in sides])
                want = max(want, edge + GAP_X + reach)
            bx.x = want
            left = bid


def _members(flat: Flat) -> dict[str, list[str]]:
    """Open group → the boxes inside it, at any depth."""
    members: dict[str, list[str]] = {c.id: [] for c, _ in flat.clusters}
    for n in flat.nodes:
        for at in _around(flat, n.id):
            members[at].append(n.id)
    return members


def _inner(flat: Flat) -> dict[str, list[str]]:
    """Open group → the open groups inside it, at any depth."""
    inner: dict[str, list[str]] = {c.id: [] for c, _ in flat.clusters}
    for c, _ in flat.clusters:
        for at in _around(flat, c.id):
            inner[at].append(c.id)
    return inner


def _frame_sides(flat: Flat, boxes: dict[str, Box], members: dict[str, list[str]],
                 inner: dict[str, list[str]]) -> dict[str, tuple[float, float]]:
    """Left and right of each open group's frame: around its boxes and the frames inside it, and
    wide enough on the left that its title ends before the arrows, which run through centres."""
    sides: dict[str, tuple[float, float]] = {}
    for c, _ in reversed(flat.clusters):  # inner groups first
        ms = [boxes[m] for m in members[c.id]]
        if not ms:
            continue
        kids = [sides[i] for i in inner[c.id] if i in sides and flat.parent.get(i) == c.id]
        title_w = len(group_title(c)) * CHAR_W + 24
        sides[c.id] = (min([b.x - b.w / 2 - FRAME_X for b in ms] + [min(b.x for b in ms) - title_w] +
                           [k[0] - FRAME_X for k in kids]),
                       max([b.x + b.w / 2 + FRAME_X for b in ms] + [k[1] + FRAME_X for k in kids]))
    return sides


def _frames(flat: Flat, boxes: dict[str, Box]) -> dict[str, tuple[int, int]]:
    return {cid: (min(boxes[m].layer for m in ms), max(boxes[m].layer for m in ms))
            for cid, ms in _members(flat).items() if ms}


def _frame_boxes(flat: Flat, boxes: dict[str, Box], spans: dict[str, tuple[int, int]], heights: list[float],
                 rows: list[list[str]], sides: dict[str, tuple[float, float]],
                 inner: dict[str, list[str]]) -> list[Frame]:
    centre = [boxes[row[0]].y if row else 0.0 for row in rows]
    out = []
    for c, _ in flat.clusters:
        if c.id not in spans:
            continue
        lo, hi = spans[c.id]
        nested = [i for i in inner[c.id] if i in spans]
        k_open = sum(1 for i in nested if spans[i][0] == lo)
        k_close = sum(1 for i in nested if spans[i][1] == hi)
        out.append(Frame(c, sides[c.id][0], centre[lo] - heights[lo] / 2 - FRAME_OPEN * (k_open + 1) + 4,
                         sides[c.id][1], centre[hi] + heights[hi] / 2 + FRAME_CLOSE * (k_close + 1) - 3))
    return out


# -- SVG -----------------------------------------------------------------------------------------------

def _fill(n: VNode) -> str:
    if n.error:
        return ERROR_FILL
    if n.role in ("input", "output"):
        return IO_FILL
    if n.role == "group":
        return GROUP_FILL
    return COLOURS.get(n.family, "#f8fafc")


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _arrow_path(points: list[Box]) -> str:
    a, b = points[0], points[-1]
    pts = [(a.x, a.y + a.h / 2)]
    for w in points[1:-1]:
        pts.append((w.x, w.y - LINE_H))
        pts.append((w.x, w.y + LINE_H))
    pts.append((b.x, b.y - b.h / 2))
    d = f"M{_f(pts[0][0])},{_f(pts[0][1])}"
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if x0 == x1:
            d += f" L{_f(x1)},{_f(y1)}"
        else:
            mid = (y0 + y1) / 2
            d += f" C{_f(x0)},{_f(mid)} {_f(x1)},{_f(mid)} {_f(x1)},{_f(y1)}"
    return d


def heading(v: View) -> str:
    return f"{v.name} · {v.total_params:,} params"


def svg_body(v: View, lay: Layout) -> list[str]:
    """The drawing's elements (the HTML page draws the same ones in graph_page.js)."""
    out = [f'<text class="title" x="{MARGIN}" y="{MARGIN + 12}" font-weight="bold" font-size="14">'
           f"{escape(heading(v))}</text>"]
    for f in lay.frames:
        stroke = ERROR_STROKE if f.group.error else "#94a3b8"
        out.append(f'<g class="frame" data-id="{escape(f.group.id)}"><title>{escape(f.group.id)}</title>'
                   f'<rect x="{_f(f.x0)}" y="{_f(f.y0)}" width="{_f(f.x1 - f.x0)}" height="{_f(f.y1 - f.y0)}" '
                   f'rx="8" fill="none" stroke="{stroke}" stroke-dasharray="4 3"/>'
                   f'<text x="{_f(f.x0 + 8)}" y="{_f(f.y0 + 15)}" fill="#475569">'
                   f"{escape(group_title(f.group))}</text></g>")
    for ids in lay.arrows:
        out.append(f'<path class="edge" d="{_arrow_path([lay.boxes[i] for i in ids])}" fill="none" '
                   f'stroke="{STROKE}" stroke-width="1.3" marker-end="url(#arrow)"/>')
    for bx in lay.boxes.values():
        n = bx.node
        if n is None:
            continue
        cls = f"node {n.role}" + (" error" if n.error else "")
        tip = "\n".join(label_lines(n)) + (f"\n\n{n.error}" if n.error else "")
        out.append(f'<g class="{cls}" data-id="{escape(n.id)}"><title>{escape(tip)}</title>'
                   f'<rect x="{_f(bx.x - bx.w / 2)}" y="{_f(bx.y - bx.h / 2)}" width="{_f(bx.w)}" '
                   f'height="{_f(bx.h)}" rx="{14 if n.role in ("input", "output") else 5}" fill="{_fill(n)}" '
                   f'stroke="{ERROR_STROKE if n.error else STROKE}" '
                   f'stroke-width="{2 if n.error or n.role == "group" else 1}"/>')
        top = bx.y - bx.h / 2 + PAD_Y + 11
        for i, line in enumerate(box_lines(n)):
            weight = ' font-weight="bold"' if i == 0 else ""
            colour = ERROR_STROKE if i >= len(label_lines(n)) else "#0f172a" if i == 0 else "#334155"
            out.append(f'<text x="{_f(bx.x - bx.w / 2 + PAD_X)}" y="{_f(top + i * LINE_H)}" fill="{colour}"'
                       f"{weight}>{escape(line)}</text>")
        out.append("</g>")
    return out


FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"


def _comment(text: str) -> str:
    """``text`` fit for an XML comment, which may not hold "--" (a file path may)."""
    return escape(text).replace("--", "- -")


def to_svg(v: View, is_open: Callable[[str], bool]) -> str:
    lay = layout(flatten(v, is_open))
    lay.width = max(lay.width, 2 * MARGIN + TITLE_CHAR_W * len(heading(v)))
    body = "\n".join(svg_body(v, lay))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(lay.width)}" height="{_f(lay.height)}" '
            f'viewBox="0 0 {_f(lay.width)} {_f(lay.height)}" font-family="{FONT}" font-size="12">\n'
            f"<!-- {_comment(v.name)} ({_comment(v.file)}), drawn by specc graph -->\n"
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{STROKE}"/></marker></defs>\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n{body}\n</svg>\n')


def to_html(v: View, is_open: Callable[[str], bool]) -> str:
    from importlib import resources

    script = resources.files("specc.report").joinpath("graph_page.js").read_text(encoding="utf-8")
    opened = sorted(g.id for g in v.groups() if is_open(g.id))
    constants = {"CHAR_W": CHAR_W, "LINE_H": LINE_H, "PAD_X": PAD_X, "PAD_Y": PAD_Y, "GAP_X": GAP_X,
                 "GAP_Y": GAP_Y, "FRAME_OPEN": FRAME_OPEN, "FRAME_CLOSE": FRAME_CLOSE, "FRAME_X": FRAME_X,
                 "MARGIN": MARGIN, "TITLE_CHAR_W": TITLE_CHAR_W, "HEADER_H": HEADER_H, "ERROR_WRAP": ERROR_WRAP,
                 "COLOURS": COLOURS,
                 "IO_FILL": IO_FILL, "GROUP_FILL": GROUP_FILL, "ERROR_FILL": ERROR_FILL,
                 "ERROR_STROKE": ERROR_STROKE, "STROKE": STROKE, "FONT": FONT}
    # "</script" would end the <script> element early and "<!--" would make the parser skip past its real
    # end; JSON's \u escapes of < > & keep every such sequence out of the page with the same values.
    data = (json.dumps({"model": v.to_json(), "open": opened, "style": constants})
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    errors = "".join(f"<li>{escape(e)}</li>" for e in v.errors)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(v.name)} — specc graph</title>
<style>
  body {{ margin: 0; font: 14px system-ui, sans-serif; color: #0f172a; background: #f8fafc; }}
  header {{ padding: 10px 16px; background: #ffffff; border-bottom: 1px solid #e2e8f0; display: flex;
           gap: 12px; align-items: center; flex-wrap: wrap; }}
  header h1 {{ font-size: 16px; margin: 0; }}
  header .file {{ color: #64748b; font-family: {FONT}; font-size: 12px; }}
  button {{ font: inherit; padding: 3px 10px; border: 1px solid #cbd5e1; border-radius: 6px; background: #fff;
           cursor: pointer; }}
  button:hover {{ background: #f1f5f9; }}
  .hint {{ color: #64748b; font-size: 12px; }}
  ul.errors {{ margin: 8px 16px; padding: 8px 24px; background: {ERROR_FILL}; color: #771d1d;
              border: 1px solid {ERROR_STROKE}; border-radius: 6px; }}
  ul.errors:empty {{ display: none; }}
  main {{ padding: 8px; overflow: auto; }}
  #graph svg {{ background: #ffffff; border: 1px solid #e2e8f0; border-radius: 6px; }}
  #graph g.group {{ cursor: zoom-in; }}
  #graph g.frame text {{ cursor: zoom-out; text-decoration: underline dotted; }}
  #graph g.node:hover rect {{ stroke-width: 2.5; }}
</style>
</head>
<body>
<header>
  <h1>{escape(v.name)}</h1><span class="file">{escape(v.file)}</span>
  <button id="expand-all" type="button">Expand all</button>
  <button id="collapse-all" type="button">Collapse all</button>
  <span class="hint">click a block to open it, its frame's title to close it; hover a box for details</span>
</header>
<ul class="errors">{errors}</ul>
<main><div id="graph"></div></main>
<script type="application/json" id="specc-graph">{data}</script>
<script>
{script}
</script>
</body>
</html>
"""
