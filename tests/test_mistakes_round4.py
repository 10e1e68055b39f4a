"""Mistakes people make in segmentation, detection and generative models, round 4 (helper e23): the
warning T073 (unscaled regression targets outside the range of the activation the model ends in) at
the output layer with the activation that fits, and the correct forms, which must stay quiet. The
errors' located messages and hints are in tests/corpus/bad/, the lint rules' in tests/corpus/lint/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import specc

DECODER = """specc: 1
inputs: {x: [B, 1, 8, 8]}
layers:
  - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {type: ReLU}
  - {type: Conv2d, out_channels: 1, kernel_size: 3, padding: 1}
  - {type: LAST}
loss: {type: MSELoss}
optimizer: {type: Adam}
train: {epochs: 1, preprocess: {inputs: none, targets: none}, data: {source: d.npz, val_split: 0}}
"""


def _spec(tmp_path: Path, last: str, low: float, high: float, text: str = DECODER) -> specc.Spec:
    x = np.random.default_rng(0).uniform(low, high, size=(16, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=x)  # an autoencoder: the images are the targets
    (tmp_path / "s.yaml").write_text(text.replace("LAST", last))
    return specc.load(tmp_path / "s.yaml")


@pytest.mark.parametrize(("last", "low", "high", "fix"), [
    ("Sigmoid", -1.0, 1.0, "end the model in Tanh"),  # images normalised with mean 0.5, std 0.5
    ("Tanh", 0.0, 255.0, "remove the final Tanh"),  # pixel bytes kept as they are
])
def test_t073_targets_beyond_the_final_activation(tmp_path: Path, last: str, low: float, high: float,
                                                   fix: str) -> None:
    spec = _spec(tmp_path, last, low, high)
    assert spec.ok  # a warning: it trains, towards targets it cannot reach
    (d,) = [d for d in spec.diagnostics if d.code == "T073"]
    assert d.severity == "warning" and d.loc.line == 7  # the final activation, the output layer
    assert f"ends in {last}" in d.message and "can never be reached" in d.message
    assert d.hint.startswith(fix)


@pytest.mark.parametrize(("last", "low", "high", "preprocess"), [
    ("Tanh", -1.0, 1.0, "none"),
    ("Sigmoid", 0.0, 1.0, "none"),
    ("Sigmoid", 0.0, 1.0, "auto"),  # auto leaves targets of a bounded head as they are
])
def test_t073_quiet_when_the_range_holds_the_targets(tmp_path: Path, last: str, low: float, high: float,
                                                     preprocess: str) -> None:
    text = DECODER.replace("targets: none", f"targets: {preprocess}")
    spec = _spec(tmp_path, last, low, high, text)
    assert spec.ok and not [d for d in spec.diagnostics if d.code == "T073"]
