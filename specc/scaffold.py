"""``specc init``: a commented starting spec for a common task, ready to check and train.

Each scaffold is a complete spec that checks clean under ``--strict``, trains on a data set
that needs no download (one bundled with scikit-learn, or ``synthetic`` data of the declared
shapes), and explains in comments what each part does and what to change first.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Scaffold:
    task: str
    summary: str
    text: str


_IMAGE = """\
# Image classification: a small CNN (conv -> norm -> ReLU blocks, then global pooling).
# It trains as is on scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes, no
# download). For your own images: set the input shape and num_classes, and point
# train.data.source at a .npz file holding `x` (N, C, H, W) and `y` (N,) class ids.
specc: 1
name: ImageClassifier
description: A small CNN classifier; starts on scikit-learn's 8x8 digits.

vars:                      # change these first; ${...} expressions below read them
  num_classes: 10
  width: 16                # channels of the first conv; the second has twice as many

inputs:
  image: [B, 1, 8, 8]      # (batch, channels, height, width): channels first, as PyTorch reads

layers:                    # a chain: each layer reads the one above it
  # bias: false because the BatchNorm right after subtracts the mean anyway (lint L004)
  - {type: Conv2d, out_channels: "${width}", kernel_size: 3, padding: 1, bias: false}
  - {type: BatchNorm2d}
  - {type: ReLU}
  - {type: MaxPool2d, kernel_size: 2}                 # 8x8 -> 4x4
  - {type: Conv2d, out_channels: "${width * 2}", kernel_size: 3, padding: 1, bias: false}
  - {type: BatchNorm2d}
  - {type: ReLU}
  # Average each channel over the whole map: (B, 32) whatever the image size, and far fewer
  # weights than Flatten + Linear (lint L018 warns when one Linear holds most of them).
  - {type: GlobalAvgPool}
  - {type: Dropout, p: 0.2}
  - {type: Linear, out_features: "${num_classes}", name: logits}   # raw scores, no Softmax

loss: {type: CrossEntropyLoss}       # takes the raw logits and integer class targets
optimizer: {type: Adam, lr: 3.0e-3}
train:
  epochs: 10
  batch_size: 64
  data: {source: digits, val_split: 0.2}
"""

_SEQUENCE = """\
# Sequence classification: one label per whole sequence (activity recognition from sensor
# windows, a sentiment per review). An LSTM reads the steps and hands on its last step.
# It trains as is on synthetic data (random series of the declared shape); for your own,
# point train.data.source at a .npz file with `x` (N, T, features) and `y` (N,) class ids.
specc: 1
name: SequenceClassifier
description: An LSTM over (B, T, features) series, one class per sequence.

vars:
  features: 3              # values per step, e.g. a 3-axis accelerometer
  hidden: 64
  num_classes: 6

inputs:
  series: [B, T, "${features}"]       # T stays symbolic: any length works

layers:
  # output: last gives one vector per sequence (B, hidden). The default, output: sequence,
  # gives one per step (B, T, hidden): for tagging, not here (lint L010 says so).
  - {type: LSTM, hidden_size: "${hidden}", num_layers: 2, dropout: 0.2, output: last}
  - {type: Dropout, p: 0.2}
  - {type: Linear, out_features: "${num_classes}", name: logits}

loss: {type: CrossEntropyLoss}
optimizer: {type: Adam, lr: 2.0e-3}
train:
  epochs: 5
  batch_size: 32
  data: {source: synthetic, num_samples: 256}
export:
  sizes: {T: 32}           # the length used to trace and test the model; T stays dynamic
"""

_TAGGING = """\
# Tagging: one label per step (part-of-speech tags, named entities, per-frame events).
# A bidirectional LSTM reads the tokens both ways; a Linear scores the tags at every step.
# It trains as is on synthetic token ids; for your own data use a .npz file with `x` (N, T)
# token ids and `y` (N, T) tag ids, and set vocab to your vocabulary size.
specc: 1
name: SequenceTagger
description: A bidirectional LSTM tagger, one tag per token.

vars:
  vocab: 5000
  embed: 64
  hidden: 64
  num_tags: 9

inputs:
  tokens: {shape: [B, T], dtype: int64}     # token ids, 0 is padding

layers:
  - {type: Embedding, num_embeddings: "${vocab}", embedding_dim: "${embed}", padding_idx: 0, name: emb}
  # each sentence's length, its ids that are not 0: the backward direction starts at its last word,
  # not on the padding after it (lint L058)
  - {type: Compare, from: tokens, op: ne, value: 0}
  - {type: Cast, dtype: int64}
  - {type: Reduce, op: sum, dim: 1, name: lengths}
  # output: sequence keeps every step: (B, T, 2·hidden), both directions side by side (0 past each length).
  - {type: LSTM, from: [emb, lengths], hidden_size: "${hidden}", bidirectional: true, output: sequence}
  - {type: Dropout, p: 0.3}
  - {type: Linear, out_features: "${num_tags}"}                    # (B, T, num_tags)
  # CrossEntropyLoss reads the classes from dim 1: (B, num_tags, T) against (B, T) targets.
  - {type: Permute, dims: [0, 2, 1], name: tag_logits}

loss: {type: CrossEntropyLoss, ignore_index: -100}   # set targets to -100 where there is padding
optimizer: {type: Adam, lr: 2.0e-3}
train:
  epochs: 5
  batch_size: 32
  data: {source: synthetic, num_samples: 256}
export:
  sizes: {T: 24}
"""

_REGRESSION = """\
# Regression: predict a real number from a feature vector. An MLP with ReLU between its
# layers, and a last Linear with no activation, so it can output any value (lint L005 and
# L013 warn about a ReLU or Sigmoid there). It trains as is on scikit-learn's diabetes data
# (442 patients, 10 features; targets are standardised by the training script).
specc: 1
name: Regressor
description: An MLP regressor; starts on scikit-learn's diabetes data.

vars:
  features: 10
  width: 64
  dropout: 0.1

inputs:
  features: [B, "${features}"]        # (batch, features); B stays symbolic

layers:                               # a chain: each layer reads the one above it
  - {type: Linear, out_features: "${width}"}          # in_features is inferred from the input
  - {type: ReLU}                      # without it the two Linears collapse into one (lint L017)
  - {type: Dropout, p: "${dropout}"}
  - {type: Linear, out_features: "${width // 2}"}
  - {type: ReLU}
  - {type: Linear, out_features: 1, name: prediction}

loss: {type: MSELoss}                 # HuberLoss is more forgiving of outliers
optimizer: {type: AdamW, lr: 3.0e-3, weight_decay: 1.0e-4}
train:
  epochs: 50
  batch_size: 32
  data: {source: diabetes, val_split: 0.2}            # 20% held out to watch for overfitting
  early_stopping: {monitor: val_loss, patience: 10}   # stop once val_loss stalls for 10 epochs
"""

_TEXT = """\
# Text classification with a Transformer encoder: token ids -> embeddings + positions ->
# self-attention layers -> the mean over the tokens -> class scores.
# It trains as is on synthetic token ids; for your own data use a .npz file with `x` (N, T)
# token ids and `y` (N,) class ids, and set vocab to your vocabulary size.
specc: 1
name: TextClassifier
description: A Transformer encoder text classifier with mean pooling.

vars:
  vocab: 8000
  d_model: 64              # must be divisible by heads
  heads: 4
  num_classes: 3

inputs:
  tokens: {shape: [B, T], dtype: int64}

layers:
  - {type: Embedding, num_embeddings: "${vocab}", embedding_dim: "${d_model}"}    # (B, T, 64)
  - {type: PositionalEncoding, kind: sinusoidal, max_len: 512, dropout: 0.1}     # order matters
  - {type: TransformerEncoder, nhead: "${heads}", dim_feedforward: "${4 * d_model}", dropout: 0.1,
     activation: gelu, norm_first: true, num_layers: 2, norm: true}
  - {type: Mean, dim: 1}                          # one vector per text: (B, 64)
  - {type: Linear, out_features: "${num_classes}", name: logits}

loss: {type: CrossEntropyLoss, label_smoothing: 0.1}
optimizer: {type: AdamW, lr: 5.0e-4, weight_decay: 1.0e-2}
train:
  epochs: 3
  batch_size: 32
  data: {source: synthetic, num_samples: 256}
export:
  exporter: dynamo         # PyTorch's attention keeps B and T dynamic only under torch.export
  sizes: {T: 32}
"""

SCAFFOLDS: dict[str, Scaffold] = {s.task: s for s in (
    Scaffold("image-classification", "a CNN over images (trains on the bundled 8x8 digits)", _IMAGE),
    Scaffold("sequence-classification", "an LSTM, one class per sequence (synthetic data)", _SEQUENCE),
    Scaffold("tagging", "a bidirectional LSTM, one tag per token (synthetic data)", _TAGGING),
    Scaffold("regression", "an MLP predicting a number (trains on the bundled diabetes data)", _REGRESSION),
    Scaffold("text-classification", "a Transformer encoder over token ids (synthetic data)", _TEXT),
)}


class InitError(Exception):
    """A usage problem of ``specc init`` (the CLI turns it into exit code 2)."""


def write_scaffold(task: str, output: str | None, force: bool = False) -> str:
    """The scaffold's text, written atomically to ``output`` (stdout when None or '-')."""
    from .atomic import atomic_write

    scaffold = SCAFFOLDS.get(task)
    if scaffold is None:
        raise InitError(f"unknown task {task!r}; choose one of: {', '.join(SCAFFOLDS)}")
    if output in (None, "-"):
        sys.stdout.write(scaffold.text)
        return scaffold.text
    target = Path(output)
    if target.is_dir():
        raise InitError(f"{output} is a directory; give a file name such as {output}/model.yaml")
    if target.exists() and not force:
        raise InitError(f"{output} exists; pass --force to overwrite it")
    try:
        atomic_write(target, scaffold.text)
    except OSError as exc:  # a read-only folder or a file where a folder should be: as every -o says it
        raise InitError(f"cannot write {output}: {exc.strerror or exc}") from None
    return scaffold.text
