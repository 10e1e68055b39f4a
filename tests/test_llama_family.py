"""The LLaMA family past LLaMA itself, on MultiheadAttention's LLaMA path: Qwen2's biases on q/k/v but
not o (``bias: {qkv: true, out: false}``), Gemma's heads wider than embed_dim / num_heads
(``head_dim:``), Mistral's sliding window (``window:``), and rotary scaling for longer contexts
(``rotary: {scaling: ...}``: linear position interpolation, LLaMA 3.1's ``llama3``).

The generated PyTorch must equal Hugging Face's eager attention written out by hand
(``layer_cases.HFAttention``) with the same weights loaded under Hugging Face's names; the window
mask must equal an oracle at lengths past the window; the scaled frequencies must equal Hugging
Face's ``_compute_llama3_parameters`` (transcribed below, and pinned to values read from
transformers 5.24); the direct ONNX target must equal the PyTorch target under ONNX Runtime.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import specc

torch = pytest.importorskip("torch")

from layer_cases import HFAttention  # noqa: E402

from specc.backends.torch_build import build_module  # noqa: E402


def _spec(layer: str, x: str = "[B, T, 16]") -> specc.Spec:
    spec = specc.loads(f"specc: 1\ninputs:\n  x: {x}\nlayers:\n  - {layer}\n", "family.yaml")
    assert spec.ok, [d.message for d in spec.errors]
    return spec


def _errors(layer: str, x: str = "[B, T, 16]") -> list[tuple[str, str, str]]:
    spec = specc.loads(f"specc: 1\ninputs:\n  x: {x}\nlayers:\n  - {layer}\n", "family.yaml")
    return [(d.code, d.message, d.hint or "") for d in spec.errors]


def hf_default_inv_freq(dim: int, base: float) -> torch.Tensor:
    """Hugging Face's _compute_default_rope_parameters."""
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def hf_llama3_inv_freq(dim: int, base: float, factor: float, low_freq_factor: float, high_freq_factor: float,
                       old_context_len: int) -> torch.Tensor:
    """Hugging Face's _compute_llama3_parameters (transformers 5.24, modeling_rope_utils.py), line for line."""
    inv_freq = hf_default_inv_freq(dim, base)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


LLAMA31 = "{type: llama3, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192}"


def test_llama31_frequencies_are_hugging_faces() -> None:
    from specc.targets.onnx.kinds.attention import rotary_inv_freq
    from specc.targets.torch.support.grouped_attention import GroupedQueryAttention

    # LLaMA 3.1 8B: head_dim 128, rope_theta 500000
    spec = _spec(f"{{type: MultiheadAttention, num_heads: 32, num_kv_heads: 8, rotary: {{base: 500000, scaling: "
                 f"{LLAMA31}}}, causal: true, bias: false}}", "[B, T, 4096]")
    args = spec.graph.nodes[-1].result.args
    module = GroupedQueryAttention(4096, 32, 8, rotary_dim=args["rotary_dim"], rotary_base=args["rotary_base"],
                                   rotary_scaling=args["rotary_scaling"])
    got = module.inv_freq(torch.device("cpu"), torch.arange(8.0))
    want = hf_llama3_inv_freq(128, 500000.0, 8.0, 1.0, 4.0, 8192)
    assert torch.equal(got, want)
    assert torch.equal(torch.from_numpy(rotary_inv_freq(128, 500000.0, args["rotary_scaling"])), want)
    # read from transformers 5.24's ROPE_INIT_FUNCTIONS["llama3"] on this config: kept (0), blended (29..34),
    # divided by factor (35, 63)
    pinned = {0: 1.0, 28: 0.0032114461064338684, 29: 0.0021665706299245358, 31: 0.0008567514596506953,
              34: 0.0001785077911335975, 35: 9.556212171446532e-05, 63: 3.068925877869333e-07}
    for i, value in pinned.items():
        assert got[i].item() == pytest.approx(value, rel=1e-6), i
    unscaled = hf_default_inv_freq(128, 500000.0)
    assert torch.equal(got[:29], unscaled[:29]) and torch.allclose(got[35:], unscaled[35:] / 8)


def test_linear_scaling_is_position_interpolation() -> None:
    from specc.targets.torch.support.grouped_attention import GroupedQueryAttention

    module = GroupedQueryAttention(64, 4, 4, rotary_dim=16, rotary_scaling={"type": "linear", "factor": 4.0})
    # transformers 5.24, ROPE_INIT_FUNCTIONS["linear"] at head_dim 16, factor 4
    pinned = [0.25, 0.07905694097280502, 0.02500000037252903, 0.007905694656074047, 0.0024999999441206455,
              0.0007905694656074047, 0.0002500000118743628, 7.905694656074047e-05]
    assert module.inv_freq(torch.device("cpu"), torch.arange(4.0)).tolist() == pytest.approx(pinned, rel=1e-7)


def test_yarn_frequencies_and_attention_factor_are_hugging_faces() -> None:
    from layer_cases import hf_yarn_inv_freq

    from specc.targets.onnx.kinds.attention import rotary_inv_freq
    from specc.targets.torch.support.grouped_attention import GroupedQueryAttention

    # Qwen2.5-7B with its card's YaRN: heads of 128, rope_theta 1000000, factor 4 over 32768
    spec = _spec("{type: MultiheadAttention, num_heads: 28, num_kv_heads: 4, rotary: {base: 1000000, scaling: "
                 "{type: yarn, factor: 4, original_max_position_embeddings: 32768}}, causal: true}", "[B, T, 3584]")
    args = spec.graph.nodes[-1].result.args
    module = GroupedQueryAttention(3584, 28, 4, rotary_dim=args["rotary_dim"], rotary_base=args["rotary_base"],
                                   rotary_scaling=args["rotary_scaling"])
    got = module.inv_freq(torch.device("cpu"), torch.arange(8.0))
    want, factor = hf_yarn_inv_freq(128, 1000000.0, 4.0, 32768)
    assert torch.equal(got, want) and args["rotary_scaling"]["attention_factor"] == factor
    torch.testing.assert_close(torch.from_numpy(rotary_inv_freq(128, 1000000.0, args["rotary_scaling"])), want)
    # read from transformers 5.24's ROPE_INIT_FUNCTIONS["yarn"] on this config: kept (0), ramped (20, 30),
    # divided by factor (40, 63); attention factor 0.1·ln 4 + 1
    pinned = {0: 1.0, 20: 0.01333521492779255, 30: 0.0010643609566614032, 40: 4.4456985051510856e-05,
              63: 3.102344408034696e-07}
    for i, value in pinned.items():
        assert got[i].item() == pytest.approx(value, rel=1e-6)
    assert factor == pytest.approx(1.138629436111989, rel=1e-12)
    # DeepSeek's mscale pair sets the attention factor as a ratio instead (transformers: 1.0857263992561355)
    deepseek = _spec("{type: MultiheadAttention, num_heads: 8, rotary: {scaling: {type: yarn, factor: 40, "
                     "original_max_position_embeddings: 4096, mscale: 1.0, mscale_all_dim: 0.707}}}", "[B, T, 512]")
    assert deepseek.graph.nodes[-1].result.args["rotary_scaling"]["attention_factor"] == pytest.approx(
        1.0857263992561355, rel=1e-12)


def test_longrope_takes_its_long_factors_past_the_trained_context() -> None:
    from specc.targets.torch.support.grouped_attention import GroupedQueryAttention

    short, long = [1.0, 2.0, 4.0, 8.0], [3.0, 5.0, 7.0, 9.0]
    spec = _spec(f"{{type: MultiheadAttention, num_heads: 2, rotary: {{scaling: {{type: longrope, "
                 f"short_factor: {short}, long_factor: {long}, factor: 16, original_max_position_embeddings: 4}}}}}}")
    args = spec.graph.nodes[-1].result.args
    module = GroupedQueryAttention(16, 2, 2, rotary_dim=8, rotary_scaling=args["rotary_scaling"])
    base = 10000.0 ** (torch.arange(0, 8, 2).float() / 8)
    # transformers 5.24 (longrope_frequency_update): short while max(position_ids) + 1 <= 4, long after
    assert torch.equal(module.inv_freq(torch.device("cpu"), torch.arange(4.0)), 1.0 / (torch.tensor(short) * base))
    assert torch.equal(module.inv_freq(torch.device("cpu"), torch.arange(5.0)), 1.0 / (torch.tensor(long) * base))
    assert args["rotary_scaling"]["attention_factor"] == pytest.approx(math.sqrt(1 + math.log(16) / math.log(4)))


def window_oracle(t: int, window: int) -> torch.Tensor:
    """Key j visible to query i: i - window < j <= i, Hugging Face's sliding_window_overlay with causal."""
    return torch.tensor([[i - window < j <= i for j in range(t)] for i in range(t)])


HF_CASES = [
    # Qwen2: biases on q, k and v, none on o; grouped heads; rotary
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, bias: {qkv: true, out: false}, rotary: {}, "
     "causal: true, name: att}", dict(bias=True, o_bias=False)),
    # Gemma: 4 heads of 8 in 16 features (q_proj 32 x 16, o_proj 16 x 32), multi-query as Gemma-2B
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 1, head_dim: 8, rotary: {}, causal: true, "
     "bias: false, name: att}", dict(kv_heads=1, head_dim=8)),
    # Mistral: a sliding window of 3, run at lengths past it
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, window: 3, rotary: {}, causal: true, bias: false, "
     "name: att}", dict(window=3)),
    # LLaMA 3.1's scaled rope at a small context (original 16, so every band of a head of 8 shows)
    ("{type: MultiheadAttention, num_heads: 2, rotary: {base: 500, scaling: {rope_type: llama3, factor: 4, "
     "low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16}}, causal: true, bias: false, "
     "name: att}", dict(heads=2, kv_heads=2, inv_freq=hf_llama3_inv_freq(8, 500.0, 4.0, 1.0, 4.0, 16))),
    # Qwen3: q_norm / k_norm of head_dim on each head before the rotary; OLMo-2: over the whole projections
    # (k_norm 2·4 wide); Gemma 3: per head, 1 + weight
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, head_dim: 8, qk_norm: true, rotary: {}, "
     "causal: true, bias: false, name: att}", dict(head_dim=8, qk_norm="head")),
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, qk_norm: {over: all, eps: 1e-6}, rotary: {}, "
     "causal: true, bias: false, name: att}", dict(qk_norm="all")),
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 1, head_dim: 8, qk_norm: {over: head, "
     "add_unit_offset: true}, rotary: {}, causal: true, bias: false, name: att}",
     dict(kv_heads=1, head_dim=8, qk_norm="head", unit=True)),
    # Command R+: a LayerNorm of each head with a weight per head, interleaved pairs; Llama 4: the weightless L2
    # norm (after the rotary in Hugging Face's code); OLMo 1.7: q/k/v clamped (0.3 reaches these projections)
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, qk_norm: {type: layer, per_head: true, eps: 1e-5}, "
     "rotary: {interleaved: true}, causal: true, bias: false, name: att}", dict(interleaved=True, qk_norm="cohere")),
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, qk_norm: {type: l2, eps: 1e-5}, rotary: {}, "
     "causal: true, bias: false, name: att}", dict(qk_norm="l2")),
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, clip_qkv: 0.3, rotary: {}, causal: true, "
     "bias: false, name: att}", dict(clip=0.3)),
]


@pytest.mark.parametrize(("layer", "config"), HF_CASES, ids=["qwen2-bias", "gemma-head-dim", "mistral-window",
                                                             "llama31-rope", "qwen3-qk-norm", "olmo2-qk-norm",
                                                             "gemma3-qk-norm", "cohere-qk-norm", "llama4-l2-norm",
                                                             "olmo-clip-qkv"])
def test_generated_attention_equals_hugging_faces(layer: str, config: dict[str, object]) -> None:
    model = build_module(_spec(layer), seed=0).eval()
    torch.manual_seed(1)
    oracle = HFAttention(**{"e": 16, "heads": 4, "kv_heads": 2, **config}).eval()  # type: ignore[arg-type]
    for p in oracle.parameters():
        torch.nn.init.normal_(p, std=0.3)
    model.att.load_state_dict(oracle.state_dict(), strict=True)  # Hugging Face's names, shapes and biases
    for t in (2, 7):
        x = torch.randn(3, t, 16)
        with torch.no_grad():
            torch.testing.assert_close(model(x), oracle(x), atol=2e-5, rtol=1e-4)


def _keys_seen(layer: str, t: int) -> torch.Tensor:
    """(t, t): whether output row i changes when key j changes."""
    model = build_module(_spec(layer), seed=0).eval()
    x = torch.randn(1, t, 16)
    seen = torch.zeros(t, t, dtype=torch.bool)
    with torch.no_grad():
        base = model(x)
        for j in range(t):
            moved = x.clone()
            moved[0, j] += 1.0
            seen[:, j] = (model(moved) - base).abs().amax(-1)[0] > 1e-6
    return seen


def test_the_window_hides_exactly_the_keys_mistral_hides() -> None:
    # Each output row changes when a key inside its window changes, and never when one outside it does.
    seen = _keys_seen("{type: MultiheadAttention, num_heads: 2, num_kv_heads: 1, window: 3, causal: true, rotary: {}}",
                      8)
    assert torch.equal(seen, window_oracle(8, 3))


def test_the_local_window_hides_exactly_the_keys_modernbert_hides() -> None:
    # ModernBERT's local_attention 4: query i reads keys i - 2 .. i + 2, on both sides, and no other
    seen = _keys_seen("{type: MultiheadAttention, num_heads: 2, local_window: 4, rotary: {}}", 8)
    i, j = torch.arange(8)[:, None], torch.arange(8)[None]
    assert torch.equal(seen, (i - j).abs() <= 2)


@pytest.mark.parametrize("layer", [
    "{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, head_dim: 6, window: 3, causal: true, "
    "bias: {qkv: true, out: false}, rotary: {base: 500, scaling: " + LLAMA31.replace("8192", "16") + "}}",
    # a window with key padding: the two masks join; batch second; linear scaling
    "{type: MultiheadAttention, num_heads: 2, head_dim: 4, window: 2, causal: true, batch_first: false, "
    "masks: [key_padding], from: [x, pad], rotary: {scaling: {type: linear, factor: 2}}}",
    # Gemma 2's softcap on a window; LongRoPE turning to its long factors past 3 steps, YaRN's static ramp
    "{type: MultiheadAttention, num_heads: 2, num_kv_heads: 1, window: 3, causal: true, softcap: 0.5, scale: 0.3, "
    "rotary: {scaling: {type: longrope, short_factor: [1, 2, 3, 4], long_factor: [2, 5, 9, 20], factor: 8, "
    "original_max_position_embeddings: 3}}}",
    "{type: MultiheadAttention, num_heads: 2, causal: true, rotary: {scaling: {type: yarn, factor: 8, "
    "original_max_position_embeddings: 32}}}",
    "{type: MultiheadAttention, num_heads: 2, local_window: 4, rotary: {}, bias: false}",  # ModernBERT
    # Qwen3's per-head norm (Gemma 3's 1 + weight), OLMo-2's over the projections with grouped heads
    "{type: MultiheadAttention, num_heads: 2, head_dim: 8, causal: true, qk_norm: {add_unit_offset: true}, "
    "rotary: {}}",
    "{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, causal: true, qk_norm: {over: all}, rotary: {}}",
], ids=["window-head-dim-llama3", "window-padding-linear", "softcap-longrope", "yarn", "local-window",
        "qk-norm-head", "qk-norm-all"])
def test_direct_onnx_equals_pytorch_past_the_window(layer: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from specc.backends.direct_export import export_direct

    x = "[T, B, 16]\n  pad: {shape: [B, T], dtype: bool}" if "pad" in layer else "[B, T, 16]"
    report = export_direct(_spec(layer, x), tmp_path / "m.onnx", compare="torch").verification
    assert report is not None and report.against == "PyTorch" and len(report.runs) >= 2
    assert max(r.env["T"] for r in report.runs) > 3  # past the window


@pytest.mark.slow
@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_torch_exporters_write_the_window_and_scaled_rope(exporter: str, tmp_path: Path) -> None:
    # Slow: dynamo's first export in a process costs about 30 s of its own start-up.
    pytest.importorskip("onnxruntime")
    from specc.backends.onnx_export import export_spec

    spec = _spec("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, head_dim: 6, window: 2, causal: true, "
                 "bias: {qkv: true, out: false}, rotary: {scaling: " + LLAMA31.replace("8192", "16") + "}}")
    result = export_spec(spec, tmp_path / "m.onnx", exporter=exporter)
    report = result.verification
    assert report is not None and report.against == "PyTorch"
    assert len({r.env["T"] for r in report.runs}) >= 2 and max(r.env["T"] for r in report.runs) > 2


def test_counts_names_and_macs_follow_head_dim_and_the_biases() -> None:
    # Gemma-7B's attention: 3072 features, 16 heads of 256 (q_proj 4096 x 3072), no biases
    spec = _spec("{type: MultiheadAttention, num_heads: 16, head_dim: 256, rotary: {}, causal: true, bias: false}",
                 "[B, T, 3072]")
    node = spec.graph.nodes[-1]
    assert node.result.params == 4 * 3072 * 4096 == 50_331_648
    assert node.kind.weights(node.result.args) == {"q_proj.weight": (4096, 3072), "k_proj.weight": (4096, 3072),
                                                   "v_proj.weight": (4096, 3072), "o_proj.weight": (3072, 4096)}
    from specc.shapes.dims import evaluate
    assert evaluate(node.result.macs, {"T": 10, "B": 1}) == 10 * 4 * 3072 * 4096 + 2 * 100 * 4096
    # Qwen2-0.5B's attention: 896 features, 14 heads of 64, 2 key/value heads, biases on q/k/v only
    spec = _spec("{type: MultiheadAttention, num_heads: 14, num_kv_heads: 2, bias: {qkv: true, out: false}, "
                 "rotary: {base: 1000000}, causal: true}", "[B, T, 896]")
    node = spec.graph.nodes[-1]
    shapes = node.kind.weights(node.result.args)
    assert shapes == {"q_proj.weight": (896, 896), "q_proj.bias": (896,), "k_proj.weight": (128, 896),
                      "k_proj.bias": (128,), "v_proj.weight": (128, 896), "v_proj.bias": (128,),
                      "o_proj.weight": (896, 896)}
    assert node.result.params == sum(math.prod(s) for s in shapes.values())


def test_head_dim_frees_embed_dim_from_the_head_count() -> None:
    # 100 features in 8 heads: S004 without head_dim, whose hint now names head_dim on LLaMA's attention
    plain = _errors("{type: MultiheadAttention, num_heads: 8, rotary: {}}", "[B, T, 100]")
    assert [c for c, _, _ in plain] == ["S004"] and "head_dim:" in plain[0][2]
    assert "head_dim" not in _errors("{type: MultiheadAttention, num_heads: 8}", "[B, T, 100]")[0][2]
    _spec("{type: MultiheadAttention, num_heads: 8, head_dim: 16, rotary: {}}", "[B, T, 100]")
    # rotary's dim is held to the head it turns, the given head_dim
    [(code, message, hint)] = _errors("{type: MultiheadAttention, num_heads: 4, head_dim: 6, rotary: {dim: 8}}")
    assert code == "S040" and "head_dim 6" in message and "rotary: {dim: 6}" in hint


@pytest.mark.parametrize(("layer", "code", "words"), [
    ("{type: MultiheadAttention, num_heads: 4, window: 8, rotary: {}}", "V130", "set causal: true"),
    ("{type: MultiheadAttention, num_heads: 4, rotary: {scaling: {type: llama3, factor: 8}}}", "V131",
     "low_freq_factor, high_freq_factor, original_max_position_embeddings are not given"),
    ("{type: MultiheadAttention, num_heads: 4, rotary: {scaling: {type: linear, factor: 8, low_freq_factor: 1}}}",
     "V131", "low_freq_factor is given too"),
    ("{type: MultiheadAttention, num_heads: 4, rotary: {scaling: {type: llama3, factor: 8, low_freq_factor: 4, "
     "high_freq_factor: 1, original_max_position_embeddings: 8192}}}", "V132", "swap the two"),
    ("{type: MultiheadAttention, num_heads: 4, local_window: 8, causal: true}", "V158", "window (5) with causal"),
    # qk_norm's dim held to the width over: names: the projection's on a per-head norm, the keys' on OLMo-2's, another
    ("{type: MultiheadAttention, num_heads: 4, head_dim: 8, qk_norm: {dim: 32}}", "V159", "qk_norm: {dim: 8} for "
     "Qwen3's per head"),
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, qk_norm: {over: all, dim: 8}}", "V159",
     "k_norm takes the keys' 8 by itself"),
    ("{type: MultiheadAttention, num_heads: 4, qk_norm: {eps: 1e-5, dim: 6}}", "V159",
     "qk_norm: {eps: 1e-05, dim: 4}"),
    ("{type: MultiheadAttention, num_heads: 4, window: 4}", "V130", "local_window (8 for 4"),
    ("{type: MultiheadAttention, num_heads: 4, rotary: {scaling: {type: yarn, factor: 4, "
     "original_max_position_embeddings: 64, beta_fast: 1, beta_slow: 32}}}", "V156", "swap the two"),
    ("{type: MultiheadAttention, num_heads: 2, rotary: {scaling: {type: longrope, short_factor: [1, 2], "
     "long_factor: [1, 2], factor: 8, original_max_position_embeddings: 64}}}", "V157", "rotary turns 4 pairs"),
    ("{type: MultiheadAttention, num_heads: 4, rotary: {scaling: {type: longrope, short_factor: [1, 2], "
     "long_factor: [1, 2], original_max_position_embeddings: 64}}}", "V131", "max_position_embeddings / "
     "original_max_position_embeddings"),
    # a split bias is LLaMA's path, which has no bias_kv
    ("{type: MultiheadAttention, num_heads: 4, bias: {qkv: true, out: false}, add_bias_kv: true}", "V100",
     "drop bias:"),
], ids=["window-not-causal", "llama3-incomplete", "linear-with-llama3-keys", "llama3-band-inverted",
        "local-window-causal", "qk-norm-projection-on-head", "qk-norm-keys-width", "qk-norm-other-width",
        "window-both-sides", "yarn-ramp-reversed", "longrope-factor-count",
        "longrope-without-factor", "split-bias-bias-kv"])
def test_wrong_combinations_are_refused_with_their_fix(layer: str, code: str, words: str) -> None:
    [(got, message, hint)] = _errors(layer)
    assert got == code and words in message + " " + hint, (message, hint)


@pytest.mark.parametrize(("layer", "code", "hint"), [
    ("{type: MultiheadAttention, num_heads: 4, qkv_bias: true}", "V001", "bias: {qkv: true, out: true}"),
    ("{type: MultiheadAttention, num_heads: 4, attention_bias: false, rotary: {}}", "V001", "bias: false"),
    ("{type: MultiheadAttention, num_heads: 4, rope_theta: 500000}", "V001", "rotary: {base: 500000}"),
    ("{type: MultiheadAttention, num_heads: 4, rotary: {theta: 500000}}", "V001", "base: 500000"),
    ("{type: MultiheadAttention, num_heads: 4, use_qk_norm: true, rotary: {}}", "V001", "qk_norm: true"),
    ("{type: MultiheadAttention, num_heads: 4, qk_norm: {rms_norm_eps: 1e-5}}", "V001", "eps: 1e-05"),
    ("{type: MultiheadAttention, num_heads: 4, rope_scaling: {type: linear, factor: 2}}", "V001",
     "under rotary: as scaling:"),
    ("{type: MultiheadAttention, num_heads: 4, rotary: {rope_scaling: {type: linear, factor: 2}}}", "V001",
     "'scaling'"),
    ("{type: MultiheadAttention, num_heads: 4, partial_rotary_factor: 0.5}", "V001", "rotary: {dim: N}"),
    ("{type: MultiheadAttention, num_heads: 4, rotary: {scaling: {rope_type: dynamic, factor: 2}}}", "V003",
     "type: linear (position interpolation) or type: llama3"),
    # Gemma 2's config keys: its scale, and the logits' softcap, which belongs after the LM head
    ("{type: MultiheadAttention, num_heads: 4, rotary: {}, query_pre_attn_scalar: 144}", "V001", "scale: 0.0833333"),
    ("{type: MultiheadAttention, num_heads: 4, rotary: {}, final_logit_softcapping: 30}", "V001",
     "{type: Tanh}, {type: Mul, value: 30} after the LM head"),
], ids=["timm-qkv_bias", "hf-attention_bias", "hf-rope_theta", "theta-in-rotary", "hf-use_qk_norm",
        "rms_norm_eps-in-qk_norm", "hf-rope_scaling",
        "rope_scaling-in-rotary", "hf-partial_rotary_factor", "dynamic-ntk", "gemma2-query_pre_attn_scalar",
        "gemma2-final_logit_softcapping"])
def test_hugging_face_and_timm_names_get_the_specs_way(layer: str, code: str, hint: str) -> None:
    [(got, _, given)] = _errors(layer)
    assert got == code and hint in given, given


# -- Qwen2, Gemma, Mistral and LLaMA 3.1 at their published sizes (tests/corpus/architectures) ----------------------

ARCH = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "architectures"


class HFDecoder(torch.nn.Module):
    """Qwen2ForCausalLM / MistralForCausalLM / GemmaForCausalLM / LlamaForCausalLM as Hugging Face writes them
    ("model." left off): Gemma scales the embeddings by √d, its RMSNorm multiplies by 1 + weight, its MLP is the
    tanh GELU, and its lm_head is the embedding (tied)."""

    class RMSNorm(torch.nn.Module):
        def __init__(self, d: int, eps: float, gemma: bool) -> None:
            super().__init__()
            self.weight, self.eps, self.gemma = torch.nn.Parameter(torch.ones(d)), eps, gemma

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            normed = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
            return normed * (1.0 + self.weight) if self.gemma else self.weight * normed

    class MLP(torch.nn.Module):
        def __init__(self, d: int, ff: int, gemma: bool) -> None:
            super().__init__()
            self.gate_proj = torch.nn.Linear(d, ff, bias=False)
            self.up_proj = torch.nn.Linear(d, ff, bias=False)
            self.down_proj = torch.nn.Linear(ff, d, bias=False)
            self.gemma = gemma

        def act(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.gelu(x, approximate="tanh") if self.gemma else torch.nn.functional.silu(x)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))

    def __init__(self, family: str, vocab: int, d: int, heads: int, kv_heads: int, ff: int, layers: int,
                 eps: float, **attention: object) -> None:
        super().__init__()
        nn, gemma = torch.nn, family == "gemma"
        self.gemma, self.d = gemma, d
        self.embed_tokens = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList()
        for _ in range(layers):
            layer = nn.Module()
            layer.input_layernorm = self.RMSNorm(d, eps, gemma)
            layer.post_attention_layernorm = self.RMSNorm(d, eps, gemma)
            layer.self_attn, layer.mlp = HFAttention(d, heads, kv_heads, **attention), self.MLP(d, ff, gemma)
            self.layers.append(layer)
        self.norm = self.RMSNorm(d, eps, gemma)
        if not gemma:
            self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed_tokens(ids)
        if self.gemma:  # GemmaModel's normalizer, in the activations' dtype
            h = h * torch.tensor(self.d**0.5, dtype=h.dtype)
        for layer in self.layers:
            h = h + layer.self_attn(layer.input_layernorm(h))
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        h = self.norm(h)
        return h @ self.embed_tokens.weight.T if self.gemma else self.lm_head(h)


TWINS = [
    ("qwen2.yaml", dict(family="qwen2", vocab=1000, d=64, heads=4, kv_heads=2, ff=160, layers=2, eps=1e-6,
                        bias=True, o_bias=False, theta=1000000.0)),
    ("gemma.yaml", dict(family="gemma", vocab=1000, d=48, heads=4, kv_heads=1, ff=128, layers=2, eps=1e-6,
                        head_dim=16)),
    ("mistral.yaml", dict(family="mistral", vocab=1000, d=64, heads=4, kv_heads=2, ff=160, layers=2, eps=1e-5,
                          window=4)),
    ("llama3_1.yaml", dict(family="llama", vocab=1000, d=64, heads=4, kv_heads=2, ff=172, layers=2, eps=1e-5,
                           inv_freq=hf_llama3_inv_freq(16, 500000.0, 8.0, 1.0, 4.0, 16))),
]


@pytest.mark.parametrize(("stem", "config"), TWINS, ids=[s for s, _ in TWINS])
def test_spec_loads_a_hugging_face_state_dict_and_computes_its_logits(stem: str, config: dict) -> None:
    model = build_module(specc.load(ARCH / stem), seed=0).eval()
    torch.manual_seed(2)
    twin = HFDecoder(**config).eval()
    for p in twin.parameters():
        torch.nn.init.normal_(p, std=0.2)
    state = twin.state_dict()
    if config["family"] == "gemma":  # tied: Hugging Face's checkpoint has lm_head.weight as the embedding
        state["lm_head.weight"] = state["embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and not missing, (missing, unexpected)
    for t in (3, 9):  # 9: past Mistral's window of 4
        ids = torch.randint(0, 1000, (2, t))
        with torch.no_grad():
            torch.testing.assert_close(model(ids), twin(ids), atol=1e-4, rtol=1e-4)
