"""The direct ONNX target's recurrent layers, ConvLSTM2d and TimeDistributed beyond the layer cases:
LSTM projections, weights shared through use:, the ops whose form changed between opsets, the
wrapped kind of a TimeDistributed counted among the kinds a model needs, weights from a PyTorch
checkpoint, and random recurrent layers (4 in CI; ``SPECC_DIRECT_RNN_EXAMPLES=200`` locally).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

import specc

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

import onnx

from specc.backends.direct_export import export_direct
from specc.targets.onnx.lower import kinds_used


def _spec(inputs: str, *layers: str, opset: int | None = None, outputs: str | None = None) -> specc.Spec:
    text = "specc: 1\ninputs:\n" + "".join(f"  {line.strip()}\n" for line in inputs.split(";")) + "layers:\n"
    text += "".join(f"  - {layer}\n" for layer in layers)
    if outputs is not None:
        text += f"outputs: {outputs}\n"
    if opset is not None:
        text += f"export: {{opset: {opset}}}\n"
    spec = specc.loads(text, "case.yaml")
    assert spec.ok, [d.message for d in spec.errors]
    return spec


def _random_recurrent(seed: int) -> tuple[str, str]:
    """A random RNN, LSTM or GRU with its inputs: every switch the lowering branches on."""
    rng = random.Random(seed)
    kind = rng.choice(["RNN", "LSTM", "GRU"])
    h, features, layers = rng.choice([1, 3, 5]), rng.choice([1, 2, 4]), rng.choice([1, 2, 3])
    bidirectional, batch_first = rng.random() < 0.5, rng.random() < 0.6
    proj = rng.choice([0, 0, 1, 2]) if kind == "LSTM" and h > 2 else 0
    d = 2 if bidirectional else 1
    layer = (f"{{type: {kind}, hidden_size: {h}, num_layers: {layers}, bidirectional: {str(bidirectional).lower()}, "
             f"batch_first: {str(batch_first).lower()}, output: {rng.choice(['sequence', 'last', 'final_hidden'])}, "
             f"bias: {str(rng.random() < 0.7).lower()}")
    layer += f", proj_size: {proj}" if proj else ""
    layer += f", nonlinearity: {rng.choice(['tanh', 'relu'])}" if kind == "RNN" else ""
    inputs = f"x: [{'B, T' if batch_first else 'T, B'}, {features}]"
    if rng.random() < 0.4:
        states = ["h0", "c0"] if kind == "LSTM" else ["h0"]
        layer += f", from: [x, {', '.join(states)}]"
        inputs += "".join(f"; {s}: [{layers * d}, B, {h if s == 'c0' else proj or h}]" for s in states)
    return inputs, layer + "}"


def _export(spec: specc.Spec, tmp_path: Path) -> onnx.ModelProto:
    result = export_direct(spec, tmp_path / "m.onnx", compare="torch")
    report = result.verification
    assert report is not None and report.against == "PyTorch" and len(report.runs) == 3
    assert all(r.max_abs_diff for r in report.runs)
    return onnx.load(str(tmp_path / "m.onnx"))


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("layer, inputs", [
    ("{type: LSTM, hidden_size: 6, proj_size: 3, num_layers: 2, bidirectional: true, batch_first: false}",
     "inp: [T, B, 4]"),
    ("{type: LSTM, hidden_size: 5, proj_size: 2, bidirectional: true, output: final_hidden, from: [inp, h0, c0]}",
     "inp: [B, T, 3]; h0: [2, B, 2]; c0: [2, B, 5]"),
    ("{type: LSTM, hidden_size: 4, proj_size: 3, bias: false, output: last}", "inp: [B, T, 2]"),
])
def test_lstm_projection_written_direct_equals_pytorch(layer: str, inputs: str, tmp_path: Path) -> None:
    # torch's ONNX exporters cannot write proj_size; check passes it for the direct route
    model = _export(_spec(inputs, layer), tmp_path)
    ops = {n.op_type for n in model.graph.node}
    assert "Scan" in ops and "LSTM" not in ops


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("seed", range(int(os.environ.get("SPECC_DIRECT_RNN_EXAMPLES", "4"))))
def test_random_recurrent_layers_written_direct_equal_pytorch(seed: int, tmp_path: Path) -> None:
    inputs, layer = _random_recurrent(seed)
    _export(_spec(inputs, layer), tmp_path)


def test_a_recurrent_layer_used_twice_reads_one_set_of_weights(tmp_path: Path) -> None:
    spec = _spec("a: [B, T, 3]; b: [B, T, 3]", "{type: GRU, hidden_size: 4, bidirectional: true, from: a, name: enc}",
                 "{use: enc, from: b, name: enc_b}", outputs="[enc, enc_b]")
    model = _export(spec, tmp_path)
    assert sorted(i.name for i in model.graph.initializer if i.name.startswith("enc.")) == \
        ["enc.onnx_B_l0", "enc.onnx_R_l0", "enc.onnx_W_l0"]
    assert sum(n.op_type == "GRU" for n in model.graph.node) == 2


@pytest.mark.parametrize("opset", [9, 11, 13, 15])
def test_opsets_before_the_default(opset: int, tmp_path: Path) -> None:
    # Squeeze, Split, Slice, Shape and Gather changed form across these opsets
    spec = _spec("inp: [B, T, 4, 3]",
                 "{type: TimeDistributed, layer: {type: GRU, hidden_size: 3, bidirectional: true}}",
                 "{type: Select, dim: 2, index: -1}", "{type: LSTM, hidden_size: 2, num_layers: 2, output: last}",
                 opset=opset)
    model = _export(spec, tmp_path)
    assert model.opset_import[0].version == opset


def test_convlstm_keeps_time_dynamic_through_scan(tmp_path: Path) -> None:
    spec = _spec("inp: [B, T, 2, 4, 4]", "{type: ConvLSTM2d, hidden_channels: [3, 2], return_sequences: true}")
    model = _export(spec, tmp_path)
    scans = [n for n in model.graph.node if n.op_type == "Scan"]
    assert len(scans) == 2
    dims = model.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["B", "T", 2, 4, 4]


def test_the_wrapped_kind_is_a_kind_the_model_needs() -> None:
    spec = _spec("inp: [B, T, 1, 6, 6]", "{type: TimeDistributed, layer: {type: Conv2d, out_channels: 2, "
                 "kernel_size: 3}}")
    assert spec.graph is not None
    assert kinds_used(spec.graph) == ["TimeDistributed", "Conv2d"]


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_a_pytorch_checkpoint_fills_every_recurrent_tensor(tmp_path: Path) -> None:
    # every tensor of the state dict is read (an unread one fails the export), and packed where ONNX wants it
    from safetensors.torch import save_file

    # fixed lengths: no torch exporter writes a ConvLSTM2d and an LSTM over a symbolic T together
    spec = _spec("seq: [B, 5, 3]; windows: [B, 2, 4, 3]; frames: [B, 3, 2, 4, 4]",
                 "{type: LSTM, hidden_size: 4, num_layers: 2, bidirectional: true, from: seq, name: lstm}",
                 "{type: LSTM, hidden_size: 5, proj_size: 2, bidirectional: true, output: last, name: proj}",
                 "{type: TimeDistributed, layer: {type: GRU, hidden_size: 3, output: last}, from: windows, name: td}",
                 "{type: ConvLSTM2d, hidden_channels: [2, 3], kernel_size: 3, from: frames, name: conv}",
                 outputs="[proj, td, conv]")
    state = {k: v.contiguous() for k, v in specc.build(spec, seed=3).state_dict().items()}
    save_file(state, str(tmp_path / "w.safetensors"))
    result = export_direct(spec, tmp_path / "m.onnx", weights=tmp_path / "w.safetensors", compare="torch")
    assert result.verification is not None and all(r.max_abs_diff for r in result.verification.runs)
