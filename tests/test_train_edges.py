"""Training at its edges, as a careful PyTorch user expects it: class weights for a class the
training split lacks (scikit-learn's compute_class_weight refuses it; the run says so and goes on)."""

from __future__ import annotations

from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")

import specc  # noqa: E402

SPEC = """specc: 1
inputs: {x: [B, 4]}
layers:
  - {type: Linear, out_features: 3}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam}
train: {epochs: 1, batch_size: 8, class_weights: auto, data: {source: two.npz}}
"""


def test_class_weights_for_a_class_without_samples_are_1_and_the_report_says_so(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.array([0, 0, 0, 1] * 10)  # 3 outputs, class 2 never seen
    np.savez(tmp_path / "two.npz", x=rng.normal(size=(40, 4)).astype(np.float32), y=y)
    (tmp_path / "s.yaml").write_text(SPEC)
    result = specc.train(tmp_path / "s.yaml")
    notes = [n for n in result.report["notes"] if "class_weights" in n]
    assert notes == ["class_weights: auto: the training split has no sample of class 2 (of 3), weighted 1; no "
                     "sample trains its output"], result.report["notes"]
