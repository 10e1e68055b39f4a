"""Mistakes people make, round 6 (helper c25): fine-tuning, Transformers, sequence models, images, GANs and
VAEs, metric learning, regression. Each mistake is checked at its line with its fix, and its corrected spec is
quiet; the correct look-alikes must stay quiet. The new rules' own cases are in tests/corpus/lint/ (L060
pre-norm stack without a final norm, L061 attention scale above 1, L062 Normalize over the positions, L013 of a
Softmax regression head, L049 of a causal [CLS] read-out) and tests/corpus/bad/ (T053 of a Tanh before BCELoss)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import specc

H = "specc: 1\n"
T = "optimizer: {type: Adam}\ntrain: {epochs: 1, batch_size: 4, data: {source: synthetic, num_samples: 16}}\n"
LM = """inputs: {ids: {shape: [B, T], dtype: int64}}
layers:
  - {type: Embedding, num_embeddings: 1000, embedding_dim: 64}
  - {type: PositionalEncoding, kind: learned, max_len: 256}
"""


def _check(text: str) -> specc.Spec:
    return specc.loads(text, "m.yaml")


def _only(spec: specc.Spec, code: str) -> specc.Diagnostic:
    found = [d for d in spec.diagnostics if d.code == code]
    assert len(found) == 1, [f"{d.code} {d.message}" for d in spec.diagnostics]
    return found[0]


def _line_col(text: str, line: int, token: str) -> tuple[int, int]:
    return line, text.splitlines()[line - 1].index(token) + 1


# --- L060: a pre-norm stack read with no final norm ----------------------------------------------------------

PRENORM_DECODER = H + """inputs:
  src: [B, S, 32]
  tgt: [B, T, 32]
layers:
  - {type: TransformerEncoder, from: src, nhead: 4, num_layers: 1, dim_feedforward: 64, norm_first: true,
     norm: true, name: memory}
  - {type: TransformerDecoder, from: [tgt, memory], nhead: 4, num_layers: 2, dim_feedforward: 64,
     norm_first: true, causal: true}
  - {type: Dropout, p: 0.1}
  - {type: Linear, out_features: 100}
loss: {type: CrossEntropyLoss, class_dim: -1}
""" + T


def test_l060_pre_norm_decoder_through_dropout_and_its_fix() -> None:
    spec = _check(PRENORM_DECODER)
    d = _only(spec, "L060")
    assert spec.ok and d.severity == "warning"
    assert (d.loc.line, d.loc.col) == _line_col(PRENORM_DECODER, 9, "norm_first")
    assert "TransformerDecoder 'transformer_decoder_1'" in d.message and "Linear 'linear_1'" in d.message
    assert d.hint.startswith("set norm: true on this TransformerDecoder")
    fixed = PRENORM_DECODER.replace(" 2, dim_feedforward: 64,\n", " 2, dim_feedforward: 64, norm: true,\n")
    assert _check(fixed).ok and not _check(fixed).diagnostics


def test_l060_pre_norm_encoder_as_the_model_output() -> None:
    text = H + LM + "  - {type: TransformerEncoder, nhead: 4, num_layers: 2, dim_feedforward: 128, norm_first: true}\n"
    d = _only(_check(text), "L060")
    assert "the model outputs it" in d.message


@pytest.mark.parametrize("tail", [
    "  - {type: TransformerEncoder, nhead: 4, num_layers: 2, dim_feedforward: 128}\n",  # post-norm
    "  - {type: TransformerEncoder, nhead: 4, num_layers: 2, dim_feedforward: 128, norm_first: true, norm: true}\n",
    "  - {type: TransformerEncoder, nhead: 4, num_layers: 2, dim_feedforward: 128, norm_first: true}\n"
    "  - {type: RMSNorm}\n",
    # the stack's output goes on into a residual merge the spec shapes itself: nothing to say
    "  - {type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 128, norm_first: true, name: b}\n"
    "  - {type: Add, from: [b, positional_encoding_1]}\n  - {type: LayerNorm}\n",
])
def test_l060_quiet(tail: str) -> None:
    head = "  - {type: Linear, out_features: 1000}\nloss: {type: CrossEntropyLoss, class_dim: -1}\n"
    spec = _check(H + LM + tail + head)
    assert spec.ok and not [d for d in spec.diagnostics if d.code == "L060"]


# --- L061: attention scale above 1 -----------------------------------------------------------------------------

@pytest.mark.parametrize(("scale", "says", "fix"), [
    ("4.0", "√head_dim itself", "use scale: 0.25"),  # sqrt(64 / 4) written where its reciprocal belongs
    ("8.0", "PyTorch's default multiplies them by 1/√16 = 0.25", "leave scale out"),  # sqrt(d_model), Keras' habit
])
def test_l061_attention_scale_above_one(scale: str, says: str, fix: str) -> None:
    text = H + f"inputs: {{x: [B, T, 64]}}\nlayers:\n  - {{type: MultiheadAttention, num_heads: 4, scale: {scale}}}\n"
    d = _only(_check(text), "L061")
    assert (d.loc.line, d.loc.col) == _line_col(text, 4, "scale:")
    assert says in d.message and d.hint.startswith(fix)
    fixed = _check(text.replace(f"scale: {scale}", "scale: 0.25"))
    assert fixed.ok and not fixed.diagnostics


# --- L062 / L009: Normalize over the positions, or over the batch -----------------------------------------------

def test_l009_normalize_over_the_batch() -> None:
    text = H + "inputs: {x: [B, 128]}\nlayers:\n  - {type: Linear, out_features: 64}\n  - {type: ReLU}\n" \
        "  - {type: Linear, out_features: 32}\n  - {type: Normalize, dim: 0}\n"
    d = _only(_check(text), "L009")
    assert "Normalize 'normalize_1'" in d.message and "the batch" in d.message
    assert (d.loc.line, d.loc.col) == _line_col(text, 7, "dim: 0")
    assert not _check(text.replace("dim: 0", "dim: 1")).diagnostics


def test_l062_normalize_default_dim_over_a_recurrent_sequence() -> None:
    text = H + "inputs: {x: [B, 20, 8]}\nlayers:\n  - {type: GRU, hidden_size: 16}\n  - {type: Normalize}\n"
    d = _only(_check(text), "L062")
    assert "GRU 'gru_1' wrote 16 features per position" in d.message and d.hint == "set dim: -1 to normalise each " \
        "position's vector"
    assert not _check(text.replace("{type: Normalize}", "{type: Normalize, dim: -1}")).diagnostics


# --- L013 of a Softmax head under a regression loss ------------------------------------------------------------

@pytest.mark.parametrize("loss", ["MSELoss", "HuberLoss", "L1Loss"])
def test_l013_softmax_regression_head(loss: str) -> None:
    text = H + "inputs: {x: [B, 13]}\nlayers:\n  - {type: Linear, out_features: 64}\n  - {type: ReLU}\n" \
        f"  - {{type: Linear, out_features: 3}}\n  - {{type: Softmax, dim: 1}}\nloss: {{type: {loss}}}\n"
    d = _only(_check(text), "L013")
    assert "stay in (0, 1) and sum to 1 along dim 1" in d.message and d.hint.startswith("remove 'softmax_1'")
    assert not _check(text.replace("  - {type: Softmax, dim: 1}\n", "")).diagnostics


def test_l013_leaves_a_softmax_of_one_value_to_l024() -> None:
    text = H + "inputs: {x: [B, 13]}\nlayers:\n  - {type: Linear, out_features: 1}\n  - {type: Softmax}\n" \
        "loss: {type: MSELoss}\n"
    assert [d.code for d in _check(text).diagnostics] == ["L024"]


# --- L049 through an Embedding: a causal encoder read at the [CLS] id ---------------------------------------------

def test_l049_causal_encoder_read_at_the_first_id() -> None:
    text = H + LM + "  - {type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 128, causal: true}\n" \
        "  - {type: LayerNorm}\n  - {type: Select, dim: 1, index: 0}\n  - {type: Linear, out_features: 2}\n" \
        "loss: {type: CrossEntropyLoss}\n"
    d = _only(_check(text), "L049")
    assert "the output depends on the first token alone" in d.message
    assert not _check(text.replace(", causal: true", "")).diagnostics
    assert not _check(text.replace("index: 0", "index: -1")).diagnostics


# --- T053 names the range of a bounded activation, and replaces it -----------------------------------------------

@pytest.mark.parametrize(("act", "span"), [("Tanh", "(-1, 1)"), ("ReLU", "[0, ∞)"), ("Softplus", "(0, ∞)")])
def test_t053_names_the_activation_range(act: str, span: str) -> None:
    text = H + "inputs: {x: [B, 784]}\nlayers:\n  - {type: Linear, out_features: 32}\n  - {type: ReLU}\n" \
        f"  - {{type: Linear, out_features: 784}}\n  - {{type: {act}}}\nloss: {{type: BCELoss}}\n"
    spec = _check(text)
    (d,) = spec.errors
    name = f"{act.lower() if act != 'ReLU' else 'relu'}_{2 if act == 'ReLU' else 1}"
    assert d.code == "T053" and f"whose values lie in {span}" in d.message
    assert d.hint.startswith(f"replace '{name}' with - {{type: Sigmoid}}")
    assert _check(text.replace(f"{{type: {act}}}", "{type: Sigmoid}")).ok


# --- mistakes caught before this round, pinned at their code ------------------------------------------------------

CAUGHT = [
    # everything frozen: nothing trains
    ("inputs: {x: [B, 64]}\nlayers:\n  - {type: Linear, out_features: 64, trainable: false}\n  - {type: ReLU}\n"
     "  - {type: Linear, out_features: 3, trainable: false}\nloss: {type: CrossEntropyLoss}\n" + T, "V035"),
    # a param group of frozen layers only
    ("inputs: {x: [B, 64]}\nlayers:\n  - {type: Linear, out_features: 64, name: backbone, trainable: false}\n"
     "  - {type: ReLU}\n  - {type: Linear, out_features: 3}\nloss: {type: CrossEntropyLoss}\n"
     "optimizer: {type: AdamW, param_groups: [{params: [backbone], lr: 1.0e-5}]}\n", "T065"),
    # LoRA on a convolution
    ("inputs: {x: [B, 3, 32, 32]}\nlayers:\n  - {type: Conv2d, out_channels: 8, kernel_size: 3, name: conv}\n"
     "  - {type: GlobalAvgPool}\n  - {type: Linear, out_features: 3, trainable: true}\n"
     "lora: {rank: 4, targets: [conv]}\n", "V031"),
    # positions shorter than the sequence once a class token is prepended
    ("inputs: {x: [B, 16, 64]}\nlayers:\n  - {type: ClassToken}\n  - {type: PositionalEncoding, kind: learned, "
     "max_len: 16}\n", "S001"),
    # a tied head fed a width other than the embedding's
    ("inputs: {ids: {shape: [B, T], dtype: int64}}\nlayers:\n  - {type: Embedding, num_embeddings: 100, "
     "embedding_dim: 32, name: embed}\n  - {type: Linear, out_features: 64}\n  - {type: Linear, out_features: 100, "
     "bias: false, tie: embed}\n", "G009"),
    # nearest upsampling given align_corners
    ("inputs: {x: [B, 8, 16, 16]}\nlayers:\n  - {type: Upsample, scale_factor: 2, mode: nearest, align_corners: "
     "true}\n", "V003"),
    # a transposed conv one pixel short of the skip it meets
    ("inputs: {x: [B, 3, 64, 64]}\nlayers:\n  - {type: Conv2d, out_channels: 16, kernel_size: 3, stride: 2, "
     "padding: 1}\n  - {type: ConvTranspose2d, out_channels: 3, kernel_size: 3, stride: 2, padding: 1, name: up}\n"
     "  - {type: Add, from: [up, x]}\n", "S006"),
    # bilinear on a (N, C, L) signal
    ("inputs: {x: [B, 8, 100]}\nlayers:\n  - {type: Upsample, scale_factor: 2, mode: bilinear}\n", "S003"),
    # CTC on probabilities, and on a log-softmax over the steps
    ("inputs: {f: [B, T, 40]}\nlayers:\n  - {type: GRU, hidden_size: 32}\n  - {type: Linear, out_features: 29}\n"
     "  - {type: Softmax, dim: -1}\nloss: {type: CTCLoss}\n", "T050"),
    ("inputs: {f: [B, T, 40]}\nlayers:\n  - {type: GRU, hidden_size: 32}\n  - {type: Linear, out_features: 29}\n"
     "  - {type: LogSoftmax, dim: 1}\nloss: {type: CTCLoss}\n", "T050"),
    # a GRU's h0 declared batch first
    ("inputs: {x: [B, 20, 8], h0: [B, 1, 32]}\nlayers:\n  - {type: GRU, hidden_size: 32, from: [x, h0]}\n", "S001"),
    # Sigmoid before BCEWithLogitsLoss in a discriminator
    ("inputs: {x: [B, 64]}\nlayers:\n  - {type: Linear, out_features: 1}\n  - {type: Sigmoid}\n"
     "loss: {type: BCEWithLogitsLoss}\n", "L003"),
    # a softmax over the batch of an adjacency matrix
    ("inputs: {adj: [B, 20, 20]}\nlayers:\n  - {type: Softmax, dim: 0}\n", "L009"),
    # rotary over an odd head width
    ("inputs: {x: [B, T, 96]}\nlayers:\n  - {type: MultiheadAttention, num_heads: 32, rotary: {}}\n", "S040"),
]


@pytest.mark.parametrize(("body", "code"), CAUGHT, ids=[f"{c}-{i}" for i, (_, c) in enumerate(CAUGHT)])
def test_mistakes_caught_before(body: str, code: str) -> None:
    assert code in {d.code for d in _check(H + body).diagnostics}


# --- correct look-alikes: quiet --------------------------------------------------------------------------------------

QUIET = {
    "lora_head_trained_in_full": "inputs: {x: [B, 16, 64]}\nlayers:\n  - {type: Linear, out_features: 64, name: fc1}\n"
    "  - {type: GELU}\n  - {type: Mean, dim: 1}\n  - {type: Linear, out_features: 3, trainable: true}\n"
    "lora: {rank: 8, alpha: 16, targets: [fc1]}\nloss: {type: CrossEntropyLoss}\n" + T,
    "lora_target_frozen_explicitly": "inputs: {x: [B, 64]}\nlayers:\n  - {type: Linear, out_features: 64, name: fc1, "
    "trainable: false}\n  - {type: ReLU}\n  - {type: Linear, out_features: 3, trainable: true}\n"
    "lora: {rank: 8, alpha: 16, targets: [fc1]}\nloss: {type: CrossEntropyLoss}\n" + T,
    "llama_lora_untied_head": LM + "  - {type: TransformerEncoder, nhead: 4, num_layers: 2, dim_feedforward: 128, "
    "norm_first: true, norm: true, causal: true, name: dec}\n  - {type: Linear, out_features: 1000, bias: false}\n"
    "lora: {rank: 8, alpha: 16, targets: [dec]}\nloss: {type: CrossEntropyLoss, class_dim: -1}\n" + T,
    "frozen_batchnorm_backbone": "inputs: {x: [B, 3, 32, 32]}\nlayers:\n  - {type: Conv2d, out_channels: 16, "
    "kernel_size: 3, padding: 1, bias: false, trainable: false}\n  - {type: BatchNorm2d, trainable: false}\n"
    "  - {type: ReLU}\n  - {type: GlobalAvgPool}\n  - {type: Linear, out_features: 10}\n"
    "loss: {type: CrossEntropyLoss}\n" + T,
    "gpt_reads_last_step": LM + "  - {type: TransformerEncoder, nhead: 4, num_layers: 2, dim_feedforward: 128, "
    "causal: true}\n  - {type: Select, dim: 1, index: -1}\n  - {type: Linear, out_features: 2}\n"
    "loss: {type: CrossEntropyLoss}\n" + T,
    "bert_cls_both_ways": LM + "  - {type: TransformerEncoder, nhead: 4, num_layers: 2, dim_feedforward: 128}\n"
    "  - {type: Select, dim: 1, index: 0}\n  - {type: Linear, out_features: 2}\nloss: {type: CrossEntropyLoss}\n" + T,
    "bert_mlm_vocab_head": LM + "  - {type: TransformerEncoder, nhead: 4, num_layers: 2, dim_feedforward: 128, "
    "activation: gelu}\n  - {type: Linear, out_features: 64}\n  - {type: GELU}\n  - {type: LayerNorm}\n"
    "  - {type: Linear, out_features: 1000}\nloss: {type: CrossEntropyLoss, class_dim: -1}\n" + T,
    "sinusoidal_positions_odd_width": "inputs: {ids: {shape: [B, T], dtype: int64}}\nlayers:\n  - {type: Embedding, "
    "num_embeddings: 1000, embedding_dim: 63}\n  - {type: PositionalEncoding}\n  - {type: TransformerEncoder, nhead: "
    "3, num_layers: 1, dim_feedforward: 128}\n  - {type: Mean, dim: 1}\n  - {type: Linear, out_features: 2}\n"
    "loss: {type: CrossEntropyLoss}\n" + T,
    "layernorm_over_features_after_causal": "inputs: {x: [B, 32, 64]}\nlayers:\n  - {type: TransformerEncoder, "
    "nhead: 4, num_layers: 1, dim_feedforward: 128, causal: true}\n  - {type: LayerNorm}\n"
    "  - {type: Linear, out_features: 1}\nloss: {type: MSELoss}\n" + T,
    "bicubic_align_corners_to_size": "inputs: {x: [B, 8, 16, 16]}\nlayers:\n  - {type: Upsample, size: [32, 32], "
    "mode: bicubic, align_corners: true}\n  - {type: Conv2d, out_channels: 1, kernel_size: 1}\nloss: {type: MSELoss}\n"
    + T,
    "dcgan_k4_s2_p1": "inputs: {z: [B, 100, 1, 1]}\nlayers:\n  - {type: ConvTranspose2d, out_channels: 64, "
    "kernel_size: 4, bias: false}\n  - {type: BatchNorm2d}\n  - {type: ReLU}\n  - {type: ConvTranspose2d, "
    "out_channels: 1, kernel_size: 4, stride: 2, padding: 1}\n  - {type: Tanh}\n  - {type: Flatten}\n"
    "  - {type: Linear, out_features: 1}\nloss: {type: BCEWithLogitsLoss}\n" + T,
    "vae_decoder_sigmoid_bce": "inputs: {x: [B, 784]}\nlayers:\n  - {type: Linear, out_features: 32}\n"
    "  - {type: ReLU}\n  - {type: Linear, out_features: 784}\n  - {type: Sigmoid}\nloss: {type: BCELoss}\n" + T,
    "attention_pooling_softmax_over_steps": "inputs: {x: [B, 20, 16]}\nlayers:\n  - {type: Linear, out_features: 1, "
    "name: score}\n  - {type: Softmax, dim: 1, name: w}\n  - {type: Mul, from: [x, w]}\n  - {type: Reduce, op: sum, "
    "dim: 1}\n  - {type: Linear, out_features: 1}\nloss: {type: MSELoss}\n" + T,
    "normalized_embedding_output": "inputs: {x: [B, 128]}\nlayers:\n  - {type: Linear, out_features: 64}\n"
    "  - {type: ReLU}\n  - {type: Linear, out_features: 32}\n  - {type: Normalize}\n",
    "gcn_degree_with_its_self_loop": "inputs: {x: [B, 20, 16], adj: {shape: [B, 20, 20], dtype: bool}}\nlayers:\n"
    "  - {type: Cast, dtype: float32, from: adj, name: a}\n  - {type: Reduce, op: sum, dim: -1, keepdim: true}\n"
    "  - {type: Add, value: 1.0, name: deg}\n  - {type: Div, from: [a, deg], name: norm_adj}\n"
    "  - {type: Linear, out_features: 32, from: x, name: xw}\n  - {type: MatMul, from: [norm_adj, xw]}\n"
    "  - {type: Mean, dim: 1}\n  - {type: Linear, out_features: 2}\n"
    "loss: {type: CrossEntropyLoss}\n" + T,
    "ctc_with_enough_steps": "inputs: {feats: [B, 80, 64]}\nlayers:\n  - {type: Conv1d, out_channels: 64, "
    "kernel_size: 3, stride: 2, padding: 1}\n  - {type: ReLU}\n  - {type: Conv1d, out_channels: 30, kernel_size: 1}\n"
    "  - {type: Permute, dims: [0, 2, 1]}\n  - {type: LogSoftmax, dim: -1}\nloss: {type: CTCLoss}\n" + T,
    "sigmoid_regression_of_an_autoencoder": "inputs: {x: [B, 784]}\nlayers:\n  - {type: Linear, out_features: 32}\n"
    "  - {type: ReLU}\n  - {type: Linear, out_features: 784}\n  - {type: Sigmoid}\nloss: {type: MSELoss}\n" + T,
    "attention_scaled_as_t5": "inputs: {x: [B, T, 64]}\nlayers:\n  - {type: MultiheadAttention, num_heads: 4, "
    "scale: 1.0}\n  - {type: Mean, dim: 1}\n  - {type: Linear, out_features: 2}\nloss: {type: CrossEntropyLoss}\n" + T,
    "pre_norm_layers_then_layernorm": LM + "  - {type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 128, "
    "norm_first: true, causal: true}\n  - {type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 128, "
    "norm_first: true, causal: true}\n  - {type: LayerNorm}\n  - {type: Linear, out_features: 1000}\n"
    "loss: {type: CrossEntropyLoss, class_dim: -1}\n" + T,
    "conv_map_normalized_over_channels": "inputs: {x: [B, 3, 32, 32]}\nlayers:\n  - {type: Conv2d, out_channels: 16, "
    "kernel_size: 3}\n  - {type: Normalize}\n  - {type: ReLU}\n  - {type: GlobalAvgPool}\n"
    "  - {type: Linear, out_features: 10}\nloss: {type: CrossEntropyLoss}\n" + T,
}


@pytest.mark.parametrize("name", sorted(QUIET))
def test_correct_look_alikes_stay_quiet(name: str) -> None:
    spec = _check(H + QUIET[name])
    assert spec.ok and not spec.diagnostics, [f"{d.code} {d.message}" for d in spec.diagnostics]


# --- L057: under lora:, a new task's head left frozen -------------------------------------------------------------

LORA_CLASSIFIER = H + """inputs: {x: [B, 16, 64]}
layers:
  - {type: Linear, out_features: 64, name: fc1}
  - {type: GELU}
  - {type: Linear, out_features: 64, name: fc2}
  - {type: Mean, dim: 1}
  - {type: Linear, out_features: 3, name: classifier}
  - {type: Dropout, p: 0.1}
lora: {rank: 8, alpha: 16, targets: [fc1, fc2]}
loss: {type: CrossEntropyLoss}
""" + T


@pytest.mark.parametrize("fix", [", trainable: true}", None])
def test_l057_lora_head_left_at_its_random_start(fix: str | None) -> None:
    d = _only(_check(LORA_CLASSIFIER), "L057")
    assert (d.loc.line, d.loc.col) == _line_col(LORA_CLASSIFIER, 8, "{type: Linear")
    assert "this head (3 outputs) is neither" in d.message and d.hint.startswith("set trainable: true on 'classifier'")
    fixed = LORA_CLASSIFIER.replace("name: classifier}", "name: classifier" + fix) if fix else \
        LORA_CLASSIFIER.replace("targets: [fc1, fc2]", "targets: [fc1, fc2, classifier]")
    assert not [x for x in _check(fixed).diagnostics if x.code == "L057"]


def test_l057_quiet_without_lora_and_on_a_tied_head() -> None:
    assert not [x for x in _check(LORA_CLASSIFIER.replace("lora: {rank: 8, alpha: 16, targets: [fc1, fc2]}\n", ""))
                .diagnostics if x.code == "L057"]
    tied = H + """inputs: {ids: {shape: [B, T], dtype: int64}}
layers:
  - {type: Embedding, num_embeddings: 500, embedding_dim: 64, name: embed}
  - {type: Linear, out_features: 64, name: fc}
  - {type: GELU}
  - {type: Linear, out_features: 500, bias: false, tie: embed}
lora: {rank: 8, targets: [fc]}
loss: {type: CrossEntropyLoss, class_dim: -1}
"""
    assert not _check(tied).diagnostics


# --- T003 of segmentation logits at a fraction of the mask: the hint resizes the logits -----------------------------

def test_t003_segmentation_logits_below_the_mask_resolution(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "seg.npz", x=rng.normal(size=(8, 3, 32, 32)).astype(np.float32),
             y=rng.integers(0, 5, (8, 32, 32)))
    text = H + """inputs: {x: [B, 3, 32, 32]}
layers:
  - {type: Conv2d, out_channels: 16, kernel_size: 3, stride: 2, padding: 1}
  - {type: ReLU}
  - {type: Conv2d, out_channels: 5, kernel_size: 1}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam}
train: {epochs: 1, batch_size: 4, data: {source: seg.npz}}
"""
    (tmp_path / "s.yaml").write_text(text)
    (d,) = specc.load(tmp_path / "s.yaml").errors
    assert d.code == "T003" and "gives scores at 16x16 positions" in d.message
    assert "end the model in - {type: Upsample, scale_factor: 2, mode: bilinear}" in d.hint
    resize = "  - {type: Upsample, scale_factor: 2, mode: bilinear}\n"
    fixed = text.replace("kernel_size: 1}\n", "kernel_size: 1}\n" + resize)
    (tmp_path / "s.yaml").write_text(fixed)
    assert specc.load(tmp_path / "s.yaml").ok


# --- L063: hand-written attention scaled by 1/sqrt(d) twice -----------------------------------------------------------

TWICE = H + """inputs: {q: [B, 16, 64], k: [B, 16, 64]}
layers:
  - {type: Scale, scale: 0.125, from: q, name: qs}
  - {type: Transpose, dim0: 1, dim1: 2, from: k, name: kt}
  - {type: MatMul, from: [qs, kt]}
  - {type: Scale, scale: 0.125}
  - {type: Softmax, dim: -1}
"""


def test_l063_scores_scaled_twice_and_once() -> None:
    d = _only(_check(TWICE), "L063")
    assert (d.loc.line, d.loc.col) == _line_col(TWICE, 7, "{type: Scale")
    assert "'qs' and 'scale_1', 1/64 in all" in d.message and "8 times too small" in d.message
    assert d.hint.startswith("remove 'scale_1'")
    assert not _check(TWICE.replace("  - {type: Scale, scale: 0.125}\n", "")).diagnostics
    # a temperature on top of one 1/sqrt(d) is no second 1/sqrt(d)
    assert not _check(TWICE.replace("{type: Scale, scale: 0.125}\n", "{type: Scale, scale: 0.5}\n")).diagnostics


# --- T003 of teacher-forcing targets one step longer than the output: the hint shifts them ----------------------------

def test_t003_targets_one_step_longer_than_a_language_model_output(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    seq = rng.integers(1, 100, (32, 21))
    np.savez(tmp_path / "lm.npz", x=seq[:, :20], y=seq)  # the whole sequence saved as the target
    text = H + """inputs: {ids: {shape: [B, 20], dtype: int64}}
layers:
  - {type: Embedding, num_embeddings: 100, embedding_dim: 32}
  - {type: GRU, hidden_size: 64}
  - {type: Linear, out_features: 100}
loss: {type: CrossEntropyLoss, class_dim: -1}
optimizer: {type: Adam}
train: {epochs: 1, batch_size: 4, data: {source: lm.npz}}
"""
    (tmp_path / "s.yaml").write_text(text)
    (d,) = specc.load(tmp_path / "s.yaml").errors
    assert d.code == "T003" and "the targets are one step longer than the 20 steps of the output" in d.hint
    np.savez(tmp_path / "lm.npz", x=seq[:, :-1], y=seq[:, 1:])  # what the hint says
    assert specc.load(tmp_path / "s.yaml").ok


# --- L019 of a graph's degree with no self-loops: an isolated node divides by 0 -------------------------------------

GCN = H + """inputs:
  x: [B, 20, 16]
  adj: {shape: [B, 20, 20], dtype: uint8}
layers:
  - {type: Cast, dtype: float32, from: adj, name: a}
  - {type: Reduce, op: sum, dim: -1, keepdim: true, name: deg}
  - {type: Div, from: [a, deg], name: norm_adj}
  - {type: Linear, out_features: 32, from: x, name: xw}
  - {type: MatMul, from: [norm_adj, xw]}
"""


def test_l019_degree_of_an_adjacency_without_self_loops() -> None:
    d = _only(_check(GCN), "L019")
    assert "Reduce 'deg'" in d.message and d.hint.startswith("add - {type: Add, value: 1.0} after 'deg'")
    fixed = GCN.replace("name: deg}\n", "name: deg0}\n  - {type: Add, value: 1.0, name: deg}\n")
    assert not _check(fixed).diagnostics
    # a mask's sum over the steps (a masked mean) counts a sentence's real tokens: not a degree
    mask = H + """inputs: {h: [B, 12, 32], m: {shape: [B, 12, 1], dtype: bool}}
layers:
  - {type: Cast, dtype: float32, from: m, name: keep}
  - {type: Mul, from: [h, keep]}
  - {type: Reduce, op: sum, dim: 1, name: total}
  - {type: Reduce, from: keep, op: sum, dim: 1, name: count}
  - {type: Div, from: [total, count]}
"""
    assert not _check(mask).diagnostics
