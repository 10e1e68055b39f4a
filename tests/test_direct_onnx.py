"""The direct ONNX target (specc/targets/onnx/): every layer kind has a lowering, and every layer
case of tests/layer_cases.py, written straight to ONNX with the weights the PyTorch target draws,
equals that PyTorch module under ONNX Runtime at the export sizes and two others.

``PENDING`` lists the kinds whose lowering is still to come; it may only shrink.  A kind leaves it
with its lowering in the family's module of ``specc/targets/onnx/kinds/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import specc
from specc.layers import REGISTRY

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from layer_cases import CASES

from specc.backends.direct_export import direct_problem, export_direct
from specc.targets.onnx.kinds import LOWERINGS
from specc.targets.onnx.lower import kinds_used

PENDING: set[str] = set()
# conv, pad, resample
PENDING |= {
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "DepthwiseConv1d",
    "DepthwiseConv2d", "SeparableConv1d", "SeparableConv2d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
    "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
    "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "Upsample"
}


def test_every_kind_has_a_direct_lowering_or_is_pending() -> None:
    missing = set(REGISTRY) - set(LOWERINGS)
    assert missing - PENDING == set(), f"kinds without a direct ONNX lowering: {sorted(missing - PENDING)}"
    assert PENDING - missing == set(), f"lowered now, take them out of PENDING: {sorted(PENDING - missing)}"
    assert set(LOWERINGS) - set(REGISTRY) == set(), "a lowering for a kind that does not exist"


def _specs() -> list[object]:
    root = Path(__file__).resolve().parents[1] / "specs"
    return [pytest.param(p, id=str(p.relative_to(root))) for p in [*sorted(root.glob("*.yaml")),
                                                                     *sorted(root.glob("zoo/*.yaml"))]]


@pytest.mark.parametrize("path", _specs())
def test_example_and_zoo_specs_written_direct_equal_pytorch(path: Path, tmp_path: Path) -> None:
    spec = specc.load(path)
    assert spec.ok
    why = direct_problem(spec)
    if why is not None:
        kinds = set(kinds_used(spec.graph))
        assert kinds & PENDING or "LoRA" in why, f"{path.name} cannot go direct: {why}"
        pytest.skip(why)
    result = export_direct(spec, tmp_path / "m.onnx", compare="torch")
    assert result.verification is not None and all(r.max_abs_diff for r in result.verification.runs)


def _cases() -> list[object]:
    return [pytest.param(c, id=c.id) for c in CASES]


@pytest.mark.parametrize("case", _cases())
def test_layer_case_written_direct_equals_pytorch(case: object, tmp_path: Path) -> None:
    spec = specc.loads(case.yaml(), "case.yaml")  # type: ignore[attr-defined]
    assert spec.ok, [d.message for d in spec.errors]
    why = direct_problem(spec)
    if why is not None:
        kinds = set(kinds_used(spec.graph))
        assert kinds & PENDING, f"no direct lowering, and none pending: {why}"
        pytest.skip(why)
    result = export_direct(spec, tmp_path / "m.onnx", compare="torch")
    report = result.verification
    assert report is not None and report.against == "PyTorch"
    assert len(report.runs) >= (3 if spec.graph and any(
        not isinstance(d, int) for t in spec.graph.inputs.values() for d in t.shape) else 1)
    assert all(r.max_abs_diff for r in report.runs), "no output was compared"
