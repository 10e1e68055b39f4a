"""Issue 8, the later-stage half: what `check` accepts, every later stage handles.

Each case once passed `check` and broke a later stage; each test shows a located error or a
correct result (never exit 3, never a traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import specc

ROOT = Path(__file__).resolve().parents[1]


def _errors(text: str) -> list[tuple[str, int, str]]:
    spec = specc.loads(text, "s.yaml")
    return [(d.code, d.loc.line if d.loc else 0, d.message) for d in spec.diagnostics if d.severity == "error"]


def _spec(inputs: str, *layers: str, extra: str = "") -> str:
    body = "\n".join(f"  - {x}" for x in layers)
    return f"specc: 1\nname: T\ninputs:\n  {inputs}\nlayers:\n{body}\n{extra}"


# -- preconditions PyTorch enforces only when building, running or training ----------------------------

@pytest.mark.parametrize(("layer", "code", "word"), [
    ("{type: Hardtanh, min_val: 1.0, max_val: 0.0}", "V003", "max_val"),
    ("{type: Hardtanh, min_val: 0.5, max_val: 0.5}", "V003", "max_val"),
    ("{type: CELU, alpha: 0.0}", "V003", "alpha"),
    ("{type: LeakyReLU, negative_slope: -0.5, inplace: true}", "V003", "inplace"),
    ("{type: ELU, alpha: -1.0, inplace: true}", "V003", "inplace"),
    ("{type: LeakyReLU, negative_slope: .nan}", "V003", "negative_slope"),
    ("{type: Hardtanh, max_val: .inf}", "V003", "max_val"),
])
def test_activation_arguments_torch_refuses_are_refused_at_check(layer: str, code: str, word: str) -> None:
    errs = _errors(_spec("x: [B, 4]", layer))
    assert errs and errs[0][0] == code and errs[0][1] == 6, errs
    assert word in errs[0][2] or code == "V003", errs


def test_instance_norm_over_one_spatial_element_is_an_error() -> None:
    errs = _errors(_spec("x: [B, 3, 1, 1]", "{type: InstanceNorm2d}"))
    assert errs == [("S002", 6, errs[0][2])] and "one element" in errs[0][2]


def test_select_beyond_a_batch_that_may_be_small_is_refused() -> None:
    errs = _errors(_spec("x: [B, 4]", "{type: Select, dim: 0, index: 2}"))
    assert [e[:2] for e in errs] == [("U001", 6)] and "B >= 3" in errs[0][2]
    # index 0 and -1 exist in every batch
    assert _errors(_spec("x: [B, 4]", "{type: Select, dim: 0, index: -1}")) == []


def test_batch_requirements_hold_in_specs_with_a_batch_second_layer() -> None:
    # (T, B, F): the batch is dim 1 of the LSTM's input, found once the graph is built
    lstm = "{type: LSTM, hidden_size: 4, batch_first: false, output: sequence}"
    errs = _errors(_spec("x: [T, B, 8]", lstm, "{type: Select, dim: 1, index: 2}"))
    assert [e[:2] for e in errs] == [("U001", 7)] and "B >= 3" in errs[0][2] and "batch size" in errs[0][2], errs
    # the same requirement on the time dim binds T from below, as in a batch-first spec
    spec = specc.loads(_spec("x: [T, B, 8]", lstm, "{type: Select, dim: 0, index: 2}"))
    assert spec.ok, spec.diagnostics
    assert [(str(r.size), r.at_least) for n in spec.graph.leaves() if n.result for r in n.result.requires] == [("T", 3)]
    # inside a block
    block = "blocks:\n  take_step:\n    layers:\n      - {type: Select, dim: 1, index: 3}\n"
    errs = _errors(_spec("x: [T, B, 8]", lstm, "{type: take_step}", extra=block))
    assert [e[:2] for e in errs] == [("U001", 11)] and "B >= 4" in errs[0][2], errs


def test_requirements_on_other_symbols_are_recorded() -> None:
    spec = specc.loads(_spec("x: [B, 3, T]", "{type: Conv1d, out_channels: 4, kernel_size: 3, padding: 20, "
                                              "padding_mode: reflect}"))
    assert spec.ok
    need = [r for n in spec.graph.leaves() for r in n.result.requires]
    assert [(str(r.size), r.at_least) for r in need] == [("T", 21)]


def test_loss_weight_must_have_one_value_per_class() -> None:
    errs = _errors(_spec("x: [B, 4]", "{type: Linear, out_features: 3}",
                         extra="loss: {type: CrossEntropyLoss, weight: [1.0, 2.0]}\n"))
    assert [e[:2] for e in errs] == [("T052", 7)] and "2 entries" in errs[0][2]
    errs = _errors(_spec("x: [B, 4]", "{type: Linear, out_features: 3}",
                         extra="loss: {type: BCEWithLogitsLoss, pos_weight: [1.0, 2.0]}\n"))
    assert [e[:2] for e in errs] == [("T052", 7)]
    ok = _spec("x: [B, 4]", "{type: Linear, out_features: 3}",
               extra="loss: {type: CrossEntropyLoss, weight: [1.0, 2.0, 3.0]}\n")
    assert _errors(ok) == []


# -- MACs per sample never count the batch --------------------------------------------------------------

@pytest.mark.parametrize("layer", ["{type: Linear, out_features: 4}", "{type: LayerNorm}", "{type: GELU}",
                                   "{type: Dropout, p: 0.1}"])
def test_macs_after_a_batch_second_lstm_do_not_contain_the_batch(layer: str) -> None:
    spec = specc.loads(_spec("x: [B, T, 8]", "{type: Transpose, dim0: 0, dim1: 1}",
                             "{type: LSTM, hidden_size: 16, batch_first: false}", layer))
    assert spec.ok, spec.diagnostics
    for n in spec.graph.leaves():
        macs = n.result.macs
        assert isinstance(macs, int) or "B" not in macs.symbols(), (n.path, macs)
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from specc.backends.torch_build import build_module
    from specc.shapes.dims import evaluate

    last = spec.graph.nodes[-1]
    if last.type != "Linear":
        return
    module = build_module(spec).eval()
    x = torch.randn(3, 5, 8)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(x)
    linear_flops = sum(v for k, v in counter.get_flop_counts()["Global"].items() if "mm" in str(k))
    # FLOPs of the final Linear per sample at T=5: 2·MACs, over 3 samples
    assert 2 * 3 * evaluate(last.result.macs, {"T": 5}) == linear_flops


# -- export ---------------------------------------------------------------------------------------------

def test_unnamed_attention_head_exports_under_the_spec_names(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from specc.backends.onnx_export import export_spec

    spec = specc.loads(_spec("x: [B, T, 16]", "{type: MultiheadAttention, num_heads: 2}",
                             "{type: Linear, out_features: 4}"))
    result = export_spec(spec, tmp_path / "m.onnx", exporter="dynamo")
    import onnx

    model = onnx.load(str(result.path))
    assert [o.name for o in model.graph.output] == ["linear_1"]
    assert [i.name for i in model.graph.input] == ["x"]
    assert result.verification is not None and result.verification.runs


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "specc", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_export_json_stdout_is_only_json_when_the_first_exporter_fails(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    (tmp_path / "a.yaml").write_text(_spec("x: [B, 3, 7, 7]", "{type: AdaptiveAvgPool2d, output_size: 6}"))
    proc = _cli("export", "a.yaml", "-o", "a.onnx", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True


def test_reflection_padding_over_a_symbol_exports_at_sizes_that_meet_it(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from specc.backends.onnx_export import export_spec

    spec = specc.loads(_spec("x: [B, 3, T]", "{type: Conv1d, out_channels: 4, kernel_size: 3, padding: 20, "
                                              "padding_mode: reflect}"))
    result = export_spec(spec, tmp_path / "r.onnx", exporter="torchscript")
    assert result.sizes["T"] >= 21
    assert all(run.env["T"] >= 21 for run in result.verification.runs)
    assert any("T >= 21" in need for need in result.requirements)


# What no torch exporter writes: refused at check under a pinned exporter; under auto the direct
# target writes it (tests/test_export_route.py exports these and compares them with PyTorch).
TORCHSCRIPT = "export: {exporter: torchscript}\n"


def test_lstm_projection_is_refused_at_check_with_the_reason() -> None:
    layer = "{type: LSTM, hidden_size: 16, proj_size: 4}"
    assert _errors(_spec("x: [B, T, 8]", layer)) == []
    errs = _errors(_spec("x: [B, T, 8]", layer, extra=TORCHSCRIPT))
    assert [e[:2] for e in errs] == [("U002", 6)] and "proj_size" in errs[0][2]
    spec = specc.loads(_spec("x: [B, T, 8]", layer, extra=TORCHSCRIPT))
    assert spec.errors[0].loc.col == 46 and "Linear" in (spec.errors[0].hint or "")  # at proj_size's value


def test_avg_pool_divisor_override_is_refused_at_check() -> None:
    layer = "{type: AvgPool2d, kernel_size: 2, divisor_override: 3}"
    assert _errors(_spec("x: [B, 3, 8, 8]", layer)) == []
    errs = _errors(_spec("x: [B, 3, 8, 8]", layer, extra=TORCHSCRIPT))
    assert [e[:2] for e in errs] == [("U002", 6)] and "divisor_override" in errs[0][2]


@pytest.mark.parametrize(("inputs", "layer", "sizes"), [
    # an upper bound: the table of positions has max_len rows
    ("x: [B, T, 8]", "{type: PositionalEncoding, kind: learned, max_len: 10}", lambda env: env["T"] <= 10),
    # ONNX's Transpose takes no negative dims
    ("x: [B, 3, 4, 5]", "{type: Permute, dims: [0, -1, 1, 2]}", lambda env: True),
    # windows that depend on a symbolic size, and an uneven max pool
    ("x: [B, 2, L]", "{type: AdaptiveMaxPool1d, output_size: 5}", lambda env: True),
    ("x: [B, 2, H, W]", "{type: AdaptiveAvgPool2d, output_size: [3, null]}", lambda env: True),
    ("x: [B, 2, 7, 7, 7]", "{type: AdaptiveAvgPool3d, output_size: 2}", lambda env: True),
])
def test_layers_export_at_every_size_they_accept(inputs: str, layer: str, sizes: object, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from specc.backends.onnx_export import export_spec

    spec = specc.loads(_spec(inputs, layer))
    assert spec.ok, spec.diagnostics
    result = export_spec(spec, tmp_path / "m.onnx", exporter="torchscript")
    assert result.verification is not None
    assert all(sizes(run.env) for run in result.verification.runs)  # type: ignore[operator]


def test_ceil_mode_with_padding_where_onnx_keeps_a_window_is_refused_at_check() -> None:
    # Found by the every-stage property test: PyTorch gives 2 positions, the exported model 3.
    dropped = "{type: MaxPool1d, kernel_size: 2, padding: 1, ceil_mode: true}"
    assert _errors(_spec("x: [B, 1, 3]", dropped)) == []  # the direct target drops it as PyTorch does
    errs = _errors(_spec("x: [B, 1, 3]", dropped, extra=TORCHSCRIPT))
    assert [e[:2] for e in errs] == [("U002", 6)] and "ceil_mode" in errs[0][2]
    # a window wider than padding + stride - 1 always reaches the input: allowed, and it exports
    wide = "{type: MaxPool1d, kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}"
    assert _errors(_spec("x: [B, 2, T]", wide)) == []
    assert _errors(_spec("x: [B, 2, T]", "{type: AvgPool1d, kernel_size: 2, ceil_mode: true}")) == []
    # the property test's second case: no padding, a window narrower than the stride (2 vs 1 rows at H=3)
    errs = _errors(_spec("x: [B, 1, 3, L]", "{type: MaxPool2d, kernel_size: 1, stride: 3, ceil_mode: true}",
                         extra=TORCHSCRIPT))
    assert [e[:2] for e in errs] == [("U002", 6)]
