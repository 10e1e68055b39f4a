"""The index family (ArgMax, ArgMin, CumSum, Compare, Pick) beyond its layer cases: what check refuses,
what training makes of integer and bool intermediates, and the published poolings it writes
(HF's last non-padding token, RoBERTa's position ids) against the code their authors wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

torch = pytest.importorskip("torch")

HEAD = "specc: 1\ninputs:\n  x: [B, T, 8]\n  ids: {shape: [B, T], dtype: int64}\nlayers:\n"


def _errors(layers: str, tail: str = "") -> list[tuple[str, str, str]]:
    spec = specc.loads(HEAD + layers + tail, "index.yaml")
    return [(d.code, d.message, d.hint or "") for d in spec.diagnostics if d.severity == "error"]


@pytest.mark.parametrize(("layers", "code", "says"), [
    ("  - {type: ArgMax, from: ids, dim: 2}\n", "S008", "out of range"),
    ("  - {type: Compare, from: ids, op: ne, value: 1, name: m}\n  - {type: ArgMax, dim: 1}\n", "S007", "bool"),
    ("  - {type: Compare, from: [ids, ids], op: eq, value: 1}\n", "V105", "both a value"),
    ("  - {type: Compare, from: [x, ids], op: gt}\n", "S006", "cannot compare"),
    ("  - {type: Pick, from: [x, x]}\n", "S007", "float32 values"),
    ("  - {type: Compare, from: ids, op: ne, value: 0, name: m}\n  - {type: Pick, from: [x, m]}\n", "S007",
     "bool values"),
    ("  - {type: ArgMax, from: ids, dim: 0, name: i}\n  - {type: Pick, from: [x, i]}\n", "S045", "(T,)"),
])
def test_check_refuses_what_the_ops_cannot_do(layers: str, code: str, says: str) -> None:
    errors = _errors(layers)
    assert [c for c, *_ in errors] == [code], errors
    assert says in errors[0][1] and errors[0][2]


def test_an_index_of_a_symbol_proven_equal_passes() -> None:
    # the index's dims must equal x's before dim at every size: B against B passes, a fixed 4 does not
    assert not _errors("  - {type: ArgMax, from: ids, dim: 1, name: i}\n  - {type: Pick, from: [x, i]}\n")
    spec = specc.loads("specc: 1\ninputs:\n  x: [B, T, 8]\n  i: {shape: [4], dtype: int64}\nlayers:\n"
                       "  - {type: Pick, from: [x, i]}\n", "i.yaml")
    assert [d.code for d in spec.diagnostics if d.severity == "error"] == ["S045"]


def test_no_gradient_through_an_index_is_said_before_training() -> None:
    # a scorer whose only way to the loss is the position it picks: ArgMax has no gradient, so its
    # weights never train (V035), while the head after the Pick does
    layers = ("  - {type: Linear, from: x, out_features: 1, name: score}\n  - {type: Squeeze, dim: -1}\n"
              "  - {type: ArgMax, dim: 1, name: best}\n  - {type: Pick, from: [x, best]}\n"
              "  - {type: Linear, out_features: 2}\n")
    spec = specc.loads(HEAD + layers + "loss: {type: CrossEntropyLoss}\n", "cut.yaml")
    cut = [d for d in spec.diagnostics if d.code == "V035"]
    assert cut and "score" in cut[0].message and "int64" in cut[0].message
    ended = specc.loads(HEAD + "  - {type: Linear, from: x, out_features: 3}\n  - {type: ArgMax, dim: -1}\n"
                        "loss: {type: MSELoss}\n", "int_out.yaml")
    assert "V034" in [d.code for d in ended.diagnostics]


def test_the_gradient_reaches_the_picked_features_only(tmp_path: Path) -> None:
    # HF's last-token pooling on an Embedding's features: the mask, counts and positions carry no
    # gradient, the features they pick do
    text = ("specc: 1\ninputs:\n  ids: {shape: [B, 12], dtype: int64}\nlayers:\n"
            "  - {type: Embedding, num_embeddings: 20, embedding_dim: 8, name: emb}\n"
            "  - {type: Compare, from: ids, op: ne, value: 0}\n  - {type: CumSum, dim: 1}\n"
            "  - {type: ArgMax, dim: 1, name: last}\n  - {type: Pick, from: [emb, last]}\n"
            "  - {type: Linear, out_features: 3}\n"
            "loss: {type: CrossEntropyLoss}\noptimizer: {type: Adam, lr: 0.01}\n"
            "train: {epochs: 1, batch_size: 4, data: {source: synthetic, num_samples: 16}}\n")
    path = tmp_path / "last_token.yaml"
    path.write_text(text)
    spec = specc.load(path)
    assert spec.ok
    # the gradient reaches the features picked, and only their rows of the table
    from specc.backends.torch_build import build_module

    model = build_module(spec)
    ids = torch.tensor([[3, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0], [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]])
    model(ids).sum().backward()
    grad = model.emb.weight.grad
    assert grad is not None and set(torch.nonzero(grad.abs().sum(1)).flatten().tolist()) == {5, 18}
    # (a whole run of such a model: clip_text_encoder.yaml and roberta_base.yaml in test_every_stage.py)


def hf_last_token(ids: torch.Tensor, pad: int) -> torch.Tensor:
    # transformers' GPT2ForSequenceClassification / LlamaForSequenceClassification (4.4x):
    # the rightmost token that is not padding
    non_pad = (ids != pad).int()
    return (torch.arange(ids.shape[-1]) * non_pad).argmax(-1)


def roberta_position_ids(ids: torch.Tensor, padding_idx: int = 1) -> torch.Tensor:
    # transformers' create_position_ids_from_input_ids
    mask = ids.ne(padding_idx).int()
    return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + padding_idx


def _built(text: str):  # type: ignore[no-untyped-def]
    from specc.backends.torch_build import build_module

    return build_module(specc.loads(text, "m.yaml")).eval()


def test_last_non_padding_token_is_hfs() -> None:
    model = _built("specc: 1\ninputs:\n  ids: {shape: [B, T], dtype: int64}\nlayers:\n"
                   "  - {type: Compare, op: ne, value: 0}\n  - {type: CumSum, dim: 1}\n  - {type: ArgMax, dim: 1}\n")
    ids = torch.randint(1, 50, (5, 9))
    ids[0, 4:] = 0  # right padding
    ids[1, :3] = 0  # left padding
    ids[2, 8] = 0
    ids[3, 2:5] = 0  # padding id inside the text
    assert torch.equal(model(ids), hf_last_token(ids, 0))


def test_roberta_position_ids_are_hfs() -> None:
    # the layers of roberta_base.yaml that number the positions, read out
    model = _built("specc: 1\ninputs:\n  ids: {shape: [B, T], dtype: int64}\nlayers:\n"
                   "  - {type: Compare, op: ne, value: 1, name: real}\n  - {type: CumSum, dim: 1, name: counted}\n"
                   "  - {type: Mul, from: [counted, real]}\n  - {type: Add, value: 1}\n")
    ids = torch.randint(2, 50, (3, 10))
    ids[0, 6:] = 1
    ids[1, :2] = 1
    ids[2, 4] = 1
    got = model(ids)
    assert got.dtype == torch.int64 and torch.equal(got, roberta_position_ids(ids))


@pytest.mark.parametrize(("layers", "code", "says"), [
    ("  - {type: Add, from: ids, value: 300}\n", None, ""),
    ("  - {type: Compare, from: ids, op: ne, value: 0, name: m}\n  - {type: Sub, value: 1}\n", "S007", "bool"),
    ("  - {type: Add, from: [x, x], value: 1}\n", "V105", "both a value"),
    ("  - {type: Div, from: x, value: 0}\n", "V105", "divides by value 0"),
    ("  - {type: Add, from: x}\n", "G003", "2 inputs"),
    ("  - {type: Embedding, from: ids, num_embeddings: 50, embedding_dim: 8, name: e}\n"
     "  - {type: Add, from: [e, ids]}\n", "S007", "works on floats"),
    ("  - {type: Max, from: x, value: 0}\n", "V001", "value"),
])
def test_a_constant_operand_and_what_it_refuses(layers: str, code: str | None, says: str) -> None:
    errors = _errors(layers)
    if code is None:
        assert not errors
        return
    assert errors and errors[0][0] == code and says in errors[0][1], errors


@pytest.mark.parametrize("opset", [9, 18])
@pytest.mark.parametrize("op", ["eq", "ne"])
def test_float_equality_keeps_nan_unequal_at_every_opset(op: str, opset: int, tmp_path: Path) -> None:
    # ONNX's Equal takes floats from opset 11: before it the direct target writes neither a < b nor a > b
    # nor a NaN, which must agree with PyTorch on NaN (equal to nothing, itself included)
    ort = pytest.importorskip("onnxruntime")
    from specc.backends.direct_export import export_direct

    spec = specc.loads("specc: 1\ninputs:\n  a: [B, 4]\n  b: [B, 4]\nlayers:\n"
                       f"  - {{type: Compare, op: {op}, from: [a, b]}}\nexport: {{opset: {opset}}}\n", "eq.yaml")
    assert spec.ok
    export_direct(spec, tmp_path / "m.onnx")
    nan = float("nan")
    a = torch.tensor([[1.0, nan, nan, 2.0], [0.0, -0.0, 3.0, nan]])
    b = torch.tensor([[1.0, nan, 1.0, 3.0], [-0.0, 0.0, 3.0, 0.0]])
    want = a == b if op == "eq" else a != b
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"a": a.numpy(), "b": b.numpy()})[0]
    assert got.tolist() == want.tolist()
