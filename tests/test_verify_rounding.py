"""Export verification judges a difference past the tolerance against the PyTorch module run in
float64: a norm over values that barely vary divides float32's rounding by their tiny σ, so ONNX
Runtime and PyTorch float32 differ past any fixed tolerance on a correct model, while a lowering
that is wrong, even slightly, stays much farther from the float64 result than rounding goes."""

from __future__ import annotations

import numpy as np
import pytest

import specc

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from specc.backends.errors import VerificationFailed
from specc.backends.routes import export
from specc.backends.verify import ROUNDING_FACTOR, beyond_rounding
from specc.targets.onnx.kinds import base

# Three Sigmoids squeeze a 7x7 convolution's outputs into values a few thousandths apart; the
# LayerNorm over them divides float32's rounding (~3e-8 at 0.6) by that spread.  Both routes
# differ from PyTorch by 1.7e-5 against atol 1e-5, each within float32's rounding of the float64 result.
NEARLY_CONSTANT = """\
specc: 1
name: NearlyConstant
inputs:
  x: [B, 3, 16, 16]
layers:
  - {type: Conv2d, out_channels: 8, kernel_size: 7, padding: 3}
  - {type: Sigmoid}
  - {type: Sigmoid}
  - {type: Sigmoid}
  - {type: Flatten}
  - {type: LayerNorm}
"""


def _arbitrated(result: object) -> float:
    """PyTorch float32's largest error over the outputs only the float64 arbiter accepted."""
    runs = result.verification.runs  # type: ignore[attr-defined]
    return max((e for r in runs for e in r.rounding.values()), default=0.0)


def test_a_norm_over_nearly_constant_values_verifies_by_the_float64_arbiter(tmp_path) -> None:
    spec = specc.loads(NEARLY_CONSTANT)
    result = export(spec, tmp_path / "m.onnx", via="direct")
    worst = max(d for r in result.verification.runs for d in r.max_abs_diff.values())
    assert worst > 1e-5  # past float32's fixed tolerance: the spec really trips the strict comparison
    own = _arbitrated(result)
    assert 0 < own < worst  # PyTorch float32 itself is that far from the float64 result
    assert "float32's rounding" in result.verification.text()
    assert result.verification.to_json()["runs"][0]["float32_rounding"] is not None
    export(spec, tmp_path / "t.onnx", via="torch")  # the torch exporters' rounding is judged alike


def test_a_slightly_wrong_lowering_still_fails_where_rounding_is_large(tmp_path, monkeypatch) -> None:
    real = base._REGISTERED["LayerNorm"]

    def off_by_a_little(layer: base.Layer) -> str:  # a bias of 1e-4: a few times float32's error here
        return layer.op("Add", [real(layer), layer.const(1e-4, layer.float_dtype)])

    monkeypatch.setitem(base._REGISTERED, "LayerNorm", off_by_a_little)
    with pytest.raises(VerificationFailed, match="farther from the float64 result"):
        export(specc.loads(NEARLY_CONSTANT), tmp_path / "m.onnx", via="direct")


def test_beyond_rounding_is_the_strict_verdict_without_a_float64_result() -> None:
    ref = np.array([1.0, 2.0, 3.0], np.float32)
    got = ref + np.float32(1e-3)
    bad, own = beyond_rounding(got, ref, None, 1e-4, 1e-5)
    assert bad.all() and own == 0.0


def test_beyond_rounding_measures_onnx_runtime_by_pytorchs_own_float32_error() -> None:
    exact = np.array([0.0, 1.0, 2.0, 3.0])
    ref = (exact + np.array([0.0, 0.0, 2e-4, 0.0])).astype(np.float32)  # PyTorch float32 off by 2e-4 at one value
    near = (exact + np.array([0.0, 3e-4, 0.0, 0.0])).astype(np.float32)  # off by less than ROUNDING_FACTOR times that
    bad, own = beyond_rounding(near, ref, exact, 0.0, 1e-5)
    assert not bad.any() and own == pytest.approx(2e-4, rel=1e-3)
    far = (exact + np.array([0.0, 0.0, 0.0, (ROUNDING_FACTOR + 1) * 2e-4])).astype(np.float32)
    bad, _ = beyond_rounding(far, ref, exact, 0.0, 1e-5)
    assert bad.tolist() == [False, False, False, True]


def test_without_its_float64_run_the_strict_verdict_says_why(tmp_path, monkeypatch) -> None:
    # The fuzz found it under a memory limit: the float64 twin raised MemoryError, the verdict fell
    # back to the strict comparison and the message read like a wrong graph.
    import torch

    def no_memory(self: torch.nn.Module) -> torch.nn.Module:
        raise MemoryError("cannot allocate the float64 copy")

    monkeypatch.setattr(torch.nn.Module, "double", no_memory)
    with pytest.raises(VerificationFailed, match=r"could not run \(MemoryError: cannot allocate the float64 copy\)"
                                                 r", so this is the strict comparison"):
        export(specc.loads(NEARLY_CONSTANT), tmp_path / "m.onnx", via="direct")
