"""Scaling fitted per feature over the dims a spec leaves symbolic: a sequence regressor trained
at one length exports with its run's scaling and predicts at another."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from safetensors.numpy import load_file

from specc.backends.train.preprocess import Scaler
from specc.cli import main as cli


def test_a_scaler_keeps_fixed_dims_and_pools_symbolic_ones() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(50, 9, 4)) * np.arange(1, 5)
    s = Scaler.fit("standardize", x, ["B", "T", 4])
    assert s.shift.shape == (1, 4) and s.scale.shape == (1, 4)
    np.testing.assert_allclose(s.shift[0], x.reshape(-1, 4).mean(0), rtol=1e-5)
    fixed = Scaler.fit("minmax", x, ["B", 9, 4])
    assert fixed.shift.shape == (9, 4)
    np.testing.assert_allclose(fixed.scale, x.max(0) - x.min(0), rtol=1e-5)


def test_a_sequence_regressor_exports_with_its_scaling_and_predicts_at_another_length(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "seq.yaml"
    spec.write_text(textwrap.dedent("""\
        specc: 1
        name: PerStep
        inputs:
          x: [B, T, 6]
        layers:
          - {type: Linear, out_features: 16}
          - {type: ReLU}
          - {type: Linear, out_features: 3, name: y}
        loss: {type: MSELoss}
        optimizer: {type: Adam}
        train: {epochs: 2, batch_size: 8, data: {source: synthetic, num_samples: 40}}
        """))
    run = tmp_path / "run"
    assert cli(["train", str(spec), "-o", str(run)]) == 0
    saved = load_file(str(run / "preprocess.safetensors"))
    assert saved["target.shift"].shape == (1, 3)  # one per feature, for every T
    model = tmp_path / "m.onnx"
    assert cli(["export", str(spec), "--weights", str(run), "-o", str(model)]) == 0, capsys.readouterr().err
    x = np.random.default_rng(1).normal(size=(2, 23, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    capsys.readouterr()
    assert cli(["predict", str(run), "--input", str(tmp_path / "x.npy"), "--format", "json"]) == 0
    predicted = np.array(json.loads(capsys.readouterr().out)["prediction"], dtype=np.float32)
    assert predicted.shape == (2, 23, 3)
    ort = pytest.importorskip("onnxruntime")  # the exported model carries the same scaling
    got = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, predicted, rtol=1e-4, atol=1e-5)
