"""Integer inputs that index something (an Embedding's ids, a Pick's positions) stay under what
reads them, by one rule (specc/validate/indices.py): the example inputs of both export routes and of
the PyTorch build, synthetic training data, `specc run`'s random inputs and the data check.

Found by the lead: a spec whose Pick reads a position given as an input (`pos: {shape: [B], dtype:
int64}`, HF's last-token pooling fed the lengths) checked ok, and its export at T = 1 failed, as
the example positions were drawn from 0 to 1 whatever T was ("index 1 is out of bounds for
dimension 1 with size 1")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_run import run_cli

import specc
from specc.backends.example_inputs import example_arrays
from specc.backends.verify import signature_of
from specc.validate.indices import bounds_from_json, bounds_json, index_bounds, index_high

SPEC = """\
specc: 1
inputs:
  x: {shape: [B, T, 8]}
  pos: {shape: [B], dtype: int64}
  ids: {shape: [B, T], dtype: int64}
layers:
  - {name: emb, type: Embedding, from: ids, num_embeddings: 50, embedding_dim: 8}
  - {name: both, type: Add, from: [x, emb]}
  - {name: p, type: Pick, from: [both, pos], dim: 1}
  - {name: out, type: Linear, out_features: 3}
outputs: [out]
"""


def _spec(tmp_path: Path, tail: str = "") -> Path:
    path = tmp_path / "pick.yaml"
    path.write_text(SPEC + tail, encoding="utf-8")
    return path


def test_a_picked_positions_bound_is_the_length_it_picks_from(tmp_path: Path) -> None:
    spec = specc.load(_spec(tmp_path))
    pos, ids = index_bounds(spec.graph, "pos"), index_bounds(spec.graph, "ids")
    assert [str(b.high) for b in pos] == ["T"] and pos[0].kind == "Pick" and "'p'" in pos[0].reader
    assert [b.high for b in ids] == [50] and ids[0].kind == "Embedding"
    assert index_bounds(spec.graph, "x") == []
    for t in (1, 2, 7):
        assert index_high(pos, {"B": 3, "T": t}) == t
    assert index_high([], {"T": 1}) == 2  # nothing bounds it: 0 and 1
    # the metadata an exported model carries, read back; an older model's plain int is one bound
    back = bounds_from_json(json.dumps(bounds_json(spec.graph, ["x", "pos", "ids"])))
    assert set(back) == {"pos", "ids"} and index_high(back["pos"], {"T": 5}) == 5
    assert bounds_from_json('{"ids": 50}') == {"ids": [50]}
    assert bounds_from_json("not json") == {} and bounds_from_json('{"ids": "x"}') == {}


@pytest.mark.parametrize("t", [1, 2, 3])
def test_example_positions_fit_every_length(tmp_path: Path, t: int) -> None:
    spec = specc.load(_spec(tmp_path))
    arrays = example_arrays(spec, signature_of(spec), {"B": 64, "T": t})
    assert arrays["pos"].min() >= 0 and arrays["pos"].max() < t
    assert arrays["ids"].max() < 50
    torch = pytest.importorskip("torch")
    from specc.backends.torch_build import example_inputs

    x, pos, ids = example_inputs(spec, batch=64, sizes={"T": t})
    assert int(pos.max()) < t and int(ids.max()) < 50
    module = specc.build(spec)
    with torch.no_grad():
        assert module(x, pos, ids).shape == (64, 3)


def test_export_at_a_length_of_one_then_run_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    path = _spec(tmp_path, "export: {sizes: {T: 1}}\n")
    onnx_path = tmp_path / "pick.onnx"
    code, out, err = run_cli(capsys, "export", str(path), "-o", str(onnx_path), "--via", "direct", "--compare",
                             "shapes")
    assert code == 0, out + err
    assert "T=1" in out
    code, out, err = run_cli(capsys, "run", str(onnx_path), "--size", "T=1", "--batch", "16")
    assert code == 0, out + err


def _trained(tmp_path: Path, pos: np.ndarray, t: int = 6) -> Path:
    rng = np.random.default_rng(0)
    n = len(pos)
    np.savez(tmp_path / "d.npz", x=rng.standard_normal((n, t, 8)).astype(np.float32), pos=pos,
             ids=rng.integers(0, 50, (n, t)), y=rng.integers(0, 3, n))
    return _spec(tmp_path, "loss: {type: CrossEntropyLoss}\noptimizer: {type: Adam, lr: 0.01}\n"
                 "train: {epochs: 1, batch_size: 8, data: {source: d.npz, x_key: {x: x, pos: pos, ids: ids}, "
                 "y_key: y, val_split: 0.25}}\n")


def test_the_data_check_refuses_positions_past_the_length(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = _trained(tmp_path, np.arange(40) % 7)  # 6 is past T = 6
    code, out, err = run_cli(capsys, "check", str(path))
    text = out + err
    assert code == 1 and "T004" in text, text
    assert "ids from 0 to 6" in text and "Pick 'p'" in text and "(ids 0 to 5)" in text
    assert "positions count from 0" in text
    negative = _trained(tmp_path, np.arange(40) % 6 - 1)
    code, out, err = run_cli(capsys, "check", str(negative))
    assert code == 1 and "T004" in out + err and "count from 0" in out + err


def test_positions_inside_the_length_check_and_train(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    path = _trained(tmp_path, np.arange(40) % 6)
    code, out, err = run_cli(capsys, "check", str(path))
    assert code == 0, out + err
    code, out, err = run_cli(capsys, "train", str(path), "-o", str(tmp_path / "run"))
    assert code == 0, out + err
