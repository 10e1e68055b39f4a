"""Shared and tied weights (``use:`` and ``tie:``): counted once, written as PyTorch shares them,
trained as one tensor, exported and verified; every misuse located, with the fix."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

import specc
from specc.cli import main
from specc.targets.torch.emit import compile_source

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import zoo_reference as ref  # noqa: E402
from emit_harness import verify  # noqa: E402

SIAMESE = ROOT / "specs" / "zoo" / "siamese.yaml"

LM = """\
name: TinyLM
vars: {vocab: 50, d: 16}
inputs:
  tokens: {shape: [B, T], dtype: int64}
layers:
  - {type: Embedding, num_embeddings: "${vocab}", embedding_dim: "${d}", name: embed}
  - {type: LayerNorm}
  - {type: Linear, out_features: "${d}"}
  - {type: GELU}
  - {type: Linear, out_features: "${vocab}", bias: false, tie: embed, name: head}
"""

# One Linear applied three times (weights shared across steps), on inputs of different lengths.
REUSED = """\
inputs:
  x: [B, T, 8]
  y: [B, S, 8]
layers:
  - {type: Linear, out_features: 8, from: x, name: step}
  - {type: Tanh}
  - {use: step, name: again}
  - {use: step, from: y, name: on_y}
  - {type: Concat, from: [again, on_y], dim: 1}
export: {sizes: {T: 6, S: 4}}
"""


def _spec(tmp_path: Path, text: str, name: str = "s.yaml") -> specc.Spec:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return specc.load(path)


def _numel(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() yields a shared tensor once


# -- a Siamese network: one encoder, two inputs ---------------------------------------------------------

def test_siamese_counts_each_shared_tensor_once_and_macs_per_call() -> None:
    spec = specc.load(SIAMESE)
    assert spec.ok, spec.diagnostics
    report = spec.check()
    assert report["total_params"] == _numel(ref.SiameseNet()) == 240_257
    rows = {r["name"]: r for r in report["layers"]}
    assert rows["encoder_right"]["params"] == 0 and rows["encoder_right"]["shares"] == "encoder"
    assert rows["encoder_right"]["macs"] == rows["encoder"]["macs"] > 0
    assert report["macs_per_sample"] == sum(r["macs"] for r in report["layers"] if r["depth"] == 0)


def test_siamese_summary_names_the_sharing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", str(SIAMESE)]) == 0
    out = capsys.readouterr().out
    assert "encoder_right calls encoder (each tensor counted once; MACs per call)" in out
    assert "Total params:          240,257" in out


def test_siamese_code_calls_one_module_twice() -> None:
    source = compile_source(specc.load(SIAMESE))
    assert source.count("self.encoder = Encoder()") == 1
    assert "self.encoder(left)" in source and "self.encoder(right)" in source
    assert "encoder_right =" not in source.split("def forward")[0]  # no attribute of its own
    model = specc.build(specc.load(SIAMESE), seed=0).eval()
    assert not any(k.startswith("encoder_right") for k in model.state_dict())
    twin = ref.SiameseNet().eval()
    with torch.no_grad():
        for a, b in zip(twin.parameters(), model.parameters(), strict=True):
            b.copy_(a)
        left, right = torch.randn(3, 1, 28, 28), torch.randn(3, 1, 28, 28)
        torch.testing.assert_close(model(left, right), twin(left, right), rtol=1e-4, atol=1e-5)
        # one module on both sides: swapping the images swaps the halves of the pair
        pair = torch.cat([model.encoder(left), model.encoder(right)], dim=1)
        assert torch.equal(model(right, left), model.score(model.relu_1(model.linear_1(pair.roll(128, 1)))))


def test_siamese_exports_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "siamese.onnx"
    assert main(["export", str(SIAMESE), "-o", str(out), "--format", "json"]) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["verification"]["checker"] == "ok"
    assert len({r["sizes"]["B"] for r in report["verification"]["runs"]}) >= 3


# -- a layer reused later in the graph --------------------------------------------------------------------

def test_a_layer_applied_three_times_at_any_length(tmp_path: Path) -> None:
    spec = _spec(tmp_path, REUSED)
    assert spec.ok, spec.diagnostics
    report = spec.check()
    assert report["total_params"] == 8 * 8 + 8
    macs = {r["name"]: str(r["macs"]) for r in report["layers"]}
    assert macs["again"] == macs["step"] == "64*T" and macs["on_y"] == "64*S"
    model = specc.build(spec, seed=0).eval()
    assert _numel(model) == 72 and list(dict(model.named_children())) == ["step", "tanh_1"]
    x, y = torch.randn(2, 5, 8), torch.randn(2, 3, 8)
    with torch.no_grad():
        got = model(x, y)
        want = torch.cat([model.step(torch.tanh(model.step(x))), model.step(y)], dim=1)
    torch.testing.assert_close(got, want)
    assert tuple(got.shape) == (2, 8, 8)


@pytest.mark.parametrize("text", [REUSED, LM], ids=["reused", "tied"])
def test_every_call_has_the_static_shapes_at_two_sizes(text: str, tmp_path: Path) -> None:
    """Forward hooks on the shared module see each call in turn (T and S differ at the second size)."""
    _, problems, _ = verify(_spec(tmp_path, text))
    assert not problems, problems


# A use: inside a block (its class calls its own attribute twice), a use: of a repeat and of a block
# instance whose class itself reuses a layer.
NESTED = """\
inputs:
  x: [B, 16]
blocks:
  Twice:
    layers:
      - {type: Linear, out_features: 16, name: fc}
      - {type: ReLU}
      - {use: fc, name: fc_again}
      - {type: Add, from: [input, fc_again]}
layers:
  - {type: Twice}
  - {type: Linear, out_features: 16, repeat: 2, name: mlp, ignore: [L017]}
  - {use: mlp}
  - {type: Twice, name: t2}
  - {use: t2}
"""


def test_use_inside_blocks_and_of_blocks_and_repeats(tmp_path: Path) -> None:
    spec = _spec(tmp_path, NESTED)
    assert spec.ok, spec.diagnostics
    assert spec.check()["total_params"] == 4 * 272
    source = compile_source(spec)
    assert source.count("out = self.fc(") == 2 and source.count("= Twice()") == 2
    model, problems, _ = verify(spec)
    assert not problems, problems
    assert _numel(model) == 4 * 272


@pytest.mark.parametrize("sizes", [(3, 4), (4, 3)])
def test_a_layer_without_weights_written_per_input_still_exports(sizes: tuple[int, int], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An adaptive pool is written in its exportable form where the output does not divide the
    input: reused on another size it may need the other form, so it gets a module of its own
    (it has no weights to share) rather than a call that `specc export` cannot write."""
    a, b = sizes
    text = (f"inputs:\n  a: [B, 1, {a}, {a}]\n  b: [B, 1, {b}, {b}]\nlayers:\n"
            "  - {type: AdaptiveMaxPool2d, from: a, name: n0, output_size: 2}\n"
            "  - {use: n0, from: b, name: n1}\n  - {type: Add, from: [n0, n1]}\n")
    spec = _spec(tmp_path, text)
    assert spec.ok, spec.diagnostics
    _, problems, _ = verify(spec)
    assert not problems, problems
    assert main(["export", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "s.onnx")]) == 0, capsys.readouterr().err


# -- tied weights -------------------------------------------------------------------------------------------

def test_tied_head_is_the_embedding_table(tmp_path: Path) -> None:
    spec = _spec(tmp_path, LM)
    assert spec.ok, spec.diagnostics
    report = spec.check()
    model = specc.build(spec, seed=0)
    assert model.head.weight is model.embed.weight
    assert report["total_params"] == _numel(model) == 50 * 16 + 2 * 16 + (16 * 16 + 16)
    head = next(r for r in report["layers"] if r["name"] == "head")
    assert head["params"] == 0 and head["tied_to"] == "embed" and head["macs"] == "800*T"
    assert "self.head.weight = self.embed.weight" in compile_source(spec)


@pytest.mark.parametrize(("where", "says"), [
    ("name: embed}", "Embedding 'embed', whose max_norm: 1.0"),  # the table the head shares
    ("name: head}", "and its own max_norm: 1.0"),  # a second Embedding tied to it, bounded itself
])
def test_a_max_norm_table_is_never_tied(where: str, says: str, tmp_path: Path) -> None:
    """max_norm renormalises the looked-up rows inside the table during forward: the other layer would
    read rows rescaled by the ids of every earlier call, which no export reproduces (V169)."""
    text = LM.replace(where, where[:-1] + ", max_norm: 1.0}")
    if where == "name: head}":
        text = text.replace("{type: Linear, out_features: \"${vocab}\", bias: false, tie: embed, name: head",
                            "{type: Embedding, num_embeddings: 50, embedding_dim: 16, from: tokens, tie: embed, "
                            "name: head")
    errors = [d for d in _spec(tmp_path, text).errors]
    assert [d.code for d in errors] == ["V169"], errors
    assert says in errors[0].message and errors[0].loc is not None


def test_tied_weight_trains_as_one_tensor(tmp_path: Path) -> None:
    model = specc.build(_spec(tmp_path, LM), seed=0)
    before = model.embed.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    tokens = torch.randint(0, 50, (4, 7))
    loss = torch.nn.functional.cross_entropy(model(tokens).flatten(0, 1), tokens.flatten())
    loss.backward()
    # both uses feed one gradient: rows never looked up still move, through the head
    unused = sorted(set(range(50)) - set(tokens.flatten().tolist()))
    assert model.embed.weight.grad is not None and model.embed.weight.grad[unused].abs().sum() > 0
    opt.step()
    assert model.head.weight is model.embed.weight and not torch.equal(model.embed.weight, before)
    state = model.state_dict()  # PyTorch keeps both keys, one storage; loading either works
    fresh = specc.build(_spec(tmp_path, LM), seed=1)
    fresh.load_state_dict({k: v.clone() for k, v in state.items()})
    assert fresh.head.weight is fresh.embed.weight and torch.equal(fresh.head.weight, model.embed.weight)


def test_tied_lm_exports_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lm.yaml"
    path.write_text(LM, encoding="utf-8")
    out = tmp_path / "lm.onnx"
    assert main(["export", str(path), "-o", str(out), "--format", "json"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["verification"]["checker"] == "ok"


# -- mistakes: located, with the fix ---------------------------------------------------------------------------

MISTAKES = [
    # (edit of REUSED or LM, code, the text where it points (the value at fault), words of the message,
    # words of the hint)
    (REUSED.replace("y: [B, S, 8]", "y: [B, S, 4]"), "G008", "y, name: on_y", "built for (B, T, 8)",
     "feed it a tensor shaped like"),
    (REUSED.replace("{use: step, name: again}", "{use: step, name: again, out_features: 4}"), "V040",
     "4}", "takes no out_features", "remove out_features"),
    (REUSED.replace("{use: step, name: again}", "{use: x, name: again}"), "G010", "x,", "has no weights",
     "from: x"),
    (REUSED.replace("{use: step, name: again}", "{use: stp, name: again}"), "G001", "stp,",
     "not a layer above", "step"),
    (REUSED.replace("{use: step, name: again}", "{use: later, name: again}").replace(
        "dim: 1}", "dim: 1}\n  - {type: Tanh, name: later}"), "G002", "later,", "defined after it",
     "move 'later' above"),
    (REUSED.replace("{use: step, name: again}", "{use: step, name: again, repeat: 2}"), "V040", "{use: step",
     "takes no repeat", "remove repeat"),
    # ALBERT's shared layer applied again without its padding mask: the shape is right, the mask is missing
    ("inputs:\n  x: [B, T, 8]\n  pad: {shape: [B, T], dtype: bool}\nlayers:\n"
     "  - {type: TransformerEncoderLayer, from: [x, pad], masks: [key_padding], nhead: 2, dim_feedforward: 16, "
     "name: layer_1}\n  - {use: layer_1, from: layer_1, name: layer_2}\n", "G008", "layer_1, name: layer_2",
     "got 1 inputs", "'layer_1' reads 2 inputs (from: [x, pad]); give this call as many, in that order, e.g. "
     "from: [layer_1, pad]"),
    (LM.replace('out_features: "${vocab}", bias', "out_features: 49, bias"), "G009", "embed,",
     "(49, 16)", "set out_features: 50"),
    (LM.replace("{type: GELU}", "{type: GELU, tie: embed}"), "V041", "embed}", "has none that can be tied",
     "put tie: on the output Linear"),
    (LM.replace("tie: embed", "tie: tokens"), "G010", "tokens,", "has no weights", "from: tokens"),
    (LM.replace("{type: GELU}", "{type: GELU, name: act}").replace("tie: embed", "tie: act"), "G010",
     "act,", "no weight matrix", "name an Embedding"),
]


@pytest.mark.parametrize("case", MISTAKES, ids=[f"{c[1]}-{i}" for i, c in enumerate(MISTAKES)])
def test_mistake_is_located_with_the_fix(case: tuple, tmp_path: Path) -> None:
    text, code, line_text, message, hint = case
    spec = _spec(tmp_path, text)
    assert not spec.ok
    errors = [d for d in spec.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == [code], errors
    (d,) = errors
    assert d.loc is not None
    assert text.splitlines()[d.loc.line - 1][d.loc.col - 1:].startswith(line_text), (d.loc, text)
    assert message in d.message and d.hint is not None and hint in d.hint, (d.message, d.hint)


def test_lora_adapts_the_shared_module_once(tmp_path: Path) -> None:
    text = REUSED + "lora: {rank: 2, targets: [step]}\n"
    spec = _spec(tmp_path, text)
    assert spec.ok, spec.diagnostics
    model = specc.build(spec, seed=0)
    assert spec.check()["total_params"] == _numel(model) == 72 + 2 * (8 + 8)
    bad = _spec(tmp_path, text.replace("targets: [step]", "targets: [on_y]"), "bad.yaml")
    (d,) = bad.errors
    assert d.code == "V030" and "calls 'step' again" in d.message
    assert d.hint == "adapt 'step': both calls use its adapter"
