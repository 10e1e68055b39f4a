"""Mistakes people make, round 7 (helper a26): attention masks read from the data, LoRA's scale, from: written
as a count, and the training section. Each mistake is checked at its line with its fix, and its corrected spec
is quiet; the correct look-alikes must stay quiet. The V003 hint of from: [x, -1] is in tests/corpus/bad/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import specc

H = "specc: 1\n"
T = "optimizer: {type: Adam}\ntrain: {epochs: 1, batch_size: 8, data: {source: synthetic, num_samples: 32}}\n"


def _check(text: str) -> specc.Spec:
    return specc.loads(text, "m.yaml")


def _load(tmp_path: Path, text: str) -> specc.Spec:
    (tmp_path / "s.yaml").write_text(text)
    return specc.load(tmp_path / "s.yaml")


def _codes(spec: specc.Spec, code: str) -> list[specc.Diagnostic]:
    return [d for d in spec.diagnostics if d.code == code]


def _line_col(text: str, line: int, token: str) -> tuple[int, int]:
    return line, text.splitlines()[line - 1].index(token) + 1


# --- V160: LoRA's alpha written as the scale itself ----------------------------------------------------------

LORA = H + """inputs: {x: [B, 128]}
layers:
  - {type: Linear, out_features: 128, name: fc1}
  - {type: ReLU}
  - {type: Linear, out_features: 2, trainable: true}
lora: {rank: 64, alpha: 1, targets: [fc1]}
loss: {type: CrossEntropyLoss}
""" + T


def test_v160_lora_alpha_one_at_rank_64_and_its_fix() -> None:
    spec = _check(LORA)
    (d,) = spec.diagnostics
    assert spec.ok and d.code == "V160" and d.severity == "warning"
    assert (d.loc.line, d.loc.col) == _line_col(LORA, 7, "1, targets")
    assert "alpha / rank = 0.0156" in d.message and "64 times slower" in d.message
    assert d.hint.startswith("set alpha: 64")
    assert not _check(LORA.replace("alpha: 1,", "alpha: 64,")).diagnostics


@pytest.mark.parametrize("lora", [
    "{rank: 8, alpha: 16, targets: [fc1]}",  # alpaca-lora
    "{rank: 64, alpha: 16, targets: [fc1]}",  # QLoRA: a scale of 0.25
    "{rank: 8, targets: [fc1]}",  # the default alpha 16
    "{rank: 4, alpha: 4, targets: [fc1]}",
])
def test_v160_quiet_on_published_scales(lora: str) -> None:
    spec = _check(LORA.replace("{rank: 64, alpha: 1, targets: [fc1]}", lora))
    assert spec.ok and not _codes(spec, "V160")


def test_v160_default_alpha_at_a_large_rank_points_at_the_rank() -> None:
    text = LORA.replace("{rank: 64, alpha: 1, targets: [fc1]}", "{rank: 512, targets: [fc1]}")
    (d,) = _codes(_check(text), "V160")
    assert "alpha 16 (the default) at rank 512" in d.message and d.loc.line == 7


# --- attention masks in the data: T089, and L040 / T004 / V067 false alarms on an additive mask -------------

MHA = H + """inputs:
  x: [B, T, 16]
  pad: [B, T]
layers:
  - {type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 32, masks: [key_padding], from: [x, pad]}
  - {type: Mean, dim: 1}
  - {type: Linear, out_features: 2}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam}
train: {epochs: 1, batch_size: 8, data: {source: d.npz, x_key: {x: x, pad: pad}}}
"""
FILL = H + """inputs:
  x: [B, T, 16]
  pad: {shape: [B, T], dtype: bool}
layers:
  - {type: Linear, out_features: 16, from: x, name: q}
  - {type: Transpose, from: x, dim0: 1, dim1: 2, name: kt}
  - {type: MatMul, from: [q, kt], name: scores}
  - {type: Unsqueeze, from: pad, dim: 1, name: hide}
  - {type: MaskedFill, from: [scores, hide], value: -.inf}
  - {type: Softmax, dim: -1}
  - {type: MatMul, from: [softmax_1, x]}
  - {type: Mean, dim: 1}
  - {type: Linear, out_features: 2}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam}
train: {epochs: 1, batch_size: 8, data: {source: d.npz, x_key: {x: x, pad: pad}}}
"""


def _padded(tmp_path: Path, form: str, empty: tuple[int, ...] = ()) -> None:
    """Right-padded sequences of 1 to 6 steps; the samples in ``empty`` nothing but padding; the mask
    true at the padding (bool), 0/-inf, 0/-1e9 or 0/1 (a tokenizer's numbers, inverted) as floats."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 7, 40)
    lengths[list(empty)] = 0
    pad = np.arange(6)[None, :] >= lengths[:, None]
    m = {"bool": pad, "inf": np.where(pad, -np.inf, 0.0), "1e9": np.where(pad, -1e9, 0.0),
         "01": pad.astype(np.float32)}[form]
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(40, 6, 16)).astype(np.float32),
             pad=m.astype(m.dtype if form == "bool" else np.float32), y=rng.integers(0, 2, 40))


@pytest.mark.parametrize(("text", "form"), [(MHA, "inf"), (FILL, "bool")])
def test_t089_a_sample_of_only_padding(tmp_path: Path, text: str, form: str) -> None:
    _padded(tmp_path, form, empty=(3, 7))
    spec = _load(tmp_path, text)
    (d,) = spec.errors
    assert d.code == "T089" and (d.loc.line, d.loc.col) == (4, 8)  # the mask input's declaration
    assert "hides all its keys in 2 of 40 samples (the first is sample 3)" in d.message and "nan" in d.message
    assert d.hint.startswith("drop the samples of nothing but padding")
    _padded(tmp_path, form)  # the fix: the empty samples dropped (here: given a step)
    assert _load(tmp_path, text).ok


def test_t089_quiet_on_a_finite_fill(tmp_path: Path) -> None:
    """-1e9 in every key of a row spreads its attention evenly: no nan, nothing to refuse."""
    _padded(tmp_path, "1e9", empty=(3,))
    assert _load(tmp_path, MHA).ok


@pytest.mark.parametrize("form", ["inf", "1e9"])
def test_l040_taken_back_when_the_data_holds_an_additive_mask(tmp_path: Path, form: str) -> None:
    """A 0/-inf float key-padding mask is what PyTorch means by one: before, L040 warned on it, the -inf
    was refused as T004 and a -1e9 drew V067 (values too large to feed); the mask was standardised."""
    _padded(tmp_path, form)
    spec = _load(tmp_path, MHA)
    assert spec.ok and not spec.diagnostics, [f"{d.code} {d.message}" for d in spec.diagnostics]
    from specc.validate.train_config import scaling, train_config

    assert scaling(train_config(spec))[0] == {"x": "none", "pad": "none"}


def test_l040_kept_when_the_data_holds_0_and_1(tmp_path: Path) -> None:
    _padded(tmp_path, "01")
    (d,) = _load(tmp_path, MHA).diagnostics
    assert d.code == "L040" and "0/1 values shift scores by 1" in d.message


def test_t004_still_refuses_nan_in_a_mask(tmp_path: Path) -> None:
    _padded(tmp_path, "inf")
    data = dict(np.load(tmp_path / "d.npz"))
    data["pad"][5, 0] = np.nan
    np.savez(tmp_path / "d.npz", **data)
    (d,) = _load(tmp_path, MHA).errors
    assert d.code == "T004" and "NaN at sample 5" in d.message


# --- T090: next-step targets read through a layer that sees the next step ------------------------------------

GPT = H + """inputs: {ids: {shape: [B, T], dtype: int64}}
layers:
  - {type: Embedding, num_embeddings: 1000, embedding_dim: 32}
  - {type: PositionalEncoding, kind: learned, max_len: 64}
  - {type: TransformerEncoder, nhead: 4, num_layers: 1, dim_feedforward: 64}
  - {type: Linear, out_features: 1000}
loss: {type: CrossEntropyLoss, class_dim: -1}
optimizer: {type: AdamW, lr: 3.0e-4}
train: {epochs: 1, batch_size: 8, data: {source: d.npz}}
"""
FORECAST = H + """inputs: {x: [B, T, 1]}
layers:
  - {type: LSTM, hidden_size: 16, bidirectional: true, output: sequence}
  - {type: Linear, out_features: 1}
loss: {type: MSELoss}
optimizer: {type: Adam}
train: {epochs: 1, batch_size: 8, data: {source: d.npz}}
"""


def _tokens(tmp_path: Path, shift: int) -> None:
    """Token rows of 20 steps; the targets the inputs ``shift`` steps on (1: a language model, 0: a masked LM)."""
    ids = np.random.default_rng(0).integers(1, 1000, (48, 21))
    np.savez(tmp_path / "d.npz", x=ids[:, :-1], y=ids[:, shift:20 + shift])


def test_t090_gpt_trained_without_a_causal_mask(tmp_path: Path) -> None:
    _tokens(tmp_path, 1)
    spec = _load(tmp_path, GPT)
    (d,) = spec.diagnostics
    assert spec.ok and d.code == "T090" and d.severity == "warning"
    assert (d.loc.line, d.loc.col) == (6, 5)
    assert "a next-token model, but TransformerEncoder 'transformer_encoder_1' attends to every step" in d.message
    assert d.hint == "set causal: true on TransformerEncoder 'transformer_encoder_1'"
    assert not _load(tmp_path, GPT.replace("dim_feedforward: 64}", "dim_feedforward: 64, causal: true}")).diagnostics


def test_t090_quiet_on_a_masked_language_model(tmp_path: Path) -> None:
    _tokens(tmp_path, 0)  # BERT's targets: the tokens at their own positions
    spec = _load(tmp_path, GPT)
    assert spec.ok and not spec.diagnostics


def _series(tmp_path: Path, steps: int) -> None:
    s = np.cumsum(np.random.default_rng(0).normal(size=(48, steps + 1)), axis=1).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=s[:, :-1, None], y=s[:, 1:, None])


def test_t090_bidirectional_lstm_on_a_one_step_ahead_forecast(tmp_path: Path) -> None:
    """24 steps of data, not the export size's 16: before, check refused the per-step targets as T003
    (it sized the output at 16 steps); the backward direction reads x[t + 1] = y[t]."""
    _series(tmp_path, 24)
    spec = _load(tmp_path, FORECAST)
    (d,) = _codes(spec, "T090")
    assert spec.ok and "LSTM 'lstm_1' reads the sequence backwards too" in d.message
    assert d.hint == "set bidirectional: false on LSTM 'lstm_1'" and d.loc.line == 4
    fixed = _load(tmp_path, FORECAST.replace("bidirectional: true", "bidirectional: false"))
    assert fixed.ok and not fixed.diagnostics


def test_t090_quiet_on_a_bidirectional_lstm_reading_the_past_window(tmp_path: Path) -> None:
    """Forecasting the next value from a window with a BiLSTM's last step: the window is all past."""
    s = np.cumsum(np.random.default_rng(0).normal(size=(48, 25)), axis=1).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=s[:, :-1, None], y=s[:, -1:])
    text = FORECAST.replace("output: sequence", "output: last")
    spec = _load(tmp_path, text)
    assert spec.ok and not spec.diagnostics, [f"{d.code} {d.message}" for d in spec.diagnostics]


# --- the training section: T091 OneCycleLR's peak below the lr written, T092 val_split written as the train share

CLS = H + """inputs: {x: [B, 20]}
layers:
  - {type: Linear, out_features: 64}
  - {type: ReLU}
  - {type: Linear, out_features: 5}
loss: {type: CrossEntropyLoss}
"""


def test_t091_onecycle_max_lr_below_the_optimizers_lr() -> None:
    text = CLS + "optimizer: {type: SGD, lr: 0.1, momentum: 0.9}\nscheduler: {type: OneCycleLR, max_lr: 0.01}\n" + \
        "train: {epochs: 5, batch_size: 8, data: {source: synthetic, num_samples: 64}}\n"
    spec = _check(text)
    (d,) = spec.diagnostics
    assert spec.ok and d.code == "T091" and (d.loc.line, d.loc.col) == _line_col(text, 9, "0.01")
    assert "starts at max_lr / div_factor = 0.0004, peaks at max_lr: 0.01, 10 times below" in d.message
    assert d.hint.startswith("set max_lr: 0.1")
    assert not _check(text.replace("max_lr: 0.01", "max_lr: 0.1")).diagnostics
    # the optimizer's lr left out (OneCycleLR sets it): nothing to say
    assert not _check(text.replace("lr: 0.1, momentum", "momentum")).diagnostics


@pytest.mark.parametrize(("split", "fix"), [("0.8", "0.2"), ("0.9", "0.1")])
def test_t092_val_split_written_as_the_training_share(split: str, fix: str) -> None:
    text = CLS + "optimizer: {type: Adam}\n" + \
        f"train: {{epochs: 5, batch_size: 8, data: {{source: synthetic, num_samples: 64, val_split: {split}}}}}\n"
    (d,) = _check(text).diagnostics
    assert d.code == "T092" and (d.loc.line, d.loc.col) == _line_col(text, 9, split)
    assert f"trains on {round(100 - float(split) * 100)}%" in d.message and d.hint.startswith(f"set val_split: {fix}")
    assert not _check(text.replace(f"val_split: {split}", f"val_split: {fix}")).diagnostics


@pytest.mark.parametrize(("loss", "monitor", "says", "hint"), [
    # the ROC AUC of a 5-class head: the nearest name, val_recall, was offered as what was meant
    ("CrossEntropyLoss", "val_roc_auc", "val_roc_auc is a metric of a binary (yes/no) head",
     "monitor one of val_accuracy, val_f1, val_loss, val_precision, val_recall"),
    ("MSELoss", "val_accuracy", "val_accuracy is a metric of a multi-class head and a binary (yes/no) head",
     "monitor one of val_loss, val_mae, val_r2, val_rmse"),
])
def test_v023_a_metric_of_another_task_is_not_taken_for_a_misspelling(loss: str, monitor: str, says: str,
                                                                        hint: str) -> None:
    text = CLS.replace("CrossEntropyLoss", loss) + "optimizer: {type: Adam}\n" + \
        f"train: {{epochs: 5, early_stopping: {{monitor: {monitor}}}, data: {{source: synthetic}}}}\n"
    (d,) = _check(text).errors
    assert d.code == "V023" and says in d.message and d.hint == hint


IDS = H + """inputs: {ids: {shape: [B, T], dtype: int64}}
layers:
  - {type: Embedding, num_embeddings: 100, embedding_dim: 16, padding_idx: 0, name: emb}
  - {type: Compare, from: ids, op: eq, value: 0, name: pad}
  - {type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 32, masks: [key_padding], from: [emb, pad]}
  - {type: Reduce, op: max, dim: 1}
  - {type: Linear, out_features: 2}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam}
train: {epochs: 1, batch_size: 8, data: {source: d.npz, x_key: ids}}
"""


def test_t089_padding_mask_the_model_makes_of_the_ids(tmp_path: Path) -> None:
    """mask = ids == pad_id, as Hugging Face models build it: a row of nothing but pad ids hides every key."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 100, (40, 8))
    ids[np.arange(8)[None, :] >= rng.integers(1, 9, 40)[:, None]] = 0
    np.savez(tmp_path / "d.npz", ids=ids, y=rng.integers(0, 2, 40))
    assert _load(tmp_path, IDS).ok
    ids[[5, 9]] = 0
    np.savez(tmp_path / "d.npz", ids=ids, y=rng.integers(0, 2, 40))
    (d,) = _load(tmp_path, IDS).errors
    assert d.code == "T089" and "key-padding mask made of 'ids' (ids == 0)" in d.message
    assert "2 of 40 samples (the first is sample 5)" in d.message


WLM = H + """inputs: {ids: {shape: [B, T], dtype: int64}}
layers:
  - {type: Embedding, num_embeddings: 1000, embedding_dim: 200}
  - {type: LSTM, hidden_size: 200, num_layers: 2, dropout: 0.2}
  - {type: Linear, out_features: 1000}
loss: {type: CrossEntropyLoss, class_dim: -1}
optimizer: {type: SGD, lr: 20}
train: {epochs: 4, batch_size: 20, data: {source: synthetic, num_samples: 64}}
"""


def test_t058_recurrent_lm_at_sgd_lr_20_without_its_gradient_clipping() -> None:
    """PyTorch's word_language_model (SGD at lr 20) with its --clip 0.25 left out: the hint was only
    'use an lr near 0.001'; the recipe's fix is the clip."""
    (d,) = _check(WLM).diagnostics
    assert d.code == "T058" and "nothing clips them: train.grad_clip is unset" in d.message
    assert d.hint.startswith("set grad_clip: 0.5 (") and "or use an lr near 0.001" in d.hint
    assert not _check(WLM.replace("batch_size: 20,", "batch_size: 20, grad_clip: 0.25,")).diagnostics
    # a feed-forward model at lr 20 gets no clip to try: its lr is the mistake
    (d,) = _codes(_check(WLM.replace("LSTM, hidden_size: 200, num_layers: 2, dropout: 0.2", "GELU")), "T058")
    assert d.hint.startswith("use an lr near 0.001")


# --- T093: a deep post-LN Transformer under Adam with no warmup ----------------------------------------------

POST_LN = H + """inputs: {src: {shape: [B, S], dtype: int64}}
layers:
  - {type: Embedding, num_embeddings: 1000, embedding_dim: 256}
  - {type: PositionalEncoding}
  - {type: TransformerEncoder, nhead: 4, num_layers: 6, dim_feedforward: 512}
  - {type: Reduce, op: mean, dim: 1}
  - {type: Linear, out_features: 2}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam, lr: 1.0e-3}
train: {epochs: 4, batch_size: 8, data: {source: synthetic, num_samples: 32}}
"""


def test_t093_post_ln_stack_without_warmup_and_both_fixes() -> None:
    (d,) = _check(POST_LN).diagnostics
    assert d.code == "T093" and d.severity == "warning" and d.loc.line == 6
    assert "6 post-LN Transformer layers" in d.message and "under Adam at lr 0.001" in d.message
    assert d.hint.startswith("add a warmup (scheduler: {type: LinearLR, start_factor: 0.01, total_iters: 1})")
    warmed = POST_LN.replace("lr: 1.0e-3}\n", "lr: 1.0e-3}\nscheduler: {type: LinearLR, start_factor: 0.01, "
                             "total_iters: 1}\n")
    pre_ln = POST_LN.replace("dim_feedforward: 512}", "dim_feedforward: 512, norm_first: true, norm: true}")
    assert not _check(warmed).diagnostics and not _check(pre_ln).diagnostics


@pytest.mark.parametrize(("old", "new"), [
    ("lr: 1.0e-3", "lr: 1.0e-4"),  # a fine-tuning lr
    ("num_layers: 6", "num_layers: 2"),  # shallow
    ("{type: Adam,", "{type: RAdam,"),  # rectifies its first steps itself
    ("embedding_dim: 256", "embedding_dim: 64"),  # a toy width, as no measurement covers
])
def test_t093_quiet(old: str, new: str) -> None:
    assert not _codes(_check(POST_LN.replace(old, new)), "T093")
