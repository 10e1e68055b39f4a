"""The sparse mixture of experts (MixtureOfExperts): Hugging Face's Mixtral block computes what the spec's
module computes from the same weights (loaded under the checkpoints' names), the published parameter counts,
the MACs of the routed experts only, the direct ONNX export at several sizes, and what check refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import specc
from specc.backends.torch_build import build_module

ARCH = Path(__file__).resolve().parent / "corpus" / "architectures"


# -- transformers 5.24's modeling_mixtral.py (MixtralExperts, MixtralTopKRouter, MixtralSparseMoeBlock), copied
# -- without the jitter noise (0 in MixtralConfig) and the kernel hub decorator ------------------------------

class HFMixtralExperts(nn.Module):
    def __init__(self, num_experts: int, hidden_dim: int, intermediate_dim: int) -> None:
        super().__init__()
        self.num_experts = num_experts
        self.gate_up_proj = nn.Parameter(torch.empty(num_experts, 2 * intermediate_dim, hidden_dim))
        self.down_proj = nn.Parameter(torch.empty(num_experts, hidden_dim, intermediate_dim))
        self.act_fn = F.silu

    def forward(self, hidden_states: torch.Tensor, top_k_index: torch.Tensor,
                top_k_weights: torch.Tensor) -> torch.Tensor:
        final_hidden_states = torch.zeros_like(hidden_states)
        with torch.no_grad():
            expert_mask = torch.nn.functional.one_hot(top_k_index, num_classes=self.num_experts + 1)
            expert_mask = expert_mask.permute(2, 1, 0)
            expert_hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()
        for expert_idx in expert_hit:
            expert_idx = expert_idx[0]
            if expert_idx == self.num_experts:
                continue
            top_k_pos, token_idx = torch.where(expert_mask[expert_idx])
            current_state = hidden_states[token_idx]
            gate, up = nn.functional.linear(current_state, self.gate_up_proj[expert_idx]).chunk(2, dim=-1)
            current_hidden_states = self.act_fn(gate) * up
            current_hidden_states = nn.functional.linear(current_hidden_states, self.down_proj[expert_idx])
            current_hidden_states = current_hidden_states * top_k_weights[token_idx, top_k_pos, None]
            final_hidden_states.index_add_(0, token_idx, current_hidden_states.to(final_hidden_states.dtype))
        return final_hidden_states


class HFMixtralTopKRouter(nn.Module):
    def __init__(self, num_experts: int, hidden_dim: int, top_k: int) -> None:
        super().__init__()
        self.top_k, self.num_experts, self.hidden_dim = top_k, num_experts, hidden_dim
        self.weight = nn.Parameter(torch.empty(num_experts, hidden_dim))

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden_states = hidden_states.reshape(-1, self.hidden_dim)
        router_logits = F.linear(hidden_states, self.weight)
        router_probs = torch.nn.functional.softmax(router_logits.float(), dim=-1)
        router_top_value, router_indices = torch.topk(router_probs, self.top_k, dim=-1)
        router_top_value /= router_top_value.sum(dim=-1, keepdim=True)
        return router_logits, router_top_value, router_indices


class HFMixtralSparseMoeBlock(nn.Module):
    def __init__(self, num_experts: int, hidden_dim: int, intermediate_dim: int, top_k: int) -> None:
        super().__init__()
        self.gate = HFMixtralTopKRouter(num_experts, hidden_dim, top_k)
        self.experts = HFMixtralExperts(num_experts, hidden_dim, intermediate_dim)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        batch_size, sequence_length, hidden_dim = hidden_states.shape
        hidden_states = hidden_states.view(-1, hidden_states.shape[-1])
        _, top_k_weights, top_k_index = self.gate(hidden_states)
        hidden_states = self.experts(hidden_states, top_k_index, top_k_weights)
        return hidden_states.reshape(batch_size, sequence_length, hidden_dim)


def checkpoint_names(block: HFMixtralSparseMoeBlock, ff: int) -> dict[str, torch.Tensor]:
    """The block's weights as Mixtral's checkpoints hold them (transformers 4.x's layout, which 5.x fuses on
    load): gate.weight, experts.{i}.w1 (gate), w3 (up) and w2 (down)."""
    out = {"gate.weight": block.gate.weight.detach()}
    for i in range(block.experts.num_experts):
        out[f"experts.{i}.w1.weight"] = block.experts.gate_up_proj[i, :ff].detach()
        out[f"experts.{i}.w3.weight"] = block.experts.gate_up_proj[i, ff:].detach()
        out[f"experts.{i}.w2.weight"] = block.experts.down_proj[i].detach()
    return out


MOE = "specc: 1\ninputs: {{x: [B, T, {d}]}}\nlayers:\n  - {{type: MixtureOfExperts, {keys}, name: moe}}\n"


def moe_spec(d: int, keys: str) -> specc.Spec:
    spec = specc.loads(MOE.format(d=d, keys=keys), "moe.yaml")
    assert spec.ok, spec.errors
    return spec


@pytest.mark.parametrize(("e", "k"), [(8, 2), (4, 1), (6, 3)])
def test_mixtral_block_loads_the_checkpoint_names_and_computes_hugging_faces_outputs(e: int, k: int) -> None:
    d, ff = 16, 24
    torch.manual_seed(0)
    twin = HFMixtralSparseMoeBlock(e, d, ff, k)
    for p in twin.parameters():
        nn.init.normal_(p, std=0.3)
    model = build_module(moe_spec(d, f"num_local_experts: {e}, num_experts_per_tok: {k}, intermediate_size: {ff}"))
    model.moe.load_state_dict(checkpoint_names(twin, ff), strict=True)
    for b, t in ((2, 5), (3, 17)):
        x = torch.randn(b, t, d)
        with torch.no_grad():
            torch.testing.assert_close(model(x), twin(x), atol=1e-5, rtol=1e-5)


def test_router_gradients_reach_every_routed_expert() -> None:
    # a training step: the router learns through the weights, each expert through the tokens it got
    model = build_module(moe_spec(8, "num_experts: 8, top_k: 2, hidden_features: 12"), seed=0).train()
    torch.manual_seed(1)
    model(torch.randn(1, 2, 8)).square().sum().backward()  # 2 tokens, top 2: 4 of the 8 experts at most
    moe = model.moe
    assert moe.gate.weight.grad is not None and moe.gate.weight.grad.abs().sum() > 0
    # every expert takes a gradient, zero where no token reached it (DistributedDataParallel needs one)
    assert all(p.grad is not None for p in moe.parameters())
    assert sum(bool(ex.w1.weight.grad.any()) for ex in moe.experts) >= 2


def test_tied_router_scores_go_to_the_lower_numbered_experts_in_pytorch_and_onnx(tmp_path: Path) -> None:
    # a router started at zeros scores every expert alike: torch.topk's pick among them depends on the kernel
    # (experts 2 and 3 of 4 on CPU), ONNX's TopK takes the lowest indices; the module takes those too
    from specc.backends.direct_export import export_direct

    text = MOE.format(d=16, keys="num_experts: 8, top_k: 2, hidden_features: 24, bias: true")
    spec = specc.loads(text + 'init: {MixtureOfExperts: {"gate.weight": zeros}}\n', "moe.yaml")
    assert spec.ok, spec.errors
    model = build_module(spec, seed=0).eval()
    x = torch.randn(2, 3, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), (model.moe.experts[0](x) + model.moe.experts[1](x)) / 2)
    assert export_direct(spec, tmp_path / "m.onnx", compare="torch").verification is not None


# -- published counts: transformers 5.24, each model built from its config on the meta device -----------------

def test_mixtral_8x7b_has_hugging_faces_count() -> None:
    # MixtralForCausalLM(MixtralConfig(vocab_size=32000, hidden_size=4096, intermediate_size=14336,
    # num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, num_local_experts=8,
    # num_experts_per_tok=2)): 46,702,792,704
    sizes = dict(vocab=32000, d=4096, heads=32, kv_heads=8, ff=14336, experts=8, k=2, layers=32)
    spec = specc.load(ARCH / "mixtral_tiny.yaml", overrides=[f"{k}={v}" for k, v in sizes.items()])
    assert spec.check()["total_params"] == 46_702_792_704


def test_qwen1_5_moe_a2_7b_has_hugging_faces_count() -> None:
    # Qwen2MoeForCausalLM(Qwen2MoeConfig(vocab_size=151936, hidden_size=2048, num_hidden_layers=24,
    # num_attention_heads=16, num_key_value_heads=16, moe_intermediate_size=1408,
    # shared_expert_intermediate_size=5632, num_experts=60, num_experts_per_tok=4, norm_topk_prob=False,
    # tie_word_embeddings=False)): 14,315,784,192. Qwen2's decoder (qkv biases) with its MLP the sparse block.
    text = (ARCH / "qwen2.yaml").read_text(encoding="utf-8")
    mlp = "      - {type: Mlp, name: mlp}\n"
    assert mlp in text
    moe = ("      - {type: MixtureOfExperts, num_experts: 60, top_k: 4, moe_intermediate_size: 1408, "
           "norm_topk_prob: false, shared_expert_intermediate_size: 5632, name: mlp}\n")
    sizes = dict(vocab=151936, d=2048, heads=16, kv_heads=16, layers=24)
    spec = specc.loads(text.replace(mlp, moe), "qwen_moe.yaml", overrides=[f"{k}={v}" for k, v in sizes.items()])
    assert spec.check()["total_params"] == 14_315_784_192


@pytest.mark.parametrize(("d", "keys", "published"), [
    # MixtralSparseMoeBlock(MixtralConfig(...8x7B...)): gate 8·4096, 8 experts of 3·4096·14336
    (4096, "num_local_experts: 8, num_experts_per_tok: 2, intermediate_size: 14336", 1_409_318_912),
    # SwitchTransformersSparseMLP of google/switch-base-8 (d_model 768, d_ff 3072, 8 experts, relu, no gating,
    # router without bias): router.classifier 8·768, experts.expert_i.wi / wo
    (768, "num_experts: 8, top_k: 1, d_ff: 3072, activation: relu, gated: false, normalize: false", 37_754_880),
    # Qwen2MoeSparseMoeBlock of Qwen/Qwen1.5-MoE-A2.7B (hidden 2048, 60 experts of 1408, top 4, a shared expert
    # of 5632 and its sigmoid gate); the whole Qwen2MoeForCausalLM is 14,315,784,192
    (2048, "num_experts: 60, top_k: 4, moe_intermediate_size: 1408, norm_topk_prob: false, "
     "shared_expert_intermediate_size: 5632", 553_773_056),
], ids=["mixtral-8x7b-block", "switch-base-8-ffn", "qwen1.5-moe-a2.7b-block"])
def test_published_moe_blocks_have_hugging_faces_counts(d: int, keys: str, published: int) -> None:
    assert moe_spec(d, keys).check()["total_params"] == published


def test_macs_count_the_routed_experts_only() -> None:
    # per token: the router (d·E) and k of the E experts (3·d·ff each, gated), not all E
    d, e, k, ff, t = 16, 8, 2, 24, 10
    spec = specc.loads(MOE.format(d=d, keys=f"num_experts: {e}, top_k: {k}, hidden_features: {ff}")
                       .replace("[B, T,", f"[B, {t},"), "moe.yaml")
    assert spec.ok
    assert spec.check()["macs_per_sample"] == t * (d * e + k * 3 * d * ff)


# -- what check refuses --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("shape", "keys", "code", "hint"), [
    ("[B, T, 16]", "num_experts: 4, top_k: 8, hidden_features: 24", "V155", "top_k: 4 or fewer"),
    ("[B, T, 16]", "num_experts: 4, top_k: 0, hidden_features: 24", "V003", "top_k: 2"),
    # (B, C, T) from a Conv1d: the features are not last
    ("[B, 16, T]", "num_experts: 4, top_k: 2, hidden_features: 24", "S005", "Permute, dims: [0, 2, 1]"),
    ("[B, 16, 8, 8]", "num_experts: 4, top_k: 2, hidden_features: 24", "S003", "Flatten, start_dim: 2"),
    ("[B, T, 16]", "num_experts: 4, top_k: 2, hidden_features: 24, in_features: 32", "S001", "in_features: 16"),
])
def test_check_refuses_what_the_router_cannot_do(shape: str, keys: str, code: str, hint: str) -> None:
    text = f"specc: 1\ninputs: {{x: {shape}}}\nlayers:\n  - {{type: MixtureOfExperts, {keys}}}\n"
    errors = specc.loads(text, "moe.yaml").errors
    assert [d.code for d in errors] == [code], errors
    assert hint in (errors[0].hint or ""), errors[0].hint


@pytest.mark.parametrize("keys", [
    "num_experts: 8, top_k: 1, hidden_features: 64, activation: relu, gated: false, normalize: false",
    "num_experts: 6, top_k: 3, hidden_features: 32, shared_features: 48, normalize: false",
    "num_experts: 6, top_k: 2, hidden_features: 32, activation: gelu, bias: true, shared_features: 40, "
    "shared_gate: false",
])
def test_training_memory_is_what_autograd_keeps_for_the_routed_tokens(keys: str) -> None:
    # every token is routed to k experts whichever they are, so the count does not depend on the routing
    from tests.test_training_memory import estimated, saved_bytes

    spec = moe_spec(16, keys)
    for batch in (2, 5):
        assert estimated(spec, batch, {"T": 10}) == pytest.approx(saved_bytes(spec, batch, {"T": 10}), rel=1e-3)


@pytest.mark.parametrize(("key", "says"), [
    ("router_aux_loss_coef: 0.02", "does not add the router's load-balancing loss"),
    ("expert_capacity: 64", "drops no token"),
])
def test_what_the_layer_leaves_out_is_said_where_a_spec_asks_for_it(key: str, says: str) -> None:
    errors = specc.loads(MOE.format(d=16, keys=f"num_experts: 4, top_k: 2, hidden_features: 24, {key}"),
                         "moe.yaml").errors
    assert [d.code for d in errors] == ["V001"] and says in (errors[0].hint or ""), errors
