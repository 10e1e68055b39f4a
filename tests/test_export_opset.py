"""The TorchScript exporter at an old opset (``export: {exporter: torchscript, opset: 9 to 13}``, for an old
runtime) stops with UnsupportedOperatorError on ops ONNX gained later: attention (aten::unflatten and
scaled_dot_product_attention, opset 14), Unflatten (13), CELU (12), Max/Min over integers (12), and at
opsets 9 and 10 Resize and Pads of a value (11), at opset 9 stepped and dynamic Slices and pools with
ceil_mode or dilation (10). check refused none of them: a traceback after ok. Now U002 names the
opset that works; ``auto`` still exports them (the direct target or dynamo). A case each is exported
at the opset the hint names, so the limit is no broader than the exporter's."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

CASES = {
    "attention": ("inputs: {x: [B, 16, 32]}\nlayers:\n  - {type: TransformerEncoderLayer, nhead: 4, "
                  "dim_feedforward: 64}\n  - {type: Reduce, op: mean, dim: 1}\n", 14),
    "unflatten": "inputs: {x: [B, 12]}\nlayers:\n  - {type: Unflatten, dim: 1, unflattened_size: [3, 4]}\n",
    "celu": "inputs: {x: [B, 12]}\nlayers:\n  - {type: CELU}\n",
    "int_min": ("inputs:\n  a: {shape: [B, 4], dtype: int32}\n  b: {shape: [B, 4], dtype: int32}\nlayers:\n"
                "  - {type: Min, from: [a, b]}\n"),
    "upsample": "inputs: {x: [B, 2, 8, 8]}\nlayers:\n  - {type: Upsample, scale_factor: 2}\n",
    "stepped_slice": "inputs: {x: [B, 8, 2]}\nlayers:\n  - {type: Slice, dim: 1, start: 1, step: 2}\n",
    "ceil_pool": ("inputs: {x: [B, 2, 9, 9]}\nlayers:\n"
                  "  - {type: MaxPool2d, kernel_size: 3, stride: 2, ceil_mode: true}\n"),
    "cumsum": "inputs: {ids: {shape: [B, 8], dtype: int64}}\nlayers:\n  - {type: CumSum, dim: 1}\n",
    "float_equal": "inputs: {x: [B, 8]}\nlayers:\n  - {type: Compare, op: eq, value: 0.5}\n",
}
NEEDS = {"attention": 14, "unflatten": 13, "celu": 12, "int_min": 12, "upsample": 11, "stepped_slice": 10,
         "ceil_pool": 10, "cumsum": 11, "float_equal": 11}


def _spec(name: str, opset: int, exporter: str = "torchscript") -> specc.Spec:
    body = CASES[name][0] if isinstance(CASES[name], tuple) else CASES[name]
    return specc.loads(f"specc: 1\n{body}export: {{opset: {opset}, exporter: {exporter}}}\n", f"{name}.yaml")


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_refused_below_the_opset_the_exporter_needs(name: str) -> None:
    need = NEEDS[name]
    spec = _spec(name, need - 1)
    (err,) = spec.errors
    assert err.code == "U002" and "the torchscript exporter" in err.message
    assert f"set export: {{opset: {need}}} or later" in err.hint
    assert _spec(name, 9, "auto").ok  # auto exports it by the direct target or dynamo


@pytest.mark.parametrize("name", ["attention", "unflatten", "celu", "int_min", "stepped_slice", "ceil_pool"])
def test_exported_at_the_opset_the_hint_names(name: str, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from specc.backends.onnx_export import export_spec

    spec = _spec(name, NEEDS[name])
    assert spec.ok, [str(e) for e in spec.errors]
    assert export_spec(spec, tmp_path / "m.onnx").exporter == "torchscript"
