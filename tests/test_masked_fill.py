"""MaskedFill (``x.masked_fill(mask, value)``): what check refuses about it, the mixed-precision
overflow PyTorch raises on a GPU (T096), and ESIM's masked max, which makes the model give a
sentence the same answer however far its batch pads it."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

ROOT = Path(__file__).resolve().parents[1]

ATTENTION = """\
specc: 1
inputs:
  x: [B, T, 32]
  causal: {shape: [B, T, T], dtype: bool}
layers:
  - {type: Linear, out_features: 32, from: x, name: q}
  - {type: Transpose, from: q, dim0: 1, dim1: 2, name: k_t}
  - {type: MatMul, from: [q, k_t]}
  - {type: Div, value: 5.66, name: scores}
  - {type: MaskedFill, from: [scores, causal], value: VALUE}
  - {type: Softmax, dim: -1}
  - {type: MatMul, from: [softmax_1, q]}
  - {type: Reduce, op: mean, dim: 1}
  - {type: Linear, out_features: 2}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam}
train: {epochs: 1, batch_size: 8, mixed_precision: AMP, DEVICE data: {source: synthetic, num_samples: 16}}
"""


def _codes(value: str, amp: bool = True, device: str = "") -> list[str]:
    text = ATTENTION.replace("VALUE", value).replace("AMP", str(amp).lower()).replace("DEVICE", device)
    return [d.code for d in specc.loads(text, "attn.yaml").diagnostics]


def test_minus_1e9_on_float16_scores_under_mixed_precision_is_refused_with_the_lowest_float16() -> None:
    spec = specc.loads(ATTENTION.replace("VALUE", "-1.0e9").replace("AMP", "true").replace("DEVICE", ""), "a.yaml")
    [d] = [d for d in spec.diagnostics if d.code == "T096"]
    assert "MatMul 'mat_mul_1' computes in float16" in d.message and "-1e+09" in d.message
    assert d.loc is not None and d.loc.line == 10
    assert d.hint is not None and d.hint.startswith("write value: -65504")


@pytest.mark.parametrize(("value", "amp", "device"), [
    ("-65504", True, ""),           # float16's lowest: what the hint writes
    ("-.inf", True, ""),            # -inf converts to float16
    ("-1.0e9", False, ""),          # float32 scores hold -1e9
    ("-1.0e9", True, "device: cpu,"),  # a CPU run keeps float32
])
def test_fills_that_float16_holds_or_runs_without_autocast_are_quiet(value: str, amp: bool, device: str) -> None:
    assert "T096" not in _codes(value, amp, device)


def test_a_float32_layer_between_the_matmul_and_the_fill_is_quiet() -> None:
    # Exp runs in float32 under autocast: the fill then writes into float32 values
    text = ATTENTION.replace("VALUE", "-1.0e9").replace("AMP", "true").replace("DEVICE", "").replace(
        "  - {type: Div, value: 5.66, name: scores}", "  - {type: Exp, name: scores}")
    codes = [d.code for d in specc.loads(text, "a.yaml").diagnostics]
    assert "T096" not in codes and not [c for c in codes if c.startswith(("S", "V", "G"))], codes


def test_esim_gives_a_sentence_pair_the_same_answer_however_far_the_batch_pads_it() -> None:
    # the lengths-aware BiLSTMs, the masked mean and (the point here) the max over the real words
    # only: a pair alone and the same pair padded with zeros give the same classes' scores
    torch = pytest.importorskip("torch")
    from specc.backends.torch_build import build_module

    spec = specc.load(ROOT / "tests" / "corpus" / "architectures" / "esim.yaml")
    assert spec.ok
    torch.manual_seed(0)
    module = build_module(spec).eval()
    premise = torch.randint(1, 2000, (1, 5))
    hypothesis = torch.randint(1, 2000, (1, 4))
    with torch.no_grad():
        alone = module(premise, hypothesis)
        padded = module(torch.cat([premise, torch.zeros(1, 3, dtype=torch.long)], 1),
                        torch.cat([hypothesis, torch.zeros(1, 6, dtype=torch.long)], 1))
    torch.testing.assert_close(padded, alone, rtol=1e-5, atol=1e-6)


def test_a_causal_mask_input_is_refused_with_the_layer_that_computes_it_and_the_fix_trains() -> None:
    # nanoGPT keeps its causal mask as a buffer; a spec declaring it an input of (T, T) cannot train
    # (T003: no batch); the hint's CausalMask computes it from the scores' own lengths
    text = ATTENTION.replace("VALUE", "-.inf").replace("AMP", "false").replace("DEVICE", "").replace(
        "causal: {shape: [B, T, T], dtype: bool}", "causal: {shape: [T, T], dtype: bool}")
    [d] = [d for d in specc.loads(text, "a.yaml").errors if d.code == "T003"]
    assert d.hint is not None and "- {type: CausalMask, from: scores, name: causal}" in d.hint
    fixed = text.replace("  causal: {shape: [T, T], dtype: bool}\n", "").replace(", from: x, name: q", ", name: q")
    fixed = fixed.replace("  - {type: MaskedFill", "  - {type: CausalMask, from: scores, name: causal}\n"
                          "  - {type: MaskedFill")
    spec = specc.loads(fixed, "fixed.yaml")
    assert spec.ok, [d.message for d in spec.errors]
    mask = spec.graph.value("causal")
    assert str(mask) == "(T, T)" and mask.dtype == "bool"


def test_a_causal_mask_that_hides_the_first_querys_own_key_is_refused_where_pytorch_gives_nan() -> None:
    torch = pytest.importorskip("torch")
    bad = (ROOT / "tests" / "corpus" / "bad" / "v177_causal_mask_hiding_the_first_querys_keys.yaml").read_text()
    assert [d.code for d in specc.loads(bad, "bad.yaml").errors] == ["V177"]
    scores = torch.randn(2, 5, 5)
    hidden = scores.masked_fill(torch.ones(5, 5, dtype=torch.bool).triu(0), float("-inf")).softmax(-1)
    assert hidden[:, 0].isnan().all() and not hidden[:, 1:].isnan().any()  # what V177 says, from PyTorch
    for fixed in (bad.replace("diagonal: 0", "diagonal: 1"), bad.replace("value: -.inf", "value: -1.0e4")):
        assert specc.loads(fixed, "fixed.yaml").ok
