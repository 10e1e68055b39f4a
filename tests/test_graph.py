"""`specc graph`: the pictures show every layer and every `from:` arrow, boxes never overlap,
blocks open and close, errors are drawn at the layer at fault, and the HTML page works in a
real headless Chromium (skipped, with the reason, only where no Chromium can be had)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import combinations
from pathlib import Path

import pytest

import specc
from specc.report.graph import flatten, opener, render, view
from specc.report.svg import layout

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "specs" / "zoo").glob("*.yaml"))
ARTIFACTS = ROOT / "out" / "test-artifacts"
SVG = "{http://www.w3.org/2000/svg}"
CHROMIUM = os.environ.get("SPECC_CHROMIUM", "/usr/bin/chromium")


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _edges_expected(g: object, expanded: bool) -> int:
    """Arrows the picture must draw: one per `from:` source of every drawn box (a closed group's
    inner arrows are hidden; an open group's inputs reach its first layers instead), plus one
    per output."""
    total = 0
    for n in g.nodes:  # type: ignore[attr-defined]
        if n.sub is not None and expanded:
            total += _edges_expected(n.sub, True)
        else:
            total += len(n.inputs)
    return total


@pytest.mark.parametrize("path", EXAMPLES, ids=_ids(EXAMPLES))
def test_every_layer_and_every_arrow_is_drawn(path: Path) -> None:
    spec = specc.load(path)
    assert spec.ok and spec.graph is not None
    g = spec.graph
    v = view(spec)
    closed = flatten(v, opener(None))
    assert [n.id for n in closed.nodes if n.role in ("layer", "group")] == [n.path for n in g.nodes]
    assert len(closed.edges) == _edges_expected(g, False) + len(g.outputs)
    opened = flatten(v, opener("*"))
    assert [n.id for n in opened.nodes if n.role == "layer"] == [n.path for n in g.leaves()]
    assert not [n for n in opened.nodes if n.role == "group"]
    assert len(opened.edges) == _edges_expected(g, True) + len(g.outputs)
    # every box is drawn with its real output shape and parameter count
    by_path = {n.path: n for _, n in g.walk()}
    for n in opened.nodes:
        if n.role == "layer":
            node = by_path[n.id]
            assert n.params == node.result.params
            # a layer of several outputs (a Split, a MaxPool with its indices) shows each part's shape
            parts = node.result.outs if node.result is not None else ()
            assert n.shape == (" | ".join(str(t) for t in parts) if parts else str(node.out))


@pytest.mark.parametrize("path", [ROOT / "specs" / "resnet18.yaml", ROOT / "specs" / "unet_small.yaml",
                                  ROOT / "specs" / "multi_input.yaml", ROOT / "specs" / "zoo" / "squeezenet1_1.yaml",
                                  ROOT / "specs" / "zoo" / "densenet121.yaml"],
                         ids=lambda p: p.stem)
@pytest.mark.parametrize("expand", [None, "*"], ids=["collapsed", "expanded"])
def test_svg_boxes_never_overlap_and_frames_hold_their_layers(path: Path, expand: str | None) -> None:
    spec = specc.load(path)
    v = view(spec)
    flat = flatten(v, opener(expand))
    lay = layout(flat)
    boxes = [b for b in lay.boxes.values() if b.node is not None]
    for a, b in combinations(boxes, 2):
        apart = (abs(a.x - b.x) >= (a.w + b.w) / 2) or (abs(a.y - b.y) >= (a.h + b.h) / 2)
        assert apart, f"{a.id} overlaps {b.id}"
    for a, b in flat.edges:  # arrows point down the page
        assert lay.boxes[a].y < lay.boxes[b].y
    for f in lay.frames:
        inside = [b for b in boxes if b.id.startswith(f.group.id + ".")]
        assert inside
        for b in boxes:
            within = f.x0 < b.x - b.w / 2 and b.x + b.w / 2 < f.x1 and f.y0 < b.y - b.h / 2 and b.y + b.h / 2 < f.y1
            touches = f.x0 < b.x + b.w / 2 and b.x - b.w / 2 < f.x1 and f.y0 < b.y + b.h / 2 and b.y - b.h / 2 < f.y1
            assert within if b in inside else not touches, f"{b.id} and the frame of {f.group.id}"
    for f, g in combinations(lay.frames, 2):  # a block's frame holds the frames of the blocks inside it
        outer, inner = (f, g) if g.group.id.startswith(f.group.id + ".") else (g, f)
        if inner.group.id.startswith(outer.group.id + "."):
            assert outer.x0 < inner.x0 and inner.x1 < outer.x1 and outer.y0 < inner.y0 and inner.y1 < outer.y1
    svg = render(spec, "svg", expand)
    root = ET.fromstring(svg)
    drawn = [el.get("data-id") for el in root.iter(f"{SVG}g") if "node" in (el.get("class") or "").split()]
    assert sorted(drawn) == sorted(b.id for b in boxes)
    assert len([el for el in root.iter(f"{SVG}path") if el.get("class") == "edge"]) == len(flat.edges)
    assert float(root.get("width")) >= max(b.x + b.w / 2 for b in boxes)


def test_expand_names_a_block_and_opens_the_groups_around_it() -> None:
    spec = specc.load(ROOT / "specs" / "resnet18.yaml")
    flat = flatten(view(spec), opener("layer2.down_block_1"))
    assert [c.id for c, _ in flat.clusters] == ["layer2", "layer2.down_block_1"]
    ids = [n.id for n in flat.nodes]
    assert "layer2.down_block_1.downsample" in ids and "layer2.basic_block_1" in ids and "layer3" in ids
    # the projection shortcut branches off the block's input and merges at the Add
    assert ("layer1", "layer2.down_block_1.conv1") in flat.edges
    assert ("layer1", "layer2.down_block_1.downsample") in flat.edges
    add = next(n.id for n in flat.nodes if n.id.startswith("layer2.down_block_1.add"))
    assert {("layer2.down_block_1.bn2", add), ("layer2.down_block_1.downsample_bn", add)} <= set(flat.edges)


def test_mermaid_and_dot_carry_nodes_edges_and_blocks() -> None:
    spec = specc.load(ROOT / "specs" / "unet_small.yaml")
    mermaid = render(spec, "mermaid", "enc1")
    assert mermaid.splitlines()[1] == "flowchart TB"
    assert 'subgraph g0["enc1 · DoubleConv"]' in mermaid
    assert "skip2 · Concat<br/>(B, 64, 32, 32)<br/>0 params" in mermaid
    flat = flatten(view(spec), opener("enc1"))
    assert len(re.findall(r"^\s+n\d+ --> n\d+$", mermaid, re.M)) == len(flat.edges)
    dot = render(spec, "dot", "enc1")
    assert dot.count("->") == len(flat.edges)
    assert 'subgraph "cluster_enc1"' in dot
    assert dot.count("{") == dot.count("}")
    assert '"skip2" [label="skip2 · Concat\\n(B, 64, 32, 32)\\n0 params"' in dot
    if shutil.which("dot"):  # Graphviz is optional; where it is installed, it must accept the file
        subprocess.run(["dot", "-Tsvg"], input=dot, text=True, check=True, capture_output=True)


def test_labels_escape_what_each_format_would_misread(tmp_path: Path) -> None:
    spec_file = tmp_path / "quotes.yaml"
    spec_file.write_text('specc: 1\nname: Q\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Linear, out_features: 2}\n')
    spec = specc.load(spec_file)
    spec.graph.name = spec.document.name = 'Q"<&>'  # type: ignore[union-attr]
    ET.fromstring(render(spec, "svg"))  # well-formed XML
    assert '"Q\\"<&>"' in render(spec, "dot")
    assert "Q#quot;" not in render(spec, "mermaid").splitlines()[0]  # a comment line: nothing to escape


def test_hostile_types_and_paths_never_become_markup(tmp_path: Path) -> None:
    # A mistyped layer type is drawn with its error, word for word; it and the file's path must stay text.
    evil = "<!--<script>alert('x')</script>-->{}\\\""
    folder = tmp_path / "sp ace--ü"
    folder.mkdir()
    spec_file = folder / "m--x.yaml"
    spec_file.write_text("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Linear, out_features: 2}\n"
                         f"  - {{type: {json.dumps(evil)}, name: bad}}\n", encoding="utf-8")
    spec = specc.load(spec_file)
    assert not spec.ok
    ET.fromstring(render(spec, "svg"))  # well-formed: no "--" inside the comment that names the file
    page = render(spec, "html")
    data = re.search(r'<script type="application/json" id="specc-graph">(.*?)</script>', page, re.S)
    assert data is not None and "<" not in data.group(1)  # nothing there a parser could take for a tag or comment
    assert any(evil in e for e in json.loads(data.group(1))["model"]["errors"])
    assert page.count("<script") == 2 and "<!--<script" not in page
    mermaid = render(spec, "mermaid")
    assert "<script" not in mermaid and "-->{" not in mermaid
    dot = render(spec, "dot")
    label = re.search(r'"bad" \[label=("(?:[^"\\]|\\.)*")', dot)
    assert label is not None and json.loads(label.group(1)).startswith(f"bad · {evil}")


def test_a_line_break_in_a_type_or_path_stays_inside_its_label(tmp_path: Path) -> None:
    folder = tmp_path / "two\nlines"
    folder.mkdir()
    spec_file = folder / "m.yaml"
    spec_file.write_text('specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: "a\\nb\\r\\nc --> d", name: bad}\n')
    spec = specc.load(spec_file)
    mermaid = render(spec, "mermaid").splitlines()
    assert mermaid[0].startswith("%% ") and mermaid[1] == "flowchart TB"  # the path's break left the comment whole
    box = next(line for line in mermaid if "bad · " in line)
    assert box.endswith('"]') and "a b c --#gt; d" in box
    dot = render(spec, "dot").splitlines()
    assert dot[0].startswith("// ") and dot[1].startswith("digraph")


BROKEN = sorted((ROOT / "specs" / "broken").glob("*.yaml")) + sorted((ROOT / "tests" / "corpus" / "bad").glob("*.yaml"))


def test_every_broken_spec_with_a_graph_draws_in_every_format() -> None:
    drawn = 0
    for path in BROKEN:
        spec = specc.load(path)
        if spec.graph is None:
            continue
        for fmt in ("mermaid", "dot", "svg", "html"):
            text = render(spec, fmt)
            if fmt == "svg":
                ET.fromstring(text)
        ids = [n.id for n in flatten(view(spec), lambda _: True).nodes]
        assert len(ids) == len(set(ids)), path.name  # a duplicate name (V007) still gets boxes of its own
        drawn += 1
    assert drawn >= 20


def test_errors_are_drawn_at_the_layer_at_fault() -> None:
    spec = specc.load(ROOT / "specs" / "broken" / "resnet_shortcut_not_projected.yaml")
    assert not spec.ok
    fault = spec.errors[0]
    v = view(spec)
    closed = flatten(v, opener(None))
    group = fault.layer.split(".")[0]
    marked = [n for n in closed.nodes if n.error]
    assert [n.id for n in marked] == [group]  # a closed block says an error is inside it
    assert marked[0].brief.startswith(f"inside {fault.layer.split('.', 1)[1]}: {fault.code}: ")
    svg = ET.fromstring(render(spec, "svg", "*"))
    errs = [el for el in svg.iter(f"{SVG}g") if "error" in (el.get("class") or "").split()]
    assert [el.get("data-id") for el in errs] == [fault.layer]
    texts = " ".join(t.text or "" for t in errs[0].iter(f"{SVG}text"))
    assert "cannot combine input 1 (B, 128, 16, 16)" in texts
    assert fault.hint and fault.hint[:40] in errs[0].find(f"{SVG}title").text  # type: ignore[union-attr]


def _cli(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "specc", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_cli_writes_each_format_atomically_without_torch(tmp_path: Path) -> None:
    probe = ("import sys, specc.cli; rc = specc.cli.main(sys.argv[1:]); "
             "print('HEAVY', sorted({'torch', 'numpy', 'onnx', 'onnxruntime'} & set(sys.modules)), rc)")
    for suffix, first in ((".mmd", "%%"), (".dot", "//"), (".svg", "<svg"), (".html", "<!DOCTYPE html>")):
        out = tmp_path / f"unet{suffix}"
        proc = subprocess.run([sys.executable, "-c", probe, "graph", "specs/unet_small.yaml", "-o", str(out)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.stdout.strip() == "HEAVY [] 0", proc.stderr
        assert out.read_text(encoding="utf-8").startswith(first)
        assert f"wrote {out}" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unet.dot", "unet.html", "unet.mmd", "unet.svg"]
    proc = _cli("graph", "specs/unet_small.yaml", "--format", "dot")
    assert proc.returncode == 0 and proc.stdout.startswith("// SmallUNet")


def test_cli_exit_codes(tmp_path: Path) -> None:
    broken = _cli("graph", "specs/broken/resnet_shortcut_not_projected.yaml", "-o", str(tmp_path / "b.svg"))
    assert broken.returncode == 1 and "1 error marked in red" in broken.stderr and "error[S006]" in broken.stderr
    assert (tmp_path / "b.svg").is_file()
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("specc: 1\nlayers: [\n")
    proc = _cli("graph", str(bad_yaml), "-o", str(tmp_path / "none.svg"))
    assert proc.returncode == 1 and "nothing was written" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "none.svg").exists()
    assert _cli("graph", str(tmp_path / "missing.yaml")).returncode == 2
    assert _cli("graph", "specs/xor.yaml", "--format", "png").returncode == 2
    proc = _cli("graph", "specs/resnet18.yaml", "--expand", "layer2.downblok_1")
    assert proc.returncode == 2 and "did you mean layer2.down_block_1?" in proc.stderr
    proc = _cli("graph", "specs/xor.yaml", "--expand", "hidden")
    assert proc.returncode == 2 and "it has no blocks or repeats to open" in proc.stderr
    proc = _cli("graph", "specs/xor.yaml", "-o", str(tmp_path / "no" / "such" / "dir" / "x.svg"))
    assert proc.returncode == 0  # folders are made, as for every other output


def test_readme_picture_is_what_the_command_draws_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the picture names the spec as the command was given it
    committed = (ROOT / "docs" / "img" / "unet_small.svg").read_text(encoding="utf-8")
    assert committed == render(specc.load("specs/unet_small.yaml"), "svg"), \
        "regenerate: specc graph specs/unet_small.yaml -o docs/img/unet_small.svg"
    assert "docs/img/unet_small.svg" in (ROOT / "README.md").read_text(encoding="utf-8")


# -- the HTML page in a real browser ---------------------------------------------------------------

def _chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (scripts/test.sh installs Debian's chromium when run as root; "
                    "set SPECC_CHROMIUM to use another)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    return CHROMIUM


def _boxes(page: object) -> dict[str, tuple[float, float, float, float]]:
    """Each drawn box's rectangle, as the browser laid it out."""
    found = page.eval_on_selector_all(  # type: ignore[attr-defined]
        "#graph g.node", "els => els.map(g => { const r = g.querySelector('rect'); return [g.dataset.id, "
        "+r.getAttribute('x'), +r.getAttribute('y'), +r.getAttribute('width'), +r.getAttribute('height')]; })")
    return {i: (x, y, w, h) for i, x, y, w, h in found}


def _python_boxes(spec: specc.Spec, expand: str | None) -> dict[str, tuple[float, float, float, float]]:
    lay = layout(flatten(view(spec), opener(expand)))
    return {b.id: (b.x - b.w / 2, b.y - b.h / 2, b.w, b.h) for b in lay.boxes.values() if b.node is not None}


def _same_layout(page: dict, python: dict) -> None:
    assert page.keys() == python.keys()
    for k, (x, y, w, h) in python.items():
        assert page[k] == pytest.approx((x, y, w, h), abs=0.01), k


@pytest.mark.parametrize("name", ["resnet18", "broken/resnet_shortcut_not_projected"])
def test_html_page_in_headless_chromium(tmp_path: Path, name: str) -> None:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    spec = specc.load(ROOT / "specs" / f"{name}.yaml")
    page_file = tmp_path / "graph.html"
    page_file.write_text(render(spec, "html"), encoding="utf-8")
    assert "http://" not in page_file.read_text().replace("http://www.w3.org/2000/svg", "")  # self-contained
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = name.replace("/", "_")
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: problems.append(f"network: {r.url}")
                    if not r.url.startswith(("file:", "data:", "about:")) else None)
            page.goto(page_file.as_uri())
            g = spec.graph
            assert g is not None
            # closed: one box per top-level layer or block, plus inputs and outputs
            assert page.locator("#graph g.node.layer, #graph g.node.group").count() == len(g.nodes)
            assert page.locator("#graph g.node.input").count() == len(g.inputs)
            _same_layout(_boxes(page), _python_boxes(spec, None))
            first_group = next(n for n in g.nodes if n.sub is not None)
            page.locator(f'#graph g.node.group[data-id="{first_group.path}"]').click()
            assert page.locator(f'#graph g.frame[data-id="{first_group.path}"]').count() == 1
            inside = [n.path for n in first_group.sub.nodes]  # type: ignore[union-attr]
            for p in inside:
                assert page.locator(f'#graph g.node[data-id="{p}"]').count() == 1
            _same_layout(_boxes(page), _python_boxes(spec, first_group.path))
            page.locator(f'#graph g.frame[data-id="{first_group.path}"] text').click()  # close it again
            assert page.locator(f'#graph g.frame[data-id="{first_group.path}"]').count() == 0
            page.click("#expand-all")
            assert page.locator("#graph g.node.layer").count() == len(list(g.leaves()))
            assert page.locator("#graph g.node.group").count() == 0
            _same_layout(_boxes(page), _python_boxes(spec, "*"))
            if not spec.ok:
                fault = spec.errors[0]
                box = page.locator(f'#graph g.node.error[data-id="{fault.layer}"]')
                assert box.count() == 1
                assert "cannot combine" in (box.text_content() or "")
                assert fault.message in page.locator("ul.errors").inner_text()
            page.screenshot(path=str(ARTIFACTS / f"graph_{stem}_expanded.png"), full_page=True)
            page.click("#collapse-all")
            assert page.locator("#graph g.node.group").count() == sum(1 for n in g.nodes if n.sub is not None)
            page.screenshot(path=str(ARTIFACTS / f"graph_{stem}.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert (ARTIFACTS / f"graph_{stem}.png").stat().st_size > 10_000
