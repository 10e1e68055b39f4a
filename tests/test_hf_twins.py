"""Language models of tests/corpus/architectures against Hugging Face's own modules: each spec, built at its
small default sizes, loads the state dict of the transformers model built from the matching config (random
weights, nothing downloaded; renamed and unpacked as each spec's comment says) and computes its logits, at a
length inside and one past Gemma 2's and ModernBERT's windows (and Phi-3's trained context, where LongRoPE
turns to its long factors).  transformers is no dependency of specc: this runs where it is
installed (a throwaway venv with specc's requirements, pytest and transformers) and skips elsewhere;
tests/test_published_params.py pins the counts at the published sizes in every run.  To run it:
``python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch transformers pyyaml pydantic jinja2 pytest``, then
``PYTHONPATH=. /tmp/ref/bin/python -m pytest tests/test_hf_twins.py`` (transformers 5.24: 20 passed, ~100 s).
Llama 4's weightless L2 query/key norm is compared at the attention alone (Llama4TextAttention): its MoE
layers and position-dependent temperature are no spec of this corpus."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

import specc

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from specc.backends.torch_build import build_module  # noqa: E402

ARCH = Path(__file__).resolve().parent / "corpus" / "architectures"
Renames = list[tuple[str, str]]


def _falcon_qkv(state: dict[str, torch.Tensor], heads: int, head_dim: int) -> dict[str, torch.Tensor]:
    """falcon-7b's query_key_value (multi_query): heads·head_dim rows of q, then one head of k, one of v."""
    out = {}
    for key, w in state.items():
        if key.endswith("query_key_value.weight"):
            stem = key[: -len("query_key_value.weight")]
            q, k, v = w.split([heads * head_dim, head_dim, head_dim])
            out |= {f"{stem}q_proj.weight": q, f"{stem}k_proj.weight": k, f"{stem}v_proj.weight": v}
        else:
            out[key] = w
    return out


def _falcon_grouped_qkv(state: dict[str, torch.Tensor], heads: int, kv_heads: int,
                        head_dim: int) -> dict[str, torch.Tensor]:
    """falcon-40b's query_key_value (new_decoder_architecture): for each key/value group, its heads / kv_heads
    query heads, then its key head, then its value head (FalconAttention._split_heads)."""
    out = {}
    for key, w in state.items():
        if key.endswith("query_key_value.weight"):
            stem = key[: -len("query_key_value.weight")]
            groups = w.view(kv_heads, heads // kv_heads + 2, head_dim, -1)
            q, k, v = groups[:, :-2], groups[:, -2], groups[:, -1]
            out |= {f"{stem}q_proj.weight": q.reshape(heads * head_dim, -1),
                    f"{stem}k_proj.weight": k.reshape(kv_heads * head_dim, -1),
                    f"{stem}v_proj.weight": v.reshape(kv_heads * head_dim, -1)}
        else:
            out[key] = w
    return out


def _phi3_packed(state: dict[str, torch.Tensor], d: int, ff: int) -> dict[str, torch.Tensor]:
    """Phi-3's qkv_proj is [q_proj; k_proj; v_proj] by rows (as many key/value heads as query heads here),
    gate_up_proj [gate_proj; up_proj]."""
    out = {}
    for key, w in state.items():
        if key.endswith("qkv_proj.weight"):
            stem = key[: -len("qkv_proj.weight")]
            out |= dict(zip((f"{stem}{n}_proj.weight" for n in "qkv"), w.split([d, d, d])))
        elif key.endswith("gate_up_proj.weight"):
            stem = key[: -len("gate_up_proj.weight")]
            out |= {f"{stem}gate_proj.weight": w[:ff], f"{stem}up_proj.weight": w[ff:]}
        else:
            out[key] = w
    return out


def _modernbert(state: dict[str, torch.Tensor], d: int) -> dict[str, torch.Tensor]:
    """ModernBERT's attn.Wqkv is [q; k; v] by rows, attn.Wo the output projection; layers.0 is the spec's
    first, layers.<3k + 1 + j> its triples.<k>.(local1, local2, full)[j]."""
    out = {}
    for key, w in state.items():
        key = re.sub(r"^embeddings\.", "", key)
        m = re.match(r"layers\.(\d+)\.(.*)", key)
        if m:
            i, rest = int(m.group(1)), m.group(2)
            where = "first" if i == 0 else f"triples.{(i - 1) // 3}.{('local1', 'local2', 'full')[(i - 1) % 3]}"
            key = f"{where}.{rest.replace('attn.Wo', 'attn.o_proj')}"
        if key.endswith("attn.Wqkv.weight"):
            stem = key[: -len("Wqkv.weight")]
            out |= dict(zip((f"{stem}{n}_proj.weight" for n in "qkv"), w.split([d, d, d])))
        else:
            out[key] = w
    return out


def _gemma2_layers(key: str) -> str:
    """HF's layers.<i> alternate sliding (even i) and full (odd i) attention: the spec's pairs.<i // 2>."""
    m = re.match(r"layers\.(\d+)\.(.*)", key)
    if not m:
        return key
    i = int(m.group(1))
    return f"pairs.{i // 2}.{'local' if i % 2 == 0 else 'full'}.{m.group(2)}"


def _gemma3_layers(key: str, groups: int = 1) -> str:
    """HF's layers.<6g + j> are five sliding layers and a global one: the spec's groups.<g>.local<j + 1> (j < 5)
    and groups.<g>.full (j = 5); the layers past the groups, tail.<i>."""
    m = re.match(r"layers\.(\d+)\.(.*)", key)
    if not m:
        return key
    i = int(m.group(1))
    if i >= 6 * groups:
        return f"tail.{i - 6 * groups}.{m.group(2)}"
    g, j = divmod(i, 6)
    return f"groups.{g}.{'full' if j == 5 else f'local{j + 1}'}.{m.group(2)}"


# stem, config class, model class, config, the spec's overrides, renames (regex, replacement) applied in order
TWINS: list[tuple[str, str, str, dict, list[str], Renames]] = [
    ("falcon", "FalconConfig", "FalconForCausalLM",
     dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, multi_query=True,
          parallel_attn=True, bias=False, new_decoder_architecture=False, alibi=False),
     [], [(r"^transformer\.", ""), (r"\.mlp\.", "."), (r"self_attention\.dense", "self_attention.o_proj")]),
    # falcon-40b's new decoder: ln_attn and ln_mlp, 8 query heads in 2 key/value groups
    ("falcon_40b", "FalconConfig", "FalconForCausalLM",
     dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=8, num_kv_heads=2,
          parallel_attn=True, bias=False, new_decoder_architecture=True, alibi=False),
     [], [(r"^transformer\.", ""), (r"\.mlp\.", "."), (r"self_attention\.dense", "self_attention.o_proj")]),
    # Command R+: q_norm / k_norm a LayerNorm of each head with a weight per head, interleaved rotary, logit_scale
    ("cohere", "CohereConfig", "CohereForCausalLM",
     dict(vocab_size=1000, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
          num_key_value_heads=2, use_qk_norm=True, logit_scale=0.8333333, rope_theta=75000000.0,
          tie_word_embeddings=True, pad_token_id=0),
     [], [(r"^model\.", "")]),
    ("gpt_j", "GPTJConfig", "GPTJForCausalLM", dict(vocab_size=1000, n_embd=64, n_layer=2, n_head=4, rotary_dim=8),
     [], [(r"^transformer\.", ""), (r"attn\.out_proj", "attn.o_proj")]),
    ("phi2", "PhiConfig", "PhiForCausalLM",
     dict(vocab_size=1000, hidden_size=80, intermediate_size=320, num_hidden_layers=2, num_attention_heads=4,
          partial_rotary_factor=0.4),
     [], [(r"^model\.", ""), (r"self_attn\.dense", "self_attn.o_proj")]),
    ("stablelm2", "StableLmConfig", "StableLmForCausalLM",
     dict(vocab_size=1000, hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4,
          num_key_value_heads=4, partial_rotary_factor=0.25, use_qkv_bias=True, tie_word_embeddings=False),
     [], [(r"^model\.", "")]),
    ("olmo", "OlmoConfig", "OlmoForCausalLM",
     dict(vocab_size=1000, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
          num_key_value_heads=4, tie_word_embeddings=True),
     [], [(r"^model\.", "")]),
    # OLMo-7B-0424's clip_qkv, at 0.5: these weights' projections reach past it (8.0 would barely clamp any)
    ("olmo", "OlmoConfig", "OlmoForCausalLM",
     dict(vocab_size=1000, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
          num_key_value_heads=4, tie_word_embeddings=True, clip_qkv=0.5),
     ["clip=0.5"], [(r"^model\.", "")]),
    # YaRN as Qwen2.5's card adds it (factor 4), over a trained context of 64 so that the ramp is inside the head
    ("qwen2_5_yarn", "Qwen2Config", "Qwen2ForCausalLM",
     dict(vocab_size=1000, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
          num_key_value_heads=2, rms_norm_eps=1e-6, tie_word_embeddings=False,
          rope_parameters={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64,
                           "rope_theta": 1000000.0}),
     [], [(r"^model\.", "")]),
    # LongRoPE over a trained context of 4 (factor 64 / 4 = 16): 3 steps take the short factors, 9 the long
    ("phi3_longrope", "Phi3Config", "Phi3ForCausalLM",
     dict(vocab_size=1000, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
          num_key_value_heads=4, max_position_embeddings=64, original_max_position_embeddings=4, pad_token_id=0,
          rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "original_max_position_embeddings": 4,
                           "short_factor": [1.0, 1.02, 1.05, 1.1, 1.2, 1.4, 1.7, 2.1],
                           "long_factor": [1.1, 1.3, 1.8, 2.9, 5.4, 9.1, 14.5, 22.0]}),
     [], [(r"^model\.", "")]),
    # a local window of 4 (2 keys on either side): 9 steps reach past it; layers 0 and 3 global
    ("modernbert", "ModernBertConfig", "ModernBertModel",
     dict(vocab_size=1000, hidden_size=64, intermediate_size=96, num_hidden_layers=4, num_attention_heads=4,
          local_attention=4, pad_token_id=0),
     [], []),
    # caps of 2 and 3 bend every score and logit of these random weights (Gemma 2's 50 and 30 barely would)
    ("gemma2", "Gemma2Config", "Gemma2ForCausalLM",
     dict(vocab_size=1000, hidden_size=48, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
          num_key_value_heads=2, head_dim=16, sliding_window=4, attn_logit_softcapping=2.0,
          final_logit_softcapping=3.0),
     ["pairs=2", "window=4", "attn_softcap=2.0", "final_softcap=3.0"], [(r"^model\.", "")]),
    # q_norm / k_norm: Qwen3's per head (4 heads of 32 in 64 features), OLMo-2's over the whole projections
    ("qwen3", "Qwen3Config", "Qwen3ForCausalLM",
     dict(vocab_size=1000, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
          num_key_value_heads=2, head_dim=32, rms_norm_eps=1e-6, tie_word_embeddings=False,
          rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
     [], [(r"^model\.", "")]),
    # Gemma 3: q_norm / k_norm per head of 1 + weight, five windows of 4 keys then a global layer, then one more
    # window; the local and global rotary bases apart
    ("gemma3", "Gemma3TextConfig", "Gemma3ForCausalLM",
     dict(vocab_size=1000, hidden_size=48, intermediate_size=128, num_hidden_layers=7, num_attention_heads=4,
          num_key_value_heads=2, head_dim=16, sliding_window=4, query_pre_attn_scalar=256),
     ["window=4"], [(r"^model\.", "")]),
    # Mamba: no attention, the selective scan's sequential reference path (MambaMixer.slow_forward on CPU)
    ("mamba", "MambaConfig", "MambaForCausalLM",
     dict(vocab_size=1000, hidden_size=32, num_hidden_layers=2, state_size=16, expand=2, conv_kernel=4,
          tie_word_embeddings=True),
     ["vocab=1000"], [(r"^backbone\.", "")]),
    ("olmo2", "Olmo2Config", "Olmo2ForCausalLM",
     dict(vocab_size=1000, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
          num_key_value_heads=4, rms_norm_eps=1e-6, tie_word_embeddings=False,
          rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
     [], [(r"^model\.", "")]),
]


@pytest.mark.parametrize(("stem", "config_class", "model_class", "config", "overrides", "renames"), TWINS,
                         ids=[t[0] + "-clip" * any(o.startswith("clip=") for o in t[4]) for t in TWINS])
def test_spec_computes_hugging_faces_logits(stem: str, config_class: str, model_class: str, config: dict,
                                            overrides: list[str], renames: Renames) -> None:
    cfg = getattr(transformers, config_class)(**config)
    torch.manual_seed(0)
    twin = getattr(transformers, model_class)._from_config(cfg, attn_implementation="eager").eval()
    for p in twin.parameters():
        torch.nn.init.normal_(p, std=0.2)
    state = twin.state_dict()
    if stem == "falcon":
        state = _falcon_qkv(state, 4, 16)
    if stem == "falcon_40b":
        state = _falcon_grouped_qkv(state, 8, 2, 8)
    if stem == "phi3_longrope":
        state = _phi3_packed(state, 64, 160)
    if stem == "modernbert":
        state = _modernbert(state, 64)
    rename: Callable[[str], str] = {"gemma2": _gemma2_layers, "gemma3": _gemma3_layers}.get(stem, lambda k: k)
    for pattern, new in renames:
        state = {re.sub(pattern, new, k): v for k, v in state.items()}
    state = {rename(k): v for k, v in state.items()}
    spec = specc.load(ARCH / f"{stem}.yaml", overrides=overrides)
    assert spec.ok, [d.render() for d in spec.errors]
    model = build_module(spec).eval()
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    for t in (3, 9):  # 9: past Gemma 2's window of 4
        ids = torch.randint(0, 1000, (2, t))
        with torch.no_grad():
            out = twin(ids)
            want = out.logits if hasattr(out, "logits") else out.last_hidden_state  # ModernBertModel: no head
            torch.testing.assert_close(model(ids), want, atol=1e-4, rtol=1e-4)


def test_l2_qk_norm_computes_llama_4s_attention() -> None:
    # Llama 4 Scout's rotary layers at small sizes: Llama4TextAttention turns q and k (complex products of
    # interleaved pairs), then its weightless L2 norm; the spec normalises before the rotary, the same numbers
    cfg = transformers.Llama4TextConfig(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                        use_qk_norm=True, rms_norm_eps=1e-5, num_hidden_layers=1,
                                        rope_parameters={"rope_type": "default", "rope_theta": 500000.0})
    cfg._attn_implementation = "eager"
    modeling = pytest.importorskip("transformers.models.llama4.modeling_llama4")
    torch.manual_seed(0)
    twin = modeling.Llama4TextAttention(cfg, layer_idx=0).eval()
    assert twin.use_rope and hasattr(twin, "qk_norm")
    for p in twin.parameters():
        torch.nn.init.normal_(p, std=0.2)
    rope = modeling.Llama4TextRotaryEmbedding(cfg)
    spec = specc.loads("specc: 1\ninputs:\n  x: [B, T, 64]\nlayers:\n  - {type: MultiheadAttention, num_heads: 4, "
                       "num_kv_heads: 2, head_dim: 16, qk_norm: {type: l2, eps: 1.0e-5}, rotary: {base: 500000, "
                       "interleaved: true}, causal: true, bias: false, name: att}\n", "llama4.yaml")
    assert spec.ok, [(d.code, d.message) for d in spec.errors]
    model = build_module(spec).eval()
    model.att.load_state_dict(twin.state_dict(), strict=True)
    for t in (3, 9):
        x = torch.randn(2, t, 64)
        mask = torch.full((t, t), float("-inf")).triu(1)[None, None]
        with torch.no_grad():
            want, _ = twin(x, rope(x, torch.arange(t)[None]), mask)
            torch.testing.assert_close(model(x), want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("q_rank", "interleave", "rope"), [
    (24, True, {"rope_type": "default", "rope_theta": 10000.0}),
    # DeepSeek-V3's yarn over a trained context of 4: the ramp, cos and sin scaled, mscale_all_dim on the scores
    (24, True, {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0, "original_max_position_embeddings": 4,
                "beta_fast": 32.0, "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0}),
    (None, False, {"rope_type": "default", "rope_theta": 10000.0}),  # V2-Lite: one q_proj, rotate_half
], ids=["v3", "v3-yarn", "v2-lite"])
def test_latent_attention_computes_deepseeks(q_rank: int | None, interleave: bool, rope: dict) -> None:
    modeling = pytest.importorskip("transformers.models.deepseek_v3.modeling_deepseek_v3")
    cfg = transformers.DeepseekV3Config(hidden_size=64, num_attention_heads=4, num_key_value_heads=4,
                                        q_lora_rank=q_rank, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4,
                                        v_head_dim=12, rope_interleave=interleave, num_hidden_layers=1,
                                        max_position_embeddings=160, rope_parameters=rope)
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    twin = modeling.DeepseekV3Attention(cfg, 0).eval()
    for p in twin.parameters():
        torch.nn.init.normal_(p, std=0.2)
    scaling = {k: v for k, v in rope.items() if k not in ("rope_type", "rope_theta")}
    rotary = {"interleaved": interleave, **({"scaling": {"type": "yarn", **scaling}} if scaling else {})}
    ranks = "" if q_rank is None else f"q_lora_rank: {q_rank}, "
    spec = specc.loads("specc: 1\ninputs:\n  x: [B, T, 64]\nlayers:\n  - {type: MultiheadLatentAttention, "
                       f"num_heads: 4, {ranks}kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 4, "
                       f"v_head_dim: 12, rotary: {rotary}, causal: true, name: att}}\n".replace("'", ""), "mla.yaml")
    assert spec.ok, [(d.code, d.message) for d in spec.errors]
    model = build_module(spec).eval()
    model.att.load_state_dict(twin.state_dict(), strict=True)
    rotary_embedding = modeling.DeepseekV3RotaryEmbedding(cfg)
    for t in (3, 9):
        x = torch.randn(2, t, 64)
        mask = torch.full((t, t), float("-inf")).triu(1)[None, None]
        with torch.no_grad():
            want, _ = twin(x, rotary_embedding(x, torch.arange(t)[None]), mask)
            torch.testing.assert_close(model(x), want, atol=1e-5, rtol=1e-4)
