"""The sizes a model's symbols must have to run (every tensor size at least 1, what layers need
beyond it): computed from the shaped graph, stored exactly in exported models, and tested by
`specc run` and `specc predict` before anything runs, with the nearest sizes that work."""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cli_run import run_cli
from test_size_algebra import _random_size

import specc
from specc.shapes.dims import evaluate, from_json, to_json
from specc.shapes.rules import SizeRule, refusal, size_rules

UNET = Path(__file__).resolve().parents[1] / "specs" / "unet_any_size.yaml"
SEQUENCE = """\
    specc: 1
    name: Positions
    inputs:
      x: [B, T, 6]
    layers:
      - {type: Linear, out_features: 8}
      - {type: PositionalEncoding, max_len: 32}
      - {type: Mean, dim: 1}
      - {type: Linear, out_features: 1, name: y}
    loss: {type: MSELoss}
    optimizer: {type: Adam}
    train: {epochs: 1, batch_size: 8, data: {source: synthetic, num_samples: 24}}
    """


@pytest.mark.parametrize("seed", range(60))
def test_a_size_survives_json_exactly(seed: int) -> None:
    d = _random_size(random.Random(seed), depth=5)
    back = from_json(json.loads(json.dumps(to_json(d))))
    assert back == d
    assert all(evaluate(back, {"H": v}) == evaluate(d, {"H": v}) for v in range(1, 60))


def test_a_stored_rule_that_is_not_a_size_is_refused() -> None:
    for bad in ("H", [[1, ["H", 3]]], [[1, [{"floor": "H", "by": 1}]]], True, {"size": 1}):
        with pytest.raises(ValueError):
            from_json(bad) if not isinstance(bad, dict) else SizeRule.from_json(bad)


def test_the_rules_of_a_unet_and_the_nearest_size_that_works() -> None:
    rules = size_rules(specc.load(UNET).graph)
    texts = {r.text for r in rules}
    assert {"H >= 1", "floor(H/2) >= 1", "floor(H/4) >= 1"} <= texts
    assert refusal(rules, {"B": 1, "H": 40, "W": 33}) is None
    message, hint = refusal(rules, {"B": 1, "H": 3, "W": 33})
    assert "MaxPool2d 'max_pool2d_2' needs floor(H/4) >= 1" in message
    assert hint == "the nearest size that works is H = 4"


def test_run_refuses_an_image_too_small_for_the_exported_model(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    model = tmp_path / "unet.onnx"
    assert run_cli(capsys, "export", str(UNET), "-o", str(model), "--no-verify")[0] == 0
    code, _, err = run_cli(capsys, "run", str(model), "--size", "H=3", "--size", "W=20")
    assert code == 2
    assert "needs floor(H/4) >= 1" in err and "the nearest size that works is H = 4" in err
    assert "internal error" not in err
    assert run_cli(capsys, "run", str(model), "--size", "H=4", "--size", "W=5")[0] == 0


def test_predict_refuses_a_sequence_longer_than_the_position_table(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    spec = tmp_path / "seq.yaml"
    spec.write_text(textwrap.dedent(SEQUENCE))
    run = tmp_path / "run"
    assert run_cli(capsys, "train", str(spec), "-o", str(run))[0] == 0
    np.save(tmp_path / "long.npy", np.zeros((2, 40, 6), np.float32))
    code, _, err = run_cli(capsys, "predict", str(run), "--input", str(tmp_path / "long.npy"))
    assert code != 0 and "internal error" not in err
    assert "needs T <= 32 (the position table has max_len 32)" in err and "T = 32" in err
    np.save(tmp_path / "short.npy", np.zeros((2, 32, 6), np.float32))
    assert run_cli(capsys, "predict", str(run), "--input", str(tmp_path / "short.npy"))[0] == 0
