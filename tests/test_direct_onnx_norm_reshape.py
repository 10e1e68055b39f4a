"""The direct ONNX lowerings of the norm, reshape, merge, reduce and embedding families beyond
the layer-case sweep of tests/test_direct_onnx.py: trained statistics and affine tensors (the
defaults, weight 1 and bias 0, mean 0 and variance 1, would hide a swapped argument), the opsets
where ONNX moved an attribute into an input or added an op, and what ``check`` refuses because
PyTorch itself fails at some size."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

import onnx
import torch
from layer_cases import CASES
from safetensors.torch import save_file

from specc.backends.direct_export import export_direct
from specc.backends.errors import ExportFailed
from specc.backends.onnx_export import export_spec

FAMILIES = {
    "norm": {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
             "LayerNorm", "GroupNorm"},
    "reshape": {"Identity", "Flatten", "Unflatten", "Reshape", "Permute", "Transpose", "Squeeze", "Unsqueeze",
                "Slice", "Split", "Chunk", "Cast", "PixelShuffle", "PixelUnshuffle"},
    "merge": {"Add", "Mul", "Sub", "Div", "Max", "Min", "Concat"},
    "reduce": {"Reduce", "Mean"},
    "embedding": {"Embedding", "VectorQuantizer"},  # VectorQuantizer: ArgMin took no select_last_index before 12
}
OURS = set().union(*FAMILIES.values())


def _load(case: object) -> specc.Spec:
    spec = specc.loads(case.yaml(), "case.yaml")  # type: ignore[attr-defined]
    assert spec.ok, [d.message for d in spec.errors]
    return spec


def _randomised_checkpoint(spec: specc.Spec, path: Path) -> dict[str, torch.Tensor]:
    """The PyTorch target's state dict with every float tensor drawn anew (variances positive)."""
    gen = torch.Generator().manual_seed(7)
    state = {}
    for k, v in specc.build(spec, seed=0).state_dict().items():
        if v.is_floating_point():
            v = torch.rand(v.shape, generator=gen) + 0.5 if k.endswith("running_var") else \
                torch.randn(v.shape, generator=gen)
        state[k] = v.contiguous()
    save_file(state, str(path))
    return state


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if c.kind in FAMILIES["norm"]
                                  | {"Embedding"}])
def test_trained_tensors_written_direct_equal_pytorch(case: object, tmp_path: Path) -> None:
    spec = _load(case)
    state = _randomised_checkpoint(spec, tmp_path / "w.safetensors")
    result = export_direct(spec, tmp_path / "m.onnx", weights=tmp_path / "w.safetensors", compare="torch")
    report = result.verification
    assert report is not None and report.against == "PyTorch" and all(r.max_abs_diff for r in report.runs)
    model = onnx.load(str(tmp_path / "m.onnx"))
    held = {i.name for i in model.graph.initializer}
    # every tensor the ONNX graph computes with is the checkpoint's, under its state-dict name
    assert {k for k in state if not k.endswith("num_batches_tracked")} <= held


# Every case of the kinds whose lowering depends on the opset at the opsets where it changes
# (9, the oldest specc writes: Slice, Squeeze, Split and ReduceX with attributes, no DepthToSpace
# mode, no integer Max; 13: ReduceSum's axes an input; 15: Shape's start and end; 17:
# LayerNormalization), one case of each other kind at the oldest.
BY_OPSET = {"LayerNorm", "GroupNorm", "Reduce", "Mean", "Squeeze", "Unsqueeze", "Split", "Chunk", "Embedding",
            "Flatten", "Unflatten", "PixelShuffle", "PixelUnshuffle", "BatchNorm2d", "Slice", "Max", "Min"}


def _opset_cases() -> list[object]:
    seen: set[str] = set()
    picked = []
    for c in CASES:
        if c.kind in BY_OPSET:
            opsets = (9, 13, 17) if c.kind == "Reduce" else (9, 17)
            picked += [pytest.param(c, opset, id=f"{opset}-{c.id}") for opset in opsets]
        elif c.kind in OURS and c.kind not in seen:
            picked.append(pytest.param(c, 9, id=f"9-{c.id}"))
        seen.add(c.kind)
    return picked


@pytest.mark.parametrize(("case", "opset"), _opset_cases())
def test_other_opsets_written_direct_equal_pytorch(case: object, opset: int, tmp_path: Path) -> None:
    spec = _load(case)
    if opset < 10 and case.id == "Slice:{type: Slice, dim: 1, start: 1, step: 2}":  # type: ignore[attr-defined]
        with pytest.raises(ExportFailed, match=r"step 2 along a dim of symbolic size \(T\) with ONNX ops of opset 10"):
            export_direct(spec, tmp_path / "m.onnx", opset=opset, compare="torch")
        return
    result = export_direct(spec, tmp_path / "m.onnx", opset=opset, compare="torch")
    assert result.opset == opset
    model = onnx.load(str(tmp_path / "m.onnx"))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [opset]
    assert result.verification is not None and all(r.max_abs_diff for r in result.verification.runs)


def test_layer_norm_uses_the_native_op_from_opset_17(tmp_path: Path) -> None:
    text = ("specc: 1\ninputs: {x: [B, 4, T]}\nlayers:\n  - {type: GroupNorm, num_groups: 2}\n"
            "  - {type: Permute, dims: [0, 2, 1]}\n  - {type: LayerNorm}\n")
    spec = specc.loads(text)
    ops = {}
    for opset in (16, 18, 21):
        export_direct(spec, tmp_path / f"m{opset}.onnx", opset=opset, compare="torch")
        ops[opset] = {n.op_type for n in onnx.load(str(tmp_path / f"m{opset}.onnx")).graph.node}
    assert "LayerNormalization" not in ops[16] and "LayerNormalization" in ops[18] | ops[21]
    # GroupNormalization of opsets 18 to 20 scales per group, not per channel; ONNX's shape
    # inference cannot type the output of opset 21's
    assert not any("GroupNormalization" in found for found in ops.values())


def test_symbolic_sizes_are_read_at_run_time_not_baked_in(tmp_path: Path) -> None:
    """A reshape whose sizes depend on T holds at any T: ONNX shape inference keeps T symbolic,
    and the model equals PyTorch at T's other sizes than the export's."""
    text = ("specc: 1\ninputs: {x: [B, 3, 4, T]}\nlayers:\n  - {type: Flatten, start_dim: 1, end_dim: 2}\n"
            "  - {type: Permute, dims: [0, 2, 1]}\n  - {type: Reshape, shape: [T, B, -1]}\n")
    result = export_direct(specc.loads(text), tmp_path / "m.onnx", compare="torch")
    assert result.verification is not None
    assert len({r.env["T"] for r in result.verification.runs}) >= 3
    model = onnx.shape_inference.infer_shapes(onnx.load(str(tmp_path / "m.onnx")), data_prop=True)
    out = model.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in out] == ["T", "B", 12]
    assert {n.op_type for n in model.graph.node} >= {"Shape", "Reshape"}  # T is read from the input


def test_batch_norm_without_running_stats_needs_two_values_per_channel() -> None:
    """PyTorch normalises with the batch's statistics then, in eval too, and fails on one value per
    channel: refused where the batch alone supplies them, a requirement on the other dims else."""
    text = "specc: 1\ninputs: {x: [B, 5]}\nlayers:\n  - {type: BatchNorm1d, track_running_stats: false}\n"
    spec = specc.loads(text)
    (err,) = spec.errors
    assert err.code == "U001" and (err.loc.line, err.loc.col) == (4, 46)
    assert "a batch of 1 fails" in err.message and "track_running_stats: true" in (err.hint or "")
    assert specc.loads(text.replace("track_running_stats: false", "affine: false")).ok
    fixed = specc.loads(text.replace("[B, 5]", "[4, 5]"))
    assert fixed.ok
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        torch.nn.BatchNorm1d(5, track_running_stats=False).eval()(torch.randn(1, 5))
    spatial = specc.loads(text.replace("[B, 5]", "[B, 5, L]"))
    assert spatial.ok
    assert any("L >= 2" in r.text() for n in spatial.graph.leaves() for r in n.result.requires)


def test_embedding_max_norm_over_int32_ids_is_refused_for_the_torch_route(tmp_path: Path) -> None:
    """TorchScript drops max_norm and dynamo writes a ScatterND ONNX Runtime refuses for int32 ids:
    with an exporter pinned, check says so at the layer, with the cast that fixes it; the direct
    target writes either, so under auto the spec checks ok and exports direct."""
    text = ("specc: 1\ninputs: {ids: {shape: [B, 3], dtype: int32}}\nlayers:\n"
            "  - {type: Embedding, num_embeddings: 9, embedding_dim: 4, max_norm: 1.0}\n")
    assert export_direct(specc.loads(text), tmp_path / "int32.onnx", compare="torch").verification is not None
    (err,) = specc.loads(text + "export: {exporter: dynamo}\n").errors
    assert err.code == "U002" and err.loc.line == 4 and "max_norm over int32 ids" in err.message
    assert err.hint == "add - {type: Cast, dtype: int64} before the Embedding"
    fixed = specc.loads(text.replace("  - {type: Embedding", "  - {type: Cast, dtype: int64}\n  - {type: Embedding"))
    assert fixed.ok
    assert export_spec(fixed, tmp_path / "torch.onnx").verification is not None
    assert export_direct(fixed, tmp_path / "direct.onnx", compare="torch").verification is not None
    pinned = specc.loads(fixed.text + "export: {exporter: torchscript}\n")
    (err,) = pinned.errors
    assert err.code == "U002" and "torchscript exporter" in err.message and "drops max_norm" in err.message
