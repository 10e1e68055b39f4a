"""The direct ONNX target (specc/targets/onnx/): every layer case of tests/layer_cases.py and every
example and zoo spec, written straight to ONNX with the weights the direct target draws, equals the
PyTorch target carrying those weights under ONNX Runtime at the export sizes and two others.
(That every kind has a lowering is tests/test_targets.py's coverage test.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from layer_cases import CASES

from specc.backends.direct_export import direct_problem, export_direct


def _specs() -> list[object]:
    root = Path(__file__).resolve().parents[1] / "specs"
    return [pytest.param(p, id=str(p.relative_to(root))) for p in [*sorted(root.glob("*.yaml")),
                                                                     *sorted(root.glob("zoo/*.yaml"))]]


# SegNet unpools with its pools' indices: at 360 x 480 a few windows hold two values one rounding
# step apart, and ONNX Runtime's and PyTorch's convolutions (equal to 1e-7) pick different maxima
# there, which moves whole values. Compared at a size without such near ties.
SIZES = {"segnet_basic.yaml": ["height=45", "width=60"]}


@pytest.mark.parametrize("path", _specs())
def test_example_and_zoo_specs_written_direct_equal_pytorch(path: Path, tmp_path: Path) -> None:
    spec = specc.load(path, overrides=SIZES.get(path.name))
    assert spec.ok
    assert direct_problem(spec) is None
    result = export_direct(spec, tmp_path / "m.onnx", compare="torch")
    assert result.verification is not None and all(r.max_abs_diff for r in result.verification.runs)


def _cases() -> list[object]:
    return [pytest.param(c, id=c.id) for c in CASES]


@pytest.mark.parametrize("case", _cases())
def test_layer_case_written_direct_equals_pytorch(case: object, tmp_path: Path) -> None:
    spec = specc.loads(case.yaml(), "case.yaml")  # type: ignore[attr-defined]
    assert spec.ok, [d.message for d in spec.errors]
    assert direct_problem(spec) is None
    result = export_direct(spec, tmp_path / "m.onnx", compare="torch")
    report = result.verification
    assert report is not None and report.against == "PyTorch"
    assert len(report.runs) >= (3 if spec.graph and any(
        not isinstance(d, int) for t in spec.graph.inputs.values() for d in t.shape) else 1)
    assert all(r.max_abs_diff for r in report.runs), "no output was compared"
