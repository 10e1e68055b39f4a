"""RNN, LSTM and GRU over padded batches: ``from: [x, lengths]`` reads each sample's real steps
only (PyTorch's packed sequences, ONNX's sequence_lens).

The oracle is what padding must not change: a sample in a batch padded to the longest gives
what it gives alone, cut to its own length, through the same module. The direct ONNX model is
held to the PyTorch target at lengths drawn from 0 to T by the export's own verification."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import run_cli

import specc

torch = pytest.importorskip("torch")

LENGTHS = [5, 3, 1, 4, 2]


def _spec(kind: str, output: str, bidirectional: bool, layers: int = 2, batch_first: bool = True,
          states: bool = False) -> str:
    x = "[B, T, 6]" if batch_first else "[T, B, 6]"
    state_inputs = ""
    from_ = "[x, lengths]"
    if states:
        d = 2 if bidirectional else 1
        state_inputs = f"  h0: [{layers * d}, B, 7]\n" + (f"  c0: [{layers * d}, B, 7]\n" if kind == "LSTM" else "")
        from_ = "[x, lengths, h0, c0]" if kind == "LSTM" else "[x, lengths, h0]"
    return (f"specc: 1\ninputs:\n  x: {x}\n  lengths: {{shape: [B], dtype: int64}}\n{state_inputs}layers:\n"
            f"  - {{name: rnn, type: {kind}, from: {from_}, hidden_size: 7, num_layers: {layers}, "
            f"bidirectional: {str(bidirectional).lower()}, batch_first: {str(batch_first).lower()}, "
            f"output: {output}}}\n")


def _outputs(y: object) -> list[torch.Tensor]:
    return list(y) if isinstance(y, (tuple, list)) else [y]


@pytest.mark.parametrize(("kind", "output", "bidirectional"), [
    ("LSTM", "last", True), ("LSTM", "sequence", True), ("LSTM", "final_hidden", False),
    ("GRU", "last", False), ("GRU", "sequence_and_state", True), ("RNN", "state", True),
    ("LSTM", "sequence_and_state", False),
])
def test_a_sample_in_a_padded_batch_gives_what_it_gives_alone(kind: str, output: str, bidirectional: bool) -> None:
    spec = specc.loads(_spec(kind, output, bidirectional), "rnn.yaml")
    assert spec.ok, spec.diagnostics
    module = specc.build(spec).eval()
    torch.manual_seed(0)
    x = torch.randn(len(LENGTHS), max(LENGTHS), 6)
    lengths = torch.tensor(LENGTHS)
    with torch.no_grad():
        batch = _outputs(module(x, lengths))
        for i, n in enumerate(LENGTHS):
            alone = _outputs(module(x[i:i + 1, :n], torch.tensor([n])))
            for got, want in zip(batch, alone):
                if got.dim() == 3 and got.shape[0] == len(LENGTHS) and got.shape[1] == max(LENGTHS):
                    # a sequence: the real steps as alone, 0 past the sample's length
                    torch.testing.assert_close(got[i, :n], want[0])
                    assert torch.all(got[i, n:] == 0)
                elif got.dim() == 3:  # a state (layers·D, B, H)
                    torch.testing.assert_close(got[:, i], want[:, 0])
                else:
                    torch.testing.assert_close(got[i], want[0])
    # and it differs from reading the padding: the first layer's real state is not the padded one's
    plain = specc.build(specc.loads(_spec(kind, output, bidirectional).replace("from: [x, lengths], ", "from: x, "),
                                    "plain.yaml"))
    plain.load_state_dict(module.state_dict())
    with torch.no_grad():
        assert not torch.allclose(_outputs(plain.eval()(x, lengths))[0], batch[0])


def test_sequence_first_and_initial_states() -> None:
    spec = specc.loads(_spec("LSTM", "last", True, batch_first=False, states=True), "tb.yaml")
    assert spec.ok, spec.diagnostics
    module = specc.build(spec).eval()
    torch.manual_seed(1)
    x, h0, c0 = torch.randn(max(LENGTHS), len(LENGTHS), 6), torch.randn(4, len(LENGTHS), 7), torch.randn(4, 5, 7)
    with torch.no_grad():
        batch = module(x, torch.tensor(LENGTHS), h0, c0)
        for i, n in enumerate(LENGTHS):
            alone = module(x[:n, i:i + 1], torch.tensor([n]), h0[:, i:i + 1], c0[:, i:i + 1])
            torch.testing.assert_close(batch[i], alone[0])


def test_a_length_of_zero_reads_one_step() -> None:
    module = specc.build(specc.loads(_spec("GRU", "last", False), "z.yaml")).eval()
    x = torch.randn(2, 4, 6)
    with torch.no_grad():
        torch.testing.assert_close(module(x, torch.tensor([0, 2]))[0], module(x, torch.tensor([1, 2]))[0])


@pytest.mark.parametrize(("layers", "code", "says"), [
    ("  - {type: LSTM, from: [x, mask], hidden_size: 4}\n", "S007", "not a padding mask"),
    ("  - {type: LSTM, from: [x, wrong], hidden_size: 4}\n", "S001", "one length per sample"),
    ("  - {type: LSTM, from: [x, lengths], hidden_size: 4, proj_size: 2}\n", "V003", "proj_size"),
    ("  - {type: GRU, from: [x, lengths, h0, h0], hidden_size: 4}\n", "G003", "inputs"),
    ("  - {type: LSTM, from: [x, lengths, h0], hidden_size: 4}\n", "G003", "from: [x, lengths]"),
])
def test_check_refuses_lengths_it_cannot_read(layers: str, code: str, says: str) -> None:
    head = ("specc: 1\ninputs:\n  x: [B, T, 6]\n  lengths: {shape: [B], dtype: int64}\n  mask: {shape: [B, T], "
            "dtype: bool}\n  wrong: {shape: [B, T], dtype: int64}\n  h0: [1, B, 4]\nlayers:\n")
    spec = specc.loads(head + layers, "bad.yaml")
    errors = [d for d in spec.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == [code], errors
    assert says in errors[0].message + (errors[0].hint or "")


KERAS_MASK_ZERO = """\
specc: 1
inputs:
  tokens: {shape: [B, T], dtype: int64}
layers:
  - {name: emb, type: Embedding, num_embeddings: 30, embedding_dim: 8, padding_idx: 0}
  - {name: real, type: Compare, from: tokens, op: ne, value: 0}
  - {type: Cast, dtype: int64}
  - {name: lengths, type: Reduce, op: sum, dim: 1}
  - {name: rnn, type: LSTM, from: [emb, lengths], hidden_size: 8, bidirectional: true, output: last}
  - {type: Linear, out_features: 2}
"""


def test_keras_mask_zero_written_as_lengths_ignores_the_padding(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    spec = specc.loads(KERAS_MASK_ZERO, "mask_zero.yaml")
    assert spec.ok and not [d for d in spec.diagnostics if d.severity == "warning"], spec.diagnostics
    module = specc.build(spec).eval()
    tokens = torch.tensor([[5, 7, 9, 0, 0, 0], [3, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        padded = module(tokens)
        torch.testing.assert_close(padded[0], module(tokens[:1, :3])[0])
        torch.testing.assert_close(padded[1], module(tokens[1:, :1])[0])
    # the direct ONNX model equals the PyTorch target, verified at three sizes by export itself
    path = tmp_path / "mask_zero.yaml"
    path.write_text(KERAS_MASK_ZERO, encoding="utf-8")
    code, out, err = run_cli(capsys, "export", str(path), "-o", str(tmp_path / "m.onnx"), "--via", "direct")
    assert code == 0 and "ONNX Runtime = PyTorch" in out, out + err


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_direct_onnx_equals_pytorch_at_lengths_from_zero_to_t(kind: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    np = pytest.importorskip("numpy")
    ort = pytest.importorskip("onnxruntime")
    from safetensors.torch import save_file

    text = _spec(kind, "sequence_and_state", True)
    path = tmp_path / "rnn.yaml"
    path.write_text(text, encoding="utf-8")
    module = specc.build(specc.loads(text, "rnn.yaml")).eval()
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, tmp_path / "w.safetensors")
    code, out, err = run_cli(capsys, "export", str(path), "-o", str(tmp_path / "rnn.onnx"), "--via", "direct",
                             "--weights", str(tmp_path / "w.safetensors"))
    assert code == 0 and "ONNX Runtime = PyTorch" in out, out + err
    # at lengths chosen here (0 read as 1, T, and between), the zeros past each length included
    session = ort.InferenceSession(str(tmp_path / "rnn.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((5, 6, 6)).astype(np.float32)
    lengths = np.array([6, 1, 3, 0, 5])
    got = session.run(None, {"x": x, "lengths": lengths})
    with torch.no_grad():
        want = module(torch.from_numpy(x), torch.from_numpy(lengths))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-4, atol=1e-5)
