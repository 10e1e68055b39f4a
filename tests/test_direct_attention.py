"""The direct ONNX target's attention against PyTorch on random configurations: self- and
cross-attention (packed or separate q/k/v weights), bias_kv and zero_attn, bool and float masks
of every kind and rank joined with causal masks, batch first or not, encoder and decoder layers
and stacks (pre- or post-norm, relu or gelu, with or without biases and a final norm).

Each draw is a spec that ``specc check`` accepts; ``export_direct`` must write it and ONNX
Runtime must equal the PyTorch target with the same weights at three sizes (random bool masks
hide whole rows now and then: PyTorch's 0 there, not NaN).  CI runs a few seeded draws;
``SPECC_FUZZ_EXAMPLES=200`` runs more.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

import specc

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from specc.backends.direct_export import export_direct

EXAMPLES = int(os.environ.get("SPECC_FUZZ_EXAMPLES", "8"))


def _mask(inputs: dict[str, str], name: str, shape: str, dtype: str) -> str:
    inputs[name] = f"{{shape: [{shape}], dtype: {dtype}}}"
    return name


def draw(seed: int) -> str:
    """One random attention layer over fresh inputs, as spec text."""
    r = random.Random(seed)
    heads, bf = r.choice([1, 2, 4]), r.random() < 0.6
    e = heads * r.choice([2, 3, 4])
    kind = r.choice(["MultiheadAttention", "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
                     "TransformerDecoderLayer", "TransformerDecoder"])
    batch = "B"
    dtype = r.choice(["bool", "bool", "float32"])  # the masks' (PyTorch deprecates mixing bool and float)
    masks: list[str] = []
    froms: list[str] = []
    inputs: dict[str, str] = {}
    args: dict[str, object] = {"batch_first": bf, "bias": r.random() < 0.7}

    def seq(length: str, width: int) -> str:
        return f"[{batch}, {length}, {width}]" if bf else f"[{length}, {batch}, {width}]"

    if kind == "MultiheadAttention":
        args["num_heads"] = heads
        args["add_bias_kv"], args["add_zero_attn"] = r.random() < 0.3, r.random() < 0.3
        form = r.choice(["self", "self", "cross", "qkv"])
        if r.random() < 0.25:
            batch = "3"  # a (B·heads, T, S) mask needs a fixed batch
        keys = "T" if form == "self" else r.choice(["S", "4"])
        inputs["q"] = seq("T", e)
        froms.append("q")
        if form == "cross":
            inputs["kv"] = seq(keys, r.choice([e, e + 1]))
            froms.append("kv")
        elif form == "qkv":
            inputs["k"], inputs["v"] = seq(keys, r.choice([e, 3])), seq(keys, r.choice([e, 5]))
            froms += ["k", "v"]
        causal = form == "self" and r.random() < 0.5
        if r.random() < 0.5:
            masks.append("key_padding")
            froms.append(_mask(inputs, "pad", f"{batch}, {keys}", dtype))
        if not causal and r.random() < 0.4:
            masks.append("attn")
            shape = f"{3 * heads}, T, {keys}" if batch == "3" and r.random() < 0.5 else f"T, {keys}"
            froms.append(_mask(inputs, "am", shape, dtype))
        args["causal"] = causal
    else:
        args.update(nhead=heads, dim_feedforward=r.choice([4, 8]), activation=r.choice(["relu", "gelu"]),
                    norm_first=r.random() < 0.5, causal=r.random() < 0.5)
        if kind.endswith("Encoder") or kind.endswith("Decoder"):
            args.update(num_layers=r.choice([1, 2]), norm=r.random() < 0.5)
        inputs["x"] = seq("T", e)
        froms.append("x")
        if "Decoder" in kind:
            memory = r.choice(["S", "3"])
            inputs["mem"] = seq(memory, e)
            froms.append("mem")
            if r.random() < 0.4:
                masks.append("key_padding")
                froms.append(_mask(inputs, "tpad", f"{batch}, T", dtype))
            if r.random() < 0.4:
                masks.append("memory_key_padding")
                froms.append(_mask(inputs, "mpad", f"{batch}, {memory}", dtype))
        else:
            if r.random() < 0.4:
                masks.append("key_padding")
                froms.append(_mask(inputs, "pad", f"{batch}, T", dtype))
            if not args["causal"] and r.random() < 0.3:
                masks.append("attn")
                froms.append(_mask(inputs, "am", "T, T", dtype))
    args["masks"] = masks
    layer = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in args.items())
    lines = ["specc: 1", "inputs:", *[f"  {k}: {v}" for k, v in inputs.items()], "layers:",
             f"  - {{type: {kind}, {layer}, from: [{', '.join(froms)}]}}"]
    return "\n".join(lines).replace("'", "") + "\n"


@pytest.mark.parametrize("seed", range(EXAMPLES))
def test_random_attention_written_direct_equals_pytorch(seed: int, tmp_path: Path) -> None:
    text = draw(seed)
    spec = specc.loads(text, "attention.yaml")
    assert spec.ok, (text, [d.message for d in spec.errors])
    result = export_direct(spec, tmp_path / "m.onnx", compare="torch")
    report = result.verification
    assert report is not None and report.against == "PyTorch" and len(report.runs) == 3, text
    assert all(r.max_abs_diff for r in report.runs)


@pytest.mark.parametrize("layer", [
    "{type: TransformerDecoder, from: [x, m, pad], masks: [key_padding], causal: true, nhead: 2, num_layers: 2, "
    "dim_feedforward: 16}",
    "{type: MultiheadAttention, from: [x, pad], masks: [key_padding], causal: true, num_heads: 2}",
])
def test_a_row_the_masks_hide_whole_is_zero_attention_at_eval_too(layer: str, tmp_path: Path) -> None:
    # Left padding under a causal mask: step 0 sees only key 0, which is padding. PyTorch's fused
    # inference kernel (eval, no autograd: predict) gave NaN there, which a second layer spread over the
    # whole sequence, while training and the ONNX export give 0; the generated model now gives 0 too.
    import numpy as np
    import onnxruntime as ort
    import torch

    from specc.backends.torch_build import build_module

    memory = "  m: [B, S, 8]\n" if "Decoder" in layer else ""
    spec = specc.loads(f"specc: 1\ninputs:\n  x: [B, T, 8]\n{memory}  pad: {{shape: [B, T], dtype: bool}}\n"
                       f"layers:\n  - {layer}\n", "left_pad.yaml")
    assert spec.ok, [d.message for d in spec.errors]
    g = torch.Generator().manual_seed(0)
    x, m = torch.randn(2, 5, 8, generator=g), torch.randn(2, 3, 8, generator=g)
    pad = torch.tensor([[True, True, False, False, False], [False] * 5])
    model = build_module(spec, seed=0).eval()
    feeds = (x, m, pad) if "Decoder" in layer else (x, pad)
    with torch.no_grad():
        want = model(*feeds).numpy()
    assert np.isfinite(want).all()
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    export_direct(spec, tmp_path / "m.onnx", weights=tmp_path / "w.safetensors")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), feeds)})[0]
    np.testing.assert_allclose(got, want, atol=1e-5)


PADDED = """\
specc: 1
inputs:
  x: [B, T, 8]
  pad: {shape: [B, T], dtype: bool}
layers:
  - {type: TransformerEncoder, from: [x, pad], masks: [key_padding], num_layers: 1, nhead: 2,
     dim_feedforward: 16, dropout: 0.0}
"""


def test_example_masks_never_pad_a_whole_row(tmp_path: Path) -> None:
    """A bool input drawn at random padded every step of a row half the time at T = 1: attention over
    nothing is nan in PyTorch and ONNX Runtime alike, so the smallest size check allows (BERT at
    B = 1, T = 1) answered nan and verified nothing. Examples are drawn as padding is: a tail."""
    import numpy as np

    from specc.backends.example_inputs import example_arrays
    from specc.backends.onnx_export import signature_of
    from specc.backends.torch_build import example_inputs

    spec = specc.loads(PADDED, "s.yaml")
    sig = signature_of(spec)
    for t in (1, 2, 5):
        for seed in range(20):
            torch_mask = example_inputs(spec, batch=8, sizes={"T": t}, seed=seed)[1].numpy()
            numpy_mask = example_arrays(spec, sig, {"B": 8, "T": t}, seed=seed)["pad"]
            for mask in (torch_mask, numpy_mask):
                assert mask.dtype == np.bool_ and not mask.all(axis=-1).any()
                # a padded step is never followed by a real one
                assert (np.diff(mask.astype(int), axis=-1) >= 0).all()
    assert example_inputs(spec, batch=64, sizes={"T": 5})[1].any()  # padding is drawn, not left out
    smallest = specc.loads(PADDED + "export: {batch_size: 1, sizes: {T: 1}}\n", "s.yaml")
    result = export_direct(smallest, tmp_path / "m.onnx")
    assert "B=1, T=1" in result.verification.text(), result.verification.text()
