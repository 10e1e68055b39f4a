"""The direct ONNX target's conv, pad and resample lowerings where the layer cases cannot reach:
the opsets whose ops differ (Pad's wrap from 19, optional inputs before 13, Shape's slice from
15), where Resize is written and where PyTorch's taps are gathered instead, PyTorch's own
float32 positions at sizes where Resize's differ, and the nearest paths that ``check`` holds
back from the torch route today."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import specc

ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
F = torch.nn.functional

from specc.backends.direct_export import export_direct  # noqa: E402
from specc.backends.errors import ExportFailed  # noqa: E402
from specc.targets.onnx.lower import lower_graph  # noqa: E402
from specc.targets.onnx.weights import Weights  # noqa: E402


def _spec(layer: str, shape: str, opset: int | None = None) -> object:
    export = f"export: {{opset: {opset}}}\n" if opset else ""
    spec = specc.loads(f"specc: 1\ninputs:\n  x: {shape}\nlayers:\n  - {layer}\n{export}", "case.yaml")
    assert spec.ok, [d.message for d in spec.errors]
    return spec


def _ops(path: Path) -> set[str]:
    return {n.op_type for n in onnx.load(path).graph.node}


@pytest.mark.parametrize("opset", [11, 13, 19])
@pytest.mark.parametrize("layer", [
    "{type: Conv2d, out_channels: 3, kernel_size: [2, 3], padding: same, padding_mode: circular}",
    "{type: SeparableConv1d, out_channels: 3, kernel_size: 3, padding: 2, padding_mode: reflect}",
    "{type: ReplicationPad2d, padding: [2, 0, 1, 1]}",
    "{type: Upsample, mode: bilinear, scale_factor: [1.5, 0.75], align_corners: true}",
    "{type: Upsample, mode: bicubic, size: [5, 3]}",
    "{type: Upsample, mode: nearest, scale_factor: 1.5}",
])
def test_other_opsets_equal_pytorch(layer: str, opset: int, tmp_path: Path) -> None:
    rank = 3 if "1d" in layer else 4
    spec = _spec(layer, "[B, 2, H, W]" if rank == 4 else "[B, 2, L]", opset)
    result = export_direct(spec, tmp_path / "m.onnx", compare="torch")
    assert result.opset == opset and len(result.verification.runs) == 3
    if "circular" in layer:  # wrapped by Pad from opset 19, by slices before it
        assert ("Slice" in _ops(tmp_path / "m.onnx")) == (opset < 19)


@pytest.mark.parametrize(("layer", "shape", "resize"), [
    ("{type: Upsample, mode: bilinear, scale_factor: 2}", "[B, 2, H, W]", True),
    ("{type: Upsample, mode: trilinear, scale_factor: [1, 0.5, 4]}", "[B, 1, D, H, W]", True),
    ("{type: Upsample, scale_factor: [3, 2]}", "[B, 2, H, W]", True),
    ("{type: Upsample, mode: bilinear, scale_factor: 1.5}", "[B, 2, H, W]", False),
    ("{type: Upsample, mode: bilinear, scale_factor: 2, align_corners: true}", "[B, 2, H, W]", False),
    # float32(1/41) rounds down: PyTorch reads element 0 at output 41, Resize element 1
    ("{type: Upsample, scale_factor: 41}", "[B, 1, L]", False),
])
def test_resize_only_where_its_positions_are_pytorchs(layer: str, shape: str, resize: bool, tmp_path: Path) -> None:
    export_direct(_spec(layer, shape), tmp_path / "m.onnx", compare="torch")
    ops = _ops(tmp_path / "m.onnx")
    assert ("Resize" in ops) == resize and ("Gather" in ops) != resize


def test_linear_positions_are_pytorchs_at_large_sizes(tmp_path: Path) -> None:
    # Resize divides by 2.5 where PyTorch multiplies by float32(0.4) in a fused multiply-add: at this
    # size the two weigh neighbours differently by ~2e-5; the gathered taps agree to rounding
    spec = _spec("{type: Upsample, mode: linear, scale_factor: 2.5}", "[2, 3, 157]")
    export_direct(spec, tmp_path / "m.onnx", compare="torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 157)).astype(np.float32)
    got = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    want = F.interpolate(torch.from_numpy(x), scale_factor=2.5, mode="linear").numpy()
    assert got.shape == want.shape == (2, 3, 392)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("layer", "shape"), [
    # PyTorch sizes 90 · 0.7 as 62 where ONNX Runtime's float32 product rounds to 63, and it copies the
    # depth 9 that scale 1.1 leaves at 9, which Resize resamples
    ("{type: Upsample, scale_factor: [1.1, 2, 0.7], mode: trilinear}", "[B, 1, 9, 3, 90]"),
    # 120 · 0.7 is 84 in PyTorch; ONNX shape inference floors the float32 scale's product 83.9999986
    ("{type: Upsample, scale_factor: [1.5, 0.7], mode: bicubic}", "[B, 1, 4, 120]"),
    # ONNX Runtime refuses output_padding >= stride, which PyTorch allows below the dilation
    ("{type: ConvTranspose2d, out_channels: 4, kernel_size: 3, stride: [1, 2], dilation: 3, padding: [0, 1], "
     "output_padding: 2, groups: 2}", "[B, 4, H, 5]"),
])
def test_what_the_torch_routes_onnx_gets_wrong_is_written_direct(layer: str, shape: str, tmp_path: Path) -> None:
    result = export_direct(_spec(layer, shape), tmp_path / "m.onnx", compare="torch")
    assert result.verification is not None and all(r.max_abs_diff for r in result.verification.runs)


@pytest.mark.parametrize(("size", "shapes"), [((5, 7), [(2, 2, 3, 4), (1, 2, 11, 13)]),
                                              ((9,), [(2, 1, 4), (1, 1, 23)])])
def test_nearest_to_a_size_from_symbolic_sizes_picks_pytorchs_pixels(
        size: tuple[int, ...], shapes: list[tuple[int, ...]]) -> None:
    # the torch route writes this as a Resize that picks other pixels (a U002 when an exporter is
    # pinned); the direct target computes PyTorch's indices from the run-time size
    spec = _spec(f"{{type: Upsample, size: {list(size)}}}", "[B, 2, H, W]" if len(size) == 2 else "[B, 1, L]")
    model = lower_graph(spec.graph, Weights()).model  # type: ignore[attr-defined]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for shape in shapes:
        x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        want = F.interpolate(torch.from_numpy(x), size=size).numpy()
        np.testing.assert_array_equal(session.run(None, {"x": x})[0], want)


def test_a_nearest_resize_pytorch_computes_two_ways_is_refused(tmp_path: Path) -> None:
    # 8 -> 8 at scale 1.1: PyTorch's 2-D kernel copies the rows of a small tensor, resamples a large one's
    spec = _spec("{type: Upsample, scale_factor: [1.1, 2]}", "[B, 2, 8, W]")
    with pytest.raises(ExportFailed, match="one way on small tensors and another on large ones"):
        export_direct(spec, tmp_path / "m.onnx", compare="torch")
