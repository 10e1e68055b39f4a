"""The training loop with the model side of issue 9: FocalLoss modes, a tagger's class_dim: -1,
KLDivLoss from_logits, LoRA fine-tuning from a base run, warmup, Adafactor on an old torch.
Each is a short real training run, checked against what the loss and the data mean."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cli_run import run_cli

import specc

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from specc.backends.finetune import base_key  # noqa: E402
from specc.backends.train.run import load_tensors  # noqa: E402


def write(tmp_path: Path, text: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def imbalanced(tmp_path: Path, binary: bool) -> None:
    """Two Gaussian blobs, 9 to 1: a model that always says 'majority' scores 90 %."""
    rng = np.random.default_rng(0)
    n_major, n_minor = 540, 60
    x = np.concatenate([rng.normal(-1.0, 1.0, (n_major, 2)), rng.normal(1.5, 1.0, (n_minor, 2))]).astype(np.float32)
    y = np.concatenate([np.zeros(n_major), np.ones(n_minor)])
    np.savez(tmp_path / "imb.npz", x=x, y=y.astype(np.float32)[:, None] if binary else y.astype(np.int64))


@pytest.mark.parametrize("mode, width", [("binary", 1), ("multiclass", 2)])
def test_focal_loss_learns_the_minority_class_in_either_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             mode: str, width: int) -> None:
    imbalanced(tmp_path, mode == "binary")
    spec = write(tmp_path, f"""\
        specc: 1
        name: Net
        inputs: {{x: [B, 2]}}
        layers:
          - {{type: Linear, out_features: 16}}
          - {{type: ReLU}}
          - {{type: Linear, out_features: {width}}}
        loss: {{type: FocalLoss, gamma: 2, mode: {mode}}}
        optimizer: {{type: Adam, lr: 0.02}}
        train: {{epochs: 12, batch_size: 32, data: {{source: imb.npz, val_split: 0.3}}}}
        """)
    result = specc.train(spec, tmp_path / "run")
    final = result.report["final"]
    assert result.report["task"] == ("binary" if mode == "binary" else "classification")
    assert all(np.isfinite(r["loss"]) for r in result.history)
    # the minority class is found: recall and F1 far above the always-majority model's 0
    assert final["val_recall"] > 0.6 and final["val_f1"] > 0.6, final
    assert final["val_accuracy"] > 0.9
    if mode == "binary":  # logits thresholded at 0 (probability 0.5), reported as probabilities
        code, text, _ = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", "[[3, 3], [-3, -3]]",
                                "--format", "json")
        assert code == 0
        out = json.loads(text)
        assert out["label"] == [[1], [0]]
        assert 0.5 < out["probabilities"][0][0] <= 1 and 0 <= out["probabilities"][1][0] < 0.5


def tagging_data(tmp_path: Path, n: int = 600, t: int = 12) -> None:
    """Tag each token by the token before it (needs context): tag = previous id mod 4."""
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 20, size=(n, t))
    tags = np.concatenate([np.zeros((n, 1), np.int64), ids[:, :-1] % 4], axis=1)
    np.savez(tmp_path / "tags.npz", x=ids.astype(np.int64), y=tags.astype(np.int64))


def test_a_tagger_with_class_dim_minus_1_trains_on_b_t_targets_and_predicts_per_token(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tagging_data(tmp_path)
    spec = write(tmp_path, """\
        specc: 1
        name: Tagger
        inputs: {x: {shape: [B, T], dtype: int64}}
        layers:
          - {type: Embedding, num_embeddings: 20, embedding_dim: 16}
          - {type: LSTM, hidden_size: 32, output: sequence}
          - {type: Linear, out_features: 4}
        loss: {type: CrossEntropyLoss, class_dim: -1}
        optimizer: {type: Adam, lr: 0.02}
        train: {epochs: 10, batch_size: 32, data: {source: tags.npz, val_split: 0.2}}
        export: {sizes: {T: 12}}
        """)
    run = tmp_path / "run"
    result = specc.train(spec, run)
    assert result.report["final"]["val_token_accuracy"] >= 0.95, result.report["final"]
    code, out, _ = run_cli(capsys, "predict", str(run), "--input", json.dumps([[3, 5, 6, 7]]), "--format", "json")
    assert code == 0
    answer = json.loads(out)
    assert answer["label"] == [[0, 3, 1, 2]]  # 3 % 4, 5 % 4, 6 % 4 after the first
    assert np.allclose(np.asarray(answer["probabilities"]).sum(-1), 1.0, atol=1e-5)  # a softmax over the 4 tags


def test_kl_from_logits_learns_distributions_without_nan(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 4)).astype(np.float32)
    logits = x @ rng.normal(size=(4, 3)).astype(np.float32)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.savez(tmp_path / "kl.npz", x=x, y=p.astype(np.float32))
    spec = write(tmp_path, """\
        specc: 1
        name: Net
        inputs: {x: [B, 4]}
        layers:
          - {type: Linear, out_features: 16}
          - {type: ReLU}
          - {type: Linear, out_features: 3}
        loss: {type: KLDivLoss, from_logits: true}
        optimizer: {type: Adam, lr: 0.02}
        train: {epochs: 15, batch_size: 32, data: {source: kl.npz, val_split: 0.2}}
        """)
    result = specc.train(spec, None)
    losses = [r["val_loss"] for r in result.history]
    assert all(np.isfinite(losses)) and losses[-1] < 0.2 * losses[0], losses


BASE = """\
    specc: 1
    name: Net
    inputs: {x: [B, 4]}
    layers:
      - {type: Linear, out_features: 32, name: fc1}
      - {type: ReLU}
      - {type: Linear, out_features: 3, name: head}
    loss: {type: CrossEntropyLoss}
    optimizer: {type: Adam, lr: 0.01}
    train: {epochs: EPOCHS, batch_size: 32, data: {source: iris, val_split: 0.25}}
    """


def test_lora_fine_tune_from_a_base_run_trains_only_adapters_and_exports_merged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path, BASE.replace("EPOCHS", "4"), "base.yaml")
    assert run_cli(capsys, "train", str(base), "--run", str(tmp_path / "base"))[0] == 0
    lora = write(tmp_path, BASE.replace("EPOCHS", "6") + "lora: {rank: 2, alpha: 4, targets: [fc1, head]}\n",
                 "lora.yaml")
    code, out, err = run_cli(capsys, "train", str(lora), "--run", str(tmp_path / "lora"),
                             "--init-from", str(tmp_path / "base"), "--format", "json")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]  # --format json: nothing but JSON lines
    report = records[-1]
    assert report["event"] == "report" and [r["event"] for r in records[:-1]] == ["epoch"] * 6
    # what report.json holds: the confusion matrix named, in its file, not inline on the line
    assert report["confusion_matrices"] == {"val_confusion_matrix": "val_confusion_matrix.csv"}
    assert "val_confusion_matrix" not in report["final"] and (tmp_path / "lora" / "val_confusion_matrix.csv").is_file()
    init = report["init_from"]
    assert init["adapters_only"] and init["unexpected"] == [] and init["mismatched"] == []
    assert init["missing"] and all(k.endswith((".lora_A", ".lora_B")) for k in init["missing"])
    assert "LoRA adapters start fresh" in (tmp_path / "lora" / "report.txt").read_text()
    base_w = load_tensors(tmp_path / "base" / "model.safetensors")
    tuned = load_tensors(tmp_path / "lora" / "model.safetensors")
    for key, value in tuned.items():
        plain = base_key(key)
        if plain in base_w:  # the frozen base weights are the base run's, bit for bit
            assert torch.equal(value, base_w[plain]), key
    assert any(not torch.all(v == 0) for k, v in tuned.items() if k.endswith(".lora_B"))  # the adapters trained

    # export --weights RUN folds the adapters in: ONNX on raw inputs equals specc predict
    ort = pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "lora.onnx"
    code, _, err = run_cli(capsys, "export", str(lora), "--weights", str(tmp_path / "lora"), "-o", str(onnx_path))
    assert code == 0, err
    x = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], np.float32)
    code, out, _ = run_cli(capsys, "predict", str(tmp_path / "lora"), "--input", json.dumps(x.tolist()),
                           "--format", "json")
    assert code == 0
    session = ort.InferenceSession(str(onnx_path))
    assert "lora" not in " ".join(n.name for n in session.get_inputs())
    logits = session.run(None, {session.get_inputs()[0].name: x})[0]
    probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
    assert np.allclose(probs, json.loads(out)["probabilities"], atol=1e-5)


def test_warmup_is_stepped_in_the_schedulers_own_unit(tmp_path: Path) -> None:
    lrs = {}
    for unit, warmup in (("epoch", "{epochs: 3, start_factor: 0.1}"), ("step", "{steps: 3, start_factor: 0.1}")):
        spec = write(tmp_path, BASE.replace("EPOCHS", "4") + f"scheduler: {{type: StepLR, step_size: 100, "
                     f"interval: {unit}, warmup: {warmup}}}\n", f"{unit}.yaml")
        lrs[unit] = [r["lr"] for r in specc.train(spec, None).history]
    # per epoch: 0.1·lr, 0.4·lr, 0.7·lr, then lr after the third epoch's step (the lr logged is the epoch's)
    assert np.allclose(lrs["epoch"], [0.001, 0.004, 0.007, 0.01])
    # per step: the warmup is over within the first epoch (iris' 112 training rows are 4 batches)
    assert np.allclose(lrs["step"], [0.01] * 4)


def test_adafactor_on_a_torch_without_it_is_a_located_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write(tmp_path, BASE.replace("EPOCHS", "1").replace("type: Adam, lr: 0.01", "type: Adafactor, lr: 0.01"))
    monkeypatch.delattr(torch.optim, "Adafactor", raising=False)
    code, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "run"))
    assert code == 1
    assert f"{spec}:9:" in err and "T055" in err and "nothing was trained" in err
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_reduce_on_plateau_with_mode_max_watches_accuracy(tmp_path: Path) -> None:
    from specc.backends.train.loop import plateau_metric

    record = {"loss": 0.5, "val_loss": 0.4, "val_accuracy": 0.9}
    assert plateau_metric(record, "max") == 0.9 and plateau_metric(record, "min") == 0.4
    assert plateau_metric({"loss": 0.5}, "min") == 0.5


def test_the_loop_keeps_frozen_norm_statistics_of_a_pretrained_start(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    spec = write(tmp_path, """\
        specc: 1
        name: Net
        inputs: {image: [B, 1, 8, 8]}
        layers:
          - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, bias: false, name: conv, trainable: false}
          - {type: BatchNorm2d, name: bn, trainable: false}
          - {type: ReLU}
          - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}
          - {type: BatchNorm2d, name: live}
          - {type: GlobalAvgPool}
          - {type: Linear, out_features: 10, name: head}
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam, lr: 0.01}
        train: {epochs: 2, batch_size: 64, data: {source: digits, val_split: 0.2}}
        """)
    pretrained = {k: v.clone() for k, v in specc.build(spec).state_dict().items()}
    pretrained["bn.running_mean"].uniform_(1, 2)  # what only a pretrained checkpoint has
    pretrained["bn.running_var"].uniform_(2, 3)
    save_file(pretrained, str(tmp_path / "pre.safetensors"))
    result = specc.train(spec, tmp_path / "run", init_from=tmp_path / "pre.safetensors")
    after = load_tensors(tmp_path / "run" / "model.safetensors")
    for key in ("conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):
        assert torch.equal(after[key], pretrained[key]), key  # frozen, statistics included
    for key in ("live.running_mean", "head.weight"):
        assert not torch.equal(after[key], pretrained[key]), key
    assert result.report["init_from"]["missing"] == [] and result.report["init_from"]["loaded"] == len(pretrained)
