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
from specc.shapes.rules import SizeRule, nearest_fit, refusal, size_rules

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


NO_PADDING = """\
    specc: 1
    name: NoPadding
    inputs:
      image: [B, 3, H, W]
    layers:
      - {type: Conv2d, out_channels: 4, kernel_size: 7, stride: 2}
      - {type: MaxPool2d, kernel_size: 3, stride: 2}
      - {type: Conv2d, out_channels: 4, kernel_size: 3}
      - {type: Conv2d, out_channels: 4, kernel_size: 3}
      - {type: GlobalAvgPool}
      - {type: Linear, out_features: 3}
    loss: {type: CrossEntropyLoss}
    optimizer: {type: Adam}
    train: {epochs: 1, batch_size: 4, data: {source: synthetic, num_samples: 8}}
    """


def test_the_nearest_sizes_when_two_symbols_are_both_too_small() -> None:
    # each of H and W alone breaks its own rules: moving one at a time never fixed both
    rules = size_rules(specc.loads(textwrap.dedent(NO_PADDING)).require_ok().graph)
    assert nearest_fit(rules, {"B": 1, "H": 16, "W": 16}) == {"H": 27, "W": 27}  # floor((H + 1)/4) - 6 >= 1
    assert nearest_fit(rules, {"B": 1, "H": 16, "W": 40}) == {"H": 27}
    assert nearest_fit(rules, {"B": 1, "H": 27, "W": 27}) == {}
    why, fix = refusal(rules, {"B": 1, "H": 16, "W": 16}) or ("", "")
    assert "conv2d_2" in why, why
    assert fix == "the nearest size that works is H = 27, W = 27", fix


def test_synthetic_data_takes_sizes_the_model_runs_at(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 16, the size of a symbol the spec leaves free, is too small for these kernels: the data is
    # made at the nearest sizes that work, not fed to a model that cannot take it
    spec = tmp_path / "nopad.yaml"
    spec.write_text(textwrap.dedent(NO_PADDING))
    code, out, err = run_cli(capsys, "train", str(spec), "-o", str(tmp_path / "run"))
    assert code == 0, out + err


def test_synthetic_targets_follow_the_output_formula(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a dense head whose map is floor((H + 3)/4) x floor((W + 3)/4): the targets were made with
    # every symbolic size of the output read as 16, so H = 40, W = 24 trained against 16 x 16
    spec = tmp_path / "dense.yaml"
    spec.write_text(textwrap.dedent("""\
        specc: 1
        name: Dense
        inputs:
          image: [B, 3, H, W]
        layers:
          - {type: Conv2d, out_channels: 4, kernel_size: 3, stride: 2, padding: 1}
          - {type: Conv2d, out_channels: 6, kernel_size: 3, stride: 2, padding: 1}
          - {type: Unflatten, dim: 1, unflattened_size: [2, 3]}
        loss: {type: MSELoss}
        optimizer: {type: Adam}
        train: {epochs: 1, batch_size: 2, data: {source: synthetic, num_samples: 4}}
        export: {sizes: {H: 40, W: 24}}
        """))
    code, out, err = run_cli(capsys, "train", str(spec), "-o", str(tmp_path / "run"))
    assert code == 0, out + err
    code, out, err = run_cli(capsys, "train", str(spec), "-o", str(tmp_path / "run2"), "--set", "export.sizes.W=13")
    assert code == 0, out + err
    # a map per sample is one line in the terminal: its shape, first values and range
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 40, 24), np.float32))
    code, out, err = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", str(tmp_path / "x.npy"))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("0: 2x3x10x6 values ["), out
    assert "min " in lines[0] and lines[0].endswith("(--format json: all)"), out


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
