"""export: sizes: against the model (V070, V071): a size check accepts is one the export traces,
verifies and trains synthetic data at; one it refuses would have failed there after ok."""

from __future__ import annotations

import pytest

import specc

SPEC = """\
specc: 1
inputs:
  tokens: {{shape: [B, T], dtype: int64}}
  image: {{shape: [B, 1, H, W]}}
layers:
  - {{type: Embedding, num_embeddings: 50, embedding_dim: 8, from: tokens}}
  - {{type: PositionalEncoding, max_len: 6}}
  - {{type: Mean, dim: 1, name: text}}
  - {{type: Conv2d, out_channels: 4, kernel_size: 5, from: image}}
  - {{type: Conv2d, out_channels: 8, kernel_size: 5}}
  - {{type: GlobalAvgPool, name: seen}}
  - {{type: Concat, from: [text, seen], dim: 1}}
export:
  batch_size: 2
  sizes: {sizes}
"""


def codes(sizes: str) -> list[str]:
    diags = specc.loads(SPEC.format(sizes=sizes), "s.yaml").diagnostics
    return [d.code for d in diags if d.severity == "error" or d.code.startswith("V07")]


@pytest.mark.parametrize(("sizes", "want"), [
    ("{T: 6, H: 9, W: 12}", []),            # the largest T the table holds, the smallest H two 5x5 convs take
    ("{T: 7}", ["V071"]),                   # past max_len
    ("{H: 8}", ["V071"]),                   # 8 - 4 - 4 = 0 rows after the second conv
    ("{T: 4, H: 9, W: 8}", ["V071"]),       # W alone too small
    ("{T: 4, X: 3}", ["V070"]),             # no such symbol
    ("{B: 8}", ["V070"]),                   # the batch: batch_size sets it
])
def test_export_sizes_are_checked_against_the_model(sizes: str, want: list[str]) -> None:
    assert codes(sizes) == want


def test_the_hinted_size_exports_and_verifies(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    spec = specc.loads(SPEC.format(sizes="{T: 9, H: 9, W: 9}"), "s.yaml")
    [diag] = spec.errors
    assert diag.code == "V071" and diag.hint.startswith("set T: 6"), diag.hint
    from specc.backends.routes import export

    fixed = specc.loads(SPEC.format(sizes="{T: 6, H: 9, W: 9}"), "s.yaml")
    assert fixed.ok
    result = export(fixed, tmp_path / "m.onnx", via="direct")
    assert result.verification is not None and (tmp_path / "m.onnx").exists()


PINNED = """\
specc: 1
inputs:
  tokens: {shape: [B, T], dtype: int64}
layers:
  - {type: Embedding, num_embeddings: 50, embedding_dim: 8}
  - {type: PositionalEncoding, max_len: 6}
  - {type: Permute, dims: [0, 2, 1]}
  - {type: Conv1d, out_channels: 4, kernel_size: 6}
  - {type: Flatten}
"""


def test_a_symbol_the_layers_allow_one_size_of_exports_at_it(tmp_path) -> None:
    """T <= 6 (the table) and T >= 6 (the kernel): check says ok, so the export must find T = 6
    (its doubling and halving of 16 never reaches it) and verify there, not fail at T = 16."""
    pytest.importorskip("onnxruntime")
    from specc.backends.routes import export

    spec = specc.loads(PINNED, "s.yaml")
    assert spec.ok
    result = export(spec, tmp_path / "m.onnx", via="direct")
    assert "T=6" in result.verification.text() and "T=16" not in result.verification.text()


def test_a_size_that_names_no_symbol_is_a_warning_with_the_symbol_meant() -> None:
    """A renamed symbol (T to L) leaves its size unused: the spec still works, so it is a warning."""
    text = ("specc: 1\ninputs:\n  tokens: {shape: [B, L], dtype: int64}\nlayers:\n"
            "  - {type: Embedding, num_embeddings: 100, embedding_dim: 8}\n  - {type: Mean, dim: 1}\n"
            "export:\n  sizes: {T: 32}\n")
    spec = specc.loads(text, "s.yaml")
    [d] = spec.diagnostics
    assert spec.ok and (d.code, d.severity, d.loc.line) == ("V070", "warning", 8) and d.hint == "did you mean L?"
    silenced = text.replace("specc: 1\n", "specc: 1\nlint: {ignore: [V070]}\n")
    assert not specc.loads(silenced, "s.yaml").diagnostics


def test_a_first_dim_that_is_not_every_input_s_batch_is_a_size_like_any_other() -> None:
    """With one input of fixed sizes beside [B, 3], the export has no batch symbol: B is a free
    symbol traced at sizes: {B: 5}, as ONNX Runtime runs it, and that size is used, not unused."""
    text = ("specc: 1\ninputs:\n  a: [B, 3]\n  b: [4, 3]\nlayers:\n"
            "  - {type: Linear, out_features: 3, from: a, name: la}\n"
            "  - {type: Linear, out_features: 3, from: b, name: lb}\n"
            "outputs: [la, lb]\nexport: {sizes: {B: 5}}\n")
    spec = specc.loads(text, "s.yaml")
    assert spec.ok and not [d for d in spec.diagnostics if d.code.startswith("V07")]


SEQ_FIRST = """\
specc: 1
inputs:
  x: [T, B, 8]
layers:
  - {type: LSTM, hidden_size: 16, batch_first: false}
  - {type: Linear, out_features: 3}
export: {batch_size: 3, sizes: {%s: 7}}
"""


@pytest.mark.parametrize("via", ["direct", "torch"])
def test_a_sequence_first_model_exports_with_its_batch_in_dim_1(via: str, tmp_path) -> None:
    """(T, B, 8) into a batch_first: false LSTM: the batch is B, in dim 1. Every stage took dim 0
    for the batch: the export traced T at batch_size and ignored sizes: {T: 7}, and V070 called T
    'the batch'."""
    pytest.importorskip("onnxruntime")
    if via == "torch":
        pytest.importorskip("torch")
    from specc.backends.routes import export

    spec = specc.loads(SEQ_FIRST % "T", "s.yaml")
    assert spec.ok and not spec.diagnostics and spec.graph.batch == "B"
    result = export(spec, tmp_path / "m.onnx", via=via)
    assert "T=7, B=3" in result.verification.text(), result.verification.text()
    [d] = specc.loads(SEQ_FIRST % "B", "s.yaml").diagnostics
    assert d.code == "V070" and "sets B, the batch" in d.message


def test_example_inputs_of_a_sequence_first_model_give_the_batch_to_dim_1() -> None:
    pytest.importorskip("torch")
    from specc.backends.torch_build import example_inputs

    [x] = example_inputs(specc.loads(SEQ_FIRST % "T", "s.yaml"), batch=2, sizes={"T": 5})
    assert tuple(x.shape) == (5, 2, 8)
