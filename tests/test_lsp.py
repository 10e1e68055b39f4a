"""`specc lsp`: a scripted session with the real server in a subprocess (pygls' LanguageClient over
stdio) — open a spec, edit it and watch the diagnostics change, hover, inlay hints, completion
and definition — and the analysis behind it on the example specs."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

import specc
from specc.lsp.analysis import Analysis

ROOT = Path(__file__).resolve().parents[1]
RESNET = ROOT / "specs" / "resnet18.yaml"

GOOD = """specc: 1
name: Tiny
inputs:
  image: [B, 1, 28, 28]
layers:
  - {type: Conv2d, out_channels: 8, kernel_size: 3, name: conv}
  - {type: ReLU}
  - {type: Flatten, name: flat}
  - {type: Linear, out_features: 10, name: head, from: flat}
"""


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines()) if needle in line)


def _pos(text: str, needle: str, offset: int = 0) -> lsp.Position:
    line = _line(text, needle)
    return lsp.Position(line=line, character=text.splitlines()[line].index(needle) + offset)


WIDE = """specc: 1
inputs:
  x: [B, 4]
layers:
  - {name: h, when: "${'😀😀' != ''}", type: Linear, out_features: 3}  # 😀
  - {when: "${'😀' != ''}", from: h, type: Linear, out_features: 2, in_features: 9}
"""


def _utf16(text: str, needle: str, offset: int = 0) -> lsp.Position:
    """Where ``needle`` starts, in the UTF-16 code units LSP counts columns in."""
    line = _line(text, needle)
    before = text.splitlines()[line][:text.splitlines()[line].index(needle) + offset]
    return lsp.Position(line=line, character=len(before.encode("utf-16-le")) // 2)


ODD = ('specc: 1\ndescription: "first\u2028second\u2029third\x85fourth"\ninputs:\n  x: [B, 4]\nlayers:\n'
       "  - {type: Linear, out_features: 3, name: h}\n  - {type: ReLU}\n"
       "  - {type: Linear, out_features: 2, in_features: 9}\n")


def _editor_pos(text: str, needle: str, offset: int = 0) -> lsp.Position:
    """Where ``needle`` starts, with lines ended only at \\n, \\r\\n and \\r, as LSP and editors end them."""
    lines = text.split("\n")
    line = next(i for i, x in enumerate(lines) if needle in x)
    return lsp.Position(line=line, character=lines[line].index(needle) + offset)


async def _session(tmp_path: Path) -> dict[str, object]:
    """One real session; returns what the client saw."""
    seen: dict[str, object] = {}
    published: asyncio.Queue[lsp.PublishDiagnosticsParams] = asyncio.Queue()
    client = LanguageClient("specc-test", "1")

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
        published.put_nowait(params)

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    await client.start_io(sys.executable, "-m", "specc", "lsp", env=env, cwd=str(ROOT))
    try:
        init = await asyncio.wait_for(client.initialize_async(lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(), root_uri=tmp_path.as_uri())), 60)
        seen["capabilities"] = init.capabilities
        client.initialized(lsp.InitializedParams())
        path = tmp_path / "tiny.yaml"
        path.write_text(GOOD)
        uri = path.as_uri()
        doc = lsp.TextDocumentIdentifier(uri=uri)
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=GOOD)))
        seen["open"] = await asyncio.wait_for(published.get(), 60)

        broken = GOOD.replace("out_features: 10", "out_features: 10, in_features: 7")
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=broken)]))
        seen["broken"] = await asyncio.wait_for(published.get(), 60)
        seen["broken_text"] = broken

        client.text_document_did_change(lsp.DidChangeTextDocumentParams(  # an incremental fix
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[lsp.TextDocumentContentChangePartial(range=lsp.Range(
                start=_pos(broken, ", in_features: 7"), end=_pos(broken, ", in_features: 7", 16)), text="")]))
        seen["fixed"] = await asyncio.wait_for(published.get(), 60)

        seen["hover"] = await client.text_document_hover_async(
            lsp.HoverParams(text_document=doc, position=_pos(GOOD, "Conv2d")))
        seen["hints"] = await client.text_document_inlay_hint_async(lsp.InlayHintParams(
            text_document=doc, range=lsp.Range(start=lsp.Position(line=0, character=0),
                                               end=lsp.Position(line=20, character=0))))
        seen["types"] = await client.text_document_completion_async(lsp.CompletionParams(
            text_document=doc, position=_pos(GOOD, "ReLU", 2)))
        seen["keys"] = await client.text_document_completion_async(lsp.CompletionParams(
            text_document=doc, position=_pos(GOOD, "kernel_size: 3", 14)))
        seen["definition"] = await client.text_document_definition_async(lsp.DefinitionParams(
            text_document=doc, position=_pos(GOOD, "from: flat", 7)))

        wide = tmp_path / "wide.yaml"  # characters outside the BMP before every position: 2 UTF-16 units each
        wide_doc = lsp.TextDocumentIdentifier(uri=wide.as_uri())
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
            uri=wide.as_uri(), language_id="yaml", version=1, text=WIDE)))
        seen["wide"] = await asyncio.wait_for(published.get(), 60)
        seen["wide_hover"] = await client.text_document_hover_async(
            lsp.HoverParams(text_document=wide_doc, position=_utf16(WIDE, "Linear")))
        seen["wide_definition"] = await client.text_document_definition_async(lsp.DefinitionParams(
            text_document=wide_doc, position=_utf16(WIDE, "from: h", 6)))
        seen["wide_hints"] = await client.text_document_inlay_hint_async(lsp.InlayHintParams(
            text_document=wide_doc, range=lsp.Range(start=lsp.Position(line=0, character=0),
                                                    end=lsp.Position(line=20, character=0))))
        odd = tmp_path / "odd.yaml"  # line ends for YAML and Python, not for an editor
        odd_doc = lsp.VersionedTextDocumentIdentifier(uri=odd.as_uri(), version=2)
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
            uri=odd.as_uri(), language_id="yaml", version=1, text=ODD)))
        seen["odd"] = await asyncio.wait_for(published.get(), 60)
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(text_document=odd_doc, content_changes=[
            lsp.TextDocumentContentChangePartial(range=lsp.Range(
                start=_editor_pos(ODD, ", in_features: 9"), end=_editor_pos(ODD, ", in_features: 9", 16)), text="")]))
        seen["odd_fixed"] = await asyncio.wait_for(published.get(), 60)
        seen["odd_hover"] = await client.text_document_hover_async(lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=odd.as_uri()), position=_editor_pos(ODD, "name: h", 6)))
        await asyncio.wait_for(client.shutdown_async(None), 30)
        client.exit(None)
    finally:
        await asyncio.wait_for(client.stop(), 30)
    return seen


def test_stdio_session_with_the_real_server(tmp_path: Path) -> None:
    seen = asyncio.run(asyncio.wait_for(_session(tmp_path), 120))
    caps = seen["capabilities"]
    assert caps.hover_provider and caps.definition_provider and caps.inlay_hint_provider  # type: ignore[attr-defined]
    assert list(seen["open"].diagnostics) == []  # type: ignore[attr-defined]
    broken = seen["broken"].diagnostics  # type: ignore[attr-defined]
    assert [d.code for d in broken] == ["S001"]
    d = broken[0]
    assert d.severity == lsp.DiagnosticSeverity.Error and d.source == "specc"
    assert "in_features is 7" in d.message and "hint: set in_features: 5408" in d.message
    text = seen["broken_text"]
    assert d.range.start == _pos(text, "7, name: head")  # type: ignore[arg-type]
    assert d.range.end.character == d.range.start.character + 1
    assert list(seen["fixed"].diagnostics) == []  # type: ignore[attr-defined]
    assert seen["fixed"].version == 3  # type: ignore[attr-defined]

    hover = seen["hover"].contents.value  # type: ignore[attr-defined]
    assert "**Conv2d** `conv`" in hover and "(B, 8, 26, 26)" in hover and "80 params" in hover
    assert f"{26 * 26 * 8 * 3 * 3:,} (48.67 K) MACs/sample" in hover  # per output value: 1·3·3 weights
    hints = {(h.position.line, h.label) for h in seen["hints"]}  # type: ignore[attr-defined]
    assert (_line(GOOD, "Conv2d"), "→ (B, 8, 26, 26)") in hints
    assert (_line(GOOD, "Linear"), "→ (B, 10)") in hints
    labels = {i.label for i in seen["types"].items}  # type: ignore[attr-defined]
    assert {"Conv2d", "Dense", "LSTM", "ReLU"} <= labels
    keys = {i.label for i in seen["keys"].items}  # type: ignore[attr-defined]
    assert {"stride", "padding", "dilation", "groups", "bias", "in_channels", "from", "repeat"} <= keys
    assert not {"out_channels", "kernel_size", "type", "name"} & keys  # already written
    target = seen["definition"]
    assert target.range.start.line == _line(GOOD, "name: flat")  # type: ignore[attr-defined]

    # Columns are UTF-16 code units both ways, so non-BMP text before a position moves it by two.
    wide = seen["wide"].diagnostics  # type: ignore[attr-defined]
    assert [d.code for d in wide] == ["S001"], wide  # in_features 9 reads 3
    assert wide[0].range.start == _utf16(WIDE, "9}"), wide
    assert wide[0].range.end == _utf16(WIDE, "9}", 1), wide
    assert "**Linear** `h`" in seen["wide_hover"].contents.value  # type: ignore[attr-defined]
    assert seen["wide_definition"].range.start == _utf16(WIDE, "h, when")  # type: ignore[attr-defined]
    hint = next(h for h in seen["wide_hints"] if h.position.line == _line(WIDE, "Linear"))  # type: ignore[attr-defined]
    assert hint.position == _utf16(WIDE, "  # 😀") and hint.label == "→ (B, 3)"

    # U+2028, U+2029 and U+0085 end lines for YAML but not for editors: positions count editor lines
    odd = seen["odd"].diagnostics  # type: ignore[attr-defined]
    assert [d.code for d in odd] == ["S001"] and odd[0].range.start == _editor_pos(ODD, "9}"), odd
    assert list(seen["odd_fixed"].diagnostics) == []  # type: ignore[attr-defined]  (the edit hit its line)
    assert "**Linear** `h`" in seen["odd_hover"].contents.value  # type: ignore[attr-defined]


# -- the analysis behind the server, on real specs ----------------------------------------------------

def _analysis(path: Path) -> Analysis:
    return Analysis.of(path.read_text(encoding="utf-8"), path.as_uri(), str(path))


def test_hover_and_hints_agree_with_the_summary_on_resnet18() -> None:
    a = _analysis(RESNET)
    summary = {r.name: r for r in specc.load(RESNET).summary().rows}
    hints = a.inlay_hints()
    fc = _line(a.text, "name: fc")
    assert any(h.at[0] == fc and h.label == f"→ {summary['fc'].shape}" for h in hints)
    hover = a.hover((fc, 5))
    assert f"{summary['fc'].params:,} params" in (hover or "")
    # a line inside a block is every instance of it: BasicBlock's conv1 runs in layer1 (×2) and in each Stage
    conv1 = _line(a.text, "padding: 1, bias: false, name: conv1}")
    hover = a.hover((conv1, 10)) or ""
    assert "instances of this line" in hover and "layer1.0.conv1" in hover and "(B, 64, 56, 56)" in hover
    shapes = next(h.label for h in hints if h.at[0] == conv1)
    assert shapes.startswith("→ (B, 64, 56, 56) | (B, 128, 28, 28)")
    # a two-line item gets its hint after its last line, before a trailing comment
    down = _line(a.text, "name: downsample}")
    hint = next(h for h in hints if h.at[0] == down)
    assert a.lines[down][:hint.at[1]].endswith("name: downsample}")


def test_hover_on_a_from_name_and_on_an_input() -> None:
    a = _analysis(ROOT / "specs" / "unet_small.yaml")
    skip = _line(a.text, "from: [up2, enc2]")
    hover = a.hover((skip, a.lines[skip].index("enc2") + 1)) or ""
    assert hover.startswith("reads `enc2`:") and "`enc2` → `(B, 32, 32, 32)`" in hover
    image = _line(a.text, "image: [B, 1, 64, 64]")
    assert a.hover((image, 3)) == "**input** `image` → `(B, 1, 64, 64)` float32"
    assert a.hover((0, 0)) is None  # a comment line


def test_every_example_gets_a_hint_per_layer_line() -> None:
    for path in sorted((ROOT / "specs").glob("*.yaml")):
        a = _analysis(path)
        assert a.spec.ok and a.spec.graph is not None
        hinted = {h.at[0] for h in a.inlay_hints()}
        top = {n.loc.line - 1 for n in a.spec.graph.nodes if n.loc}
        assert all(a.item_span(line)[1] in hinted for line in top), path.name  # type: ignore[index]


def test_definition_of_blocks_inputs_and_scoped_names() -> None:
    a = _analysis(RESNET)
    use = _line(a.text, "- {type: DownBlock, out:")
    col = a.lines[use].index("DownBlock") + 2
    assert a.definition((use, col)) == (_line(a.text, "  DownBlock:"), 2)
    # `from: [bn2, input]` inside BasicBlock → BasicBlock's own bn2, not DownBlock's
    add = _line(a.text, "{type: Add, from: [bn2, input]}")
    target = a.definition((add, a.lines[add].index("bn2") + 1))
    assert target is not None and target[0] == _line(a.text, "{type: BatchNorm2d, name: bn2}")
    unet = _analysis(ROOT / "specs" / "unet_small.yaml")
    skip = _line(unet.text, "from: [up2, enc2]")
    assert unet.definition((skip, unet.lines[skip].index("enc2") + 1))[0] == _line(unet.text, "name: enc2}")
    multi = _analysis(ROOT / "specs" / "multi_input.yaml")
    line = next(i for i, t in enumerate(multi.lines) if "from:" in t and t.strip().startswith("- "))
    name = multi.lines[line].split("from:")[1].strip(" [{}").split(",")[0].split("}")[0].strip()
    target = multi.definition((line, multi.lines[line].index(name, multi.lines[line].index("from:"))))
    assert target is not None and name in multi.lines[target[0]]


def test_completion_while_typing_unfinished_yaml() -> None:
    text = GOOD + "  - {type: Li"
    a = Analysis.of(text, "file:///t.yaml", "/t.yaml")
    assert not a.spec.ok  # the YAML does not parse yet, and completion still answers
    labels = [c.label for c in a.completions((len(a.lines) - 1, len(a.lines[-1])))]
    assert "Linear" in labels and "Conv2d" in labels
    text = GOOD + "  - {type: Dense, "
    a = Analysis.of(text, "file:///t.yaml", "/t.yaml")
    keys = [c.label for c in a.completions((len(a.lines) - 1, len(a.lines[-1])))]
    assert "out_features" in keys and "in_features" in keys and "type" not in keys
    top = Analysis.of("specc: 1\n", "file:///t.yaml", "/t.yaml")
    assert {"inputs", "layers", "loss"} <= {c.label for c in top.completions((1, 0))}


def test_block_arguments_are_completed() -> None:
    a = _analysis(ROOT / "specs" / "unet_small.yaml")
    line = _line(a.text, "name: bottleneck")
    keys = {c.label: c.detail for c in a.completions((line, 5))}
    assert "out" not in keys  # written already
    a2 = Analysis.of(a.text.replace('out: "${base * 4}", ', ""), "file:///u.yaml", "/u.yaml")
    keys = {c.label: c.detail for c in a2.completions((line, 5))}
    assert keys["out"] == "argument of block DoubleConv (default 16)"


def test_latency_benchmark_runs() -> None:
    """bench/lsp_latency.py stays runnable (its figure is printed, never asserted)."""
    import subprocess

    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "lsp_latency.py"), "--edits", "8"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "edit → publishDiagnostics" in proc.stdout and "median" in proc.stdout


GARBAGE = {
    "empty": "", "binary": "\x00\x01\ufffd\x7f" * 20,
    "half typed": "specc: 1\ninputs:\n  x: [B, 4\nlayers:\n  - {type: Lin",
    "tabs": "specc: 1\ninputs:\n\tx: [B, 4]\nlayers:\n\t- {type: Linear}\n", "a scalar": "42", "a list": "- 1\n- 2\n",
    "unicode keys": "spéc: 1\ninputs: {ü: [B, 4]}\nlayers: [{type: Linear, out_features: 2}]\n",
    "unclosed nesting": "a: " + "[" * 3000,  # deeper than Python's recursion limit
    "2,000 layers": "specc: 1\ninputs: {x: [B, 8]}\nlayers:\n"
                    + "  - {type: Linear, out_features: 8}\n  - {type: ReLU}\n" * 1000,
}


@pytest.mark.parametrize("name", GARBAGE)
def test_garbage_never_crashes_the_analysis(name: str) -> None:
    a = Analysis.of(GARBAGE[name], "file:///g.yaml", "/g.yaml")
    found = a.diagnostics()
    assert name == "2,000 layers" or found  # every broken document says why
    for line in range(0, max(len(a.lines), 1), max(1, len(a.lines) // 10)):
        for col in (0, 4, 500):
            a.hover((line, col)), a.completions((line, col)), a.definition((line, col))
    hints = a.inlay_hints()
    assert name != "2,000 layers" or len(hints) == 2000


def test_a_specc_bug_reaches_the_editor_as_e999(monkeypatch: pytest.MonkeyPatch) -> None:
    import specc.lsp.analysis as analysis

    def broken(text: str, path: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(analysis, "loads", broken)
    [(span, d)] = Analysis.of(GOOD, "file:///t.yaml", "/t.yaml").diagnostics()
    assert d.code == "E999" and "RuntimeError: boom" in d.message and "bug in specc" in (d.hint or "")
    assert span[0] == (0, 0)
