"""The eps of every norm in half precision: a zero or constant input (variance 0, norm 0) through
a model that computes in float16, and through the fp16 variant of a float32 model, gives finite
values equal to float32's within half precision's tolerance; where PyTorch itself divides by an
eps float16 rounds to 0, check says so (L036)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import specc

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from specc.backends import variants  # noqa: E402
from specc.backends.ort import create_session  # noqa: E402
from specc.backends.routes import export  # noqa: E402
from specc.backends.variants import (  # noqa: E402
    FP16_VARIANT_TOLERANCES,
    HalfProbe,
    VariantFailed,
    make_variant,
)


def _spec(shape: str, layer: str, dtype: str = "float32", opset: int = 18) -> specc.Spec:
    return specc.loads(f"specc: 1\nname: Eps\ninputs:\n  x: {{shape: {shape}, dtype: {dtype}}}\n"
                       f"export: {{opset: {opset}}}\nlayers:\n  - {layer}\n")


def _flat_inputs(shape: tuple[int, ...], dtype: type) -> list[np.ndarray]:
    """Inputs whose statistics are degenerate: all zeros, and one constant."""
    return [np.zeros(shape, dtype), np.full(shape, 3.0, dtype)]


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    rtol, atol = FP16_VARIANT_TOLERANCES
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    return bool(np.all(np.abs(got.astype(np.float64) - want) <= atol * scale + rtol * np.abs(want)))


# The norms that compute in float16 data without weights of their own (with weights, float16 data is S018).
# BatchNorm without running statistics and LayerNorm before opset 17 are written as means by the
# direct target: with eps 1e-9 (0 in float16) they gave 0 / 0 on a constant input there alone.
HALF_NORMS = [
    ("[B, 8, 4, 4]", "{type: BatchNorm2d, affine: false, track_running_stats: false, eps: 1e-9}", 18),
    ("[B, 8, 4, 4]", "{type: LayerNorm, normalized_shape: [4, 4], elementwise_affine: false, eps: 1e-9}", 16),
    ("[B, 8, 4, 4]", "{type: LayerNorm, normalized_shape: [4, 4], elementwise_affine: false, eps: 1e-9}", 18),
    ("[B, 8, 4, 4]", "{type: GroupNorm, num_groups: 2, affine: false, eps: 1e-9}", 18),
    ("[B, 8, 4, 4]", "{type: InstanceNorm2d, eps: 1e-9}", 18),
    ("[B, 8]", "{type: RMSNorm, elementwise_affine: false}", 18),
    ("[B, 8]", "{type: Normalize, eps: 0.0001}", 18),
]


@pytest.mark.parametrize(("shape", "layer", "opset"), HALF_NORMS)
def test_a_norm_computing_in_float16_is_finite_on_flat_inputs(shape: str, layer: str, opset: int,
                                                               tmp_path: Path) -> None:
    spec = _spec(shape, layer, "float16", opset)
    assert spec.ok and not spec.diagnostics
    module = specc.build(spec).eval()
    export(spec, tmp_path / "m.onnx", via="direct")
    sess = create_session(tmp_path / "m.onnx", "cpu")
    dims = (2, *(int(d) for d in shape.strip("[]").split(", ")[1:]))
    for x in _flat_inputs(dims, np.float16):
        got = sess.run(None, {"x": x})[0]
        with torch.no_grad():
            want = module(torch.from_numpy(x)).float().numpy()
        assert np.isfinite(got).all() and np.isfinite(want).all()
        assert _close(got, want)


# Every eps-carrying kind in a float32 model, made half precision by --precision fp16.
FP16_KINDS = [
    ("[B, 8]", "{type: Normalize}"),
    ("[B, 8, 4, 4]", "{type: Normalize, dim: 1}"),
    ("[B, 8]", "{type: LayerNorm, eps: 1e-9}"),
    ("[B, 8]", "{type: RMSNorm, eps: 1e-9}"),
    ("[B, 8, 4, 4]", "{type: GroupNorm, num_groups: 2, eps: 1e-9}"),
    ("[B, 8, 4, 4]", "{type: InstanceNorm2d, affine: true, eps: 1e-9}"),
    ("[B, 8, 4, 4]", "{type: BatchNorm2d, eps: 1e-9}"),
    ("[B, 8, 4, 4]", "{type: BatchNorm2d, track_running_stats: false, eps: 1e-9}"),
    ("[B, 8]", "{type: Linear, out_features: 4, weight_norm: true}"),
    ("[B, 8]", "{type: Linear, out_features: 4, spectral_norm: {eps: 1e-12}}"),
]


@pytest.mark.parametrize(("shape", "layer"), FP16_KINDS)
def test_the_fp16_variant_of_an_eps_kind_is_finite_on_flat_inputs(shape: str, layer: str, tmp_path: Path) -> None:
    spec = _spec(shape, layer)
    assert spec.ok
    export(spec, tmp_path / "m.onnx", via="direct")
    variant = make_variant(tmp_path / "m.onnx", "fp16", runs=1)
    full, half = create_session(tmp_path / "m.onnx", "cpu"), create_session(variant.path, "cpu")
    dims = (2, *(int(d) for d in shape.strip("[]").split(", ")[1:]))
    for x in _flat_inputs(dims, np.float32):
        want, got = full.run(None, {"x": x})[0], half.run(None, {"x": x})[0]
        assert np.isfinite(want).all() and np.isfinite(got).all()
        assert _close(got, want)


def test_the_nan_l036_warns_of_is_real_and_its_hint_removes_it() -> None:
    spec = _spec("[B, 8]", "{type: Normalize}", "float16")
    assert [d.code for d in spec.diagnostics] == ["L036"]
    zero = torch.zeros(2, 8, dtype=torch.float16)
    with torch.no_grad():
        assert torch.isnan(specc.build(spec)(zero)).all()
        fixed = _spec("[B, 8]", "{type: Normalize, eps: 0.0001}", "float16")
        assert not fixed.diagnostics
        assert (specc.build(fixed)(zero) == 0).all()


# Exp(12·x) past 65504 inside a chain of ops ONNX Runtime's CPU runs in float32 (RMSNorm's means):
# the fp16 model's output there stayed finite and verified, a GPU's is NaN.
OVERFLOW = """\
specc: 1
name: ExpIntoRms
inputs:
  x: [B, 16]
layers:
  - {type: Linear, out_features: 16}
  - {type: Exp, scale: 12.0}
  - {type: RMSNorm, elementwise_affine: false}
"""


def test_an_fp16_overflow_the_cpu_hides_is_kept_in_float32(tmp_path: Path) -> None:
    export(specc.loads(OVERFLOW), tmp_path / "m.onnx", via="direct")
    variant = make_variant(tmp_path / "m.onnx", "fp16", runs=1)
    kept = next(n for n in variant.notes if n.startswith("kept in float32"))
    assert "exp_1/Exp" in kept and "rms_norm_1/Mul" in kept and "linear_1" not in kept
    # every float16 value left inside is finite where the float model's is, as a GPU would compute it
    probe = HalfProbe((tmp_path / "m.onnx").resolve(), variant.path)
    probe.check({"x": np.random.default_rng(0).standard_normal((4, 16)).astype(np.float32)}, "B=4")
    assert probe.names  # the Linear still computes in float16
    full, half = create_session(tmp_path / "m.onnx", "cpu"), create_session(variant.path, "cpu")
    x = np.random.default_rng(1).standard_normal((4, 16)).astype(np.float32)
    assert _close(half.run(None, {"x": x})[0], full.run(None, {"x": x})[0])


def test_an_fp16_overflow_past_what_is_kept_fails_naming_the_node(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(variants, "MAX_KEPT_FLOAT", 2)
    export(specc.loads(OVERFLOW), tmp_path / "m.onnx", via="direct")
    with pytest.raises(VariantFailed, match=r"overflows float16 .* '[\w/]+' gives inf.*kept in float32 already"):
        make_variant(tmp_path / "m.onnx", "fp16", runs=1)
    assert not (tmp_path / "m.fp16.onnx").exists()


def test_an_fp16_model_in_range_says_its_inner_values_were_probed(tmp_path: Path) -> None:
    export(specc.loads(OVERFLOW.replace("scale: 12.0", "scale: 1.0")), tmp_path / "m.onnx", via="direct")
    variant = make_variant(tmp_path / "m.onnx", "fp16", runs=1)
    assert any("float16 values inside the model is finite" in c for c in variant.checks)
    assert not any(n.startswith("kept in float32") for n in variant.notes)


# MaskedFill's -1e9 (as a float32 model writes it) has no float16: ONNX Runtime's converter clips
# it to -65504 without a word.  Before a Softmax that hides the same positions; a row filled
# entirely and reduced by its max reads -65504 where the float model reads -1e9.
FILLED = """\
specc: 1
name: FillThenMax
inputs:
  x: [B, T, 4]
  pad: {shape: [B, T, 1], dtype: bool}
layers:
  - {type: Linear, from: x, out_features: 4}
  - {type: MaskedFill, from: [linear_1, pad], value: -1.0e9}
  - {type: Reduce, op: max, dim: 1}
"""


def test_an_fp16_variant_says_which_constants_float16_clips(tmp_path: Path) -> None:
    export(specc.loads(FILLED), tmp_path / "m.onnx", via="direct")
    variant = make_variant(tmp_path / "m.onnx", "fp16", runs=1)
    note = next(n for n in variant.notes if n.startswith("float16 cannot hold"))
    assert "masked_fill_1/Where reads -1e+09" in note
    # what the note warns of: a sample of only padding
    x = np.random.default_rng(0).standard_normal((1, 3, 4)).astype(np.float32)
    feeds = {"x": x, "pad": np.ones((1, 3, 1), bool)}
    full, half = create_session(tmp_path / "m.onnx", "cpu"), create_session(variant.path, "cpu")
    assert (full.run(None, feeds)[0] == -1e9).all() and (half.run(None, feeds)[0] == -65504).all()
    plain = specc.loads(FILLED.replace("-1.0e9", "-1.0e4"))
    export(plain, tmp_path / "p.onnx", via="direct")
    assert not any(n.startswith("float16 cannot hold") for n in make_variant(tmp_path / "p.onnx", "fp16",
                                                                             runs=1).notes)
