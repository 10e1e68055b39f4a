"""Attention as LLaMA, Mistral and GPT-NeoX write it: ``rotary:`` (rotary position embeddings on
the queries and keys) and ``num_kv_heads:`` (grouped-query attention) on MultiheadAttention.

The generated PyTorch must equal Hugging Face's eager attention written out by hand
(``layer_cases.HFAttention``: rotate_half, GPT-J's rotate_every_two, GPT-NeoX's partial rotary,
repeat_kv) with the same weights loaded by their Hugging Face names, at two lengths; the direct
ONNX target must equal the PyTorch target under ONNX Runtime; the counts, names and LoRA's
matrices follow the layer's projections.
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
    spec = specc.loads(f"specc: 1\ninputs:\n  x: {x}\nlayers:\n  - {layer}\n", "rotary.yaml")
    assert spec.ok, [d.message for d in spec.errors]
    return spec


HF_CASES = [
    # LLaMA-2 70B / Mistral: grouped-query heads, rotary over the whole head, causal, no biases
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, rotary: {base: 10000}, causal: true, bias: false, "
     "name: att}", "[B, T, 16]", dict(e=16, heads=4, kv_heads=2)),
    # GPT-NeoX / Pythia: rotary_pct 0.25 of a head of 8 turns 2 features (half-split), biases, every head its own
    ("{type: MultiheadAttention, num_heads: 2, rotary: {dim: 2}, causal: true, name: att}", "[B, T, 16]",
     dict(e=16, heads=2, kv_heads=2, bias=True, rotary_dim=2)),
    # GPT-J's interleaved pairs, multi-query (one key/value head), sequence first, LLaMA-3's large theta
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 1, batch_first: false, causal: true, "
     "rotary: {dim: 2, interleaved: true, base: 500000}, name: att}", "[T, B, 16]",
     dict(e=16, heads=4, kv_heads=1, bias=True, theta=500000, rotary_dim=2, interleaved=True, batch_first=False)),
]


@pytest.mark.parametrize(("layer", "x", "config"), HF_CASES, ids=["llama-gqa", "neox-partial", "gptj-mqa"])
def test_generated_attention_equals_hugging_faces(layer: str, x: str, config: dict[str, object]) -> None:
    model = build_module(_spec(layer, x), seed=0).eval()
    torch.manual_seed(1)
    oracle = HFAttention(**config).eval()  # type: ignore[arg-type]
    for p in oracle.parameters():  # biases too, so that a swapped q/k bias would show
        torch.nn.init.normal_(p, std=0.3)
    # The checkpoint loads under Hugging Face's names: prefix self_attn. -> the layer's name.
    model.att.load_state_dict(oracle.state_dict(), strict=True)
    batch_first = "batch_first: false" not in layer
    for t in (5, 13):
        shape = (3, t, 16) if batch_first else (t, 3, 16)
        x_in = torch.randn(*shape)
        with torch.no_grad():
            torch.testing.assert_close(model(x_in), oracle(x_in), atol=2e-5, rtol=1e-4)


def test_rotary_makes_attention_see_positions() -> None:
    # Without causal, attention over a set gives the same output rows for swapped tokens;
    # rotary makes the score depend on the distance, so a permutation changes the rows.
    plain = build_module(_spec("{type: MultiheadAttention, num_heads: 2, num_kv_heads: 2}"), seed=0).eval()
    rotary = build_module(_spec("{type: MultiheadAttention, num_heads: 2, rotary: {}}"), seed=0).eval()
    x = torch.randn(1, 6, 16)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        torch.testing.assert_close(plain(x)[:, perm], plain(x[:, perm]))
        assert not torch.allclose(rotary(x)[:, perm], rotary(x[:, perm]), atol=1e-4)


def test_counts_names_and_macs_are_the_projections() -> None:
    # LLaMA-2 70B's attention: hidden 8192, 64 heads, 8 key/value heads (head_dim 128), no biases
    spec = _spec("{type: MultiheadAttention, num_heads: 64, num_kv_heads: 8, rotary: {}, causal: true, bias: false}",
                 "[B, T, 8192]")
    node = spec.graph.nodes[-1]
    e, kv_dim = 8192, 8 * 128
    assert node.result.params == 2 * e * e + 2 * e * kv_dim == 150_994_944
    assert node.kind.weights(node.result.args) == {
        "q_proj.weight": (e, e), "k_proj.weight": (kv_dim, e), "v_proj.weight": (kv_dim, e), "o_proj.weight": (e, e)}
    from specc.shapes.dims import evaluate
    # projections T·(2E² + 2·E·kv_dim), scores and sum 2·T²·E
    assert evaluate(node.result.macs, {"T": 10, "B": 1}) == 10 * (2 * e * e + 2 * e * kv_dim) + 2 * 100 * e
    small = _spec("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, from: [x, m], name: att}",
                  "[B, T, 16]\n  m: [B, S, 6]")
    model = build_module(small, seed=0)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {"att.q_proj.weight": (16, 16), "att.q_proj.bias": (16,), "att.k_proj.weight": (8, 6),
                      "att.k_proj.bias": (8,), "att.v_proj.weight": (8, 6), "att.v_proj.bias": (8,),
                      "att.o_proj.weight": (16, 16), "att.o_proj.bias": (16,)}
    assert small.graph.nodes[-1].result.params == sum(math.prod(s) for s in shapes.values())


@pytest.mark.parametrize(("layer", "x"), [
    ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, rotary: {}, causal: true, bias: false}",
     "[B, T, 16]"),
    # cross-attention: the keys turn by their own positions 0..S-1
    ("{type: MultiheadAttention, num_heads: 2, num_kv_heads: 1, batch_first: false, scale: 0.5, "
     "rotary: {dim: 4, interleaved: true, base: 500}, from: [x, m]}", "[T, B, 16]\n  m: [S, B, 12]"),
], ids=["self-gqa-causal", "cross-mqa-interleaved"])
def test_direct_onnx_equals_pytorch(layer: str, x: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from specc.backends.direct_export import export_direct

    report = export_direct(_spec(layer, x), tmp_path / "m.onnx", compare="torch").verification
    assert report is not None and report.against == "PyTorch" and len(report.runs) >= 2
    assert len({r.env["T"] for r in report.runs}) >= 2  # two lengths at least: no fixed table


def test_lora_adapts_the_four_projections(tmp_path: Path) -> None:
    text = ("specc: 1\ninputs:\n  x: [B, T, 16]\nlayers:\n  - {type: MultiheadAttention, num_heads: 4, "
            "num_kv_heads: 1, rotary: {}, causal: true, name: att}\nlora: {rank: 2, targets: [att]}\n")
    spec = specc.loads(text, "lora.yaml")
    assert spec.ok, [d.message for d in spec.errors]
    model = build_module(spec, seed=0)
    trainable = {k: tuple(p.shape) for k, p in model.named_parameters() if p.requires_grad}
    assert len(trainable) == 8, trainable  # A and B of q, k, v and o
    # rank · (in + out) each: q and o 16 + 16, k and v 16 + 4
    assert sum(math.prod(s) for s in trainable.values()) == 2 * (2 * 32 + 2 * 20)
    with torch.no_grad():
        assert model(torch.randn(2, 5, 16)).shape == (2, 5, 16)


@pytest.mark.slow
@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_torch_exporters_write_it_at_every_length(exporter: str, tmp_path: Path) -> None:
    # Traced, the lengths T and S are read from the inputs (not frozen at the export size), and GPT-J's
    # interleaved pairs are a reshape, not a stack (which the TorchScript exporter could not write).
    # Slow: dynamo's first export in a process costs about 30 s of its own start-up.
    pytest.importorskip("onnxruntime")
    from specc.backends.onnx_export import export_spec

    spec = _spec("{type: MultiheadAttention, num_heads: 2, num_kv_heads: 1, batch_first: false, kdim: 12, "
                 "vdim: 12, causal: false, rotary: {dim: 4, interleaved: true}, from: [x, m]}",
                 "[T, B, 16]\n  m: [S, B, 12]")
    result = export_spec(spec, tmp_path / "m.onnx", exporter=exporter)
    assert result.exporter == exporter
    report = result.verification
    assert report is not None and report.against == "PyTorch"
    assert len({(r.env["T"], r.env["S"]) for r in report.runs}) >= 2


# -- LLaMA and Mistral at their published sizes (tests/corpus/architectures/llama_block.yaml) -----------------

ARCH = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "architectures"


def llama_params(vocab: int, d: int, ff: int, layers: int, heads: int, kv_heads: int) -> int:
    """Hugging Face's LlamaForCausalLM (and MistralForCausalLM) count, untied lm_head."""
    kv_dim = kv_heads * (d // heads)
    return vocab * d + layers * (2 * d * d + 2 * d * kv_dim + 3 * d * ff + 2 * d) + d + vocab * d


@pytest.mark.parametrize(("overrides", "published"), [
    (["d=4096", "heads=32", "kv_heads=32", "ff=11008", "layers=32", "vocab=32000"], 6_738_415_616),  # LLaMA-2 7B
    (["d=2048", "heads=32", "kv_heads=4", "ff=5632", "layers=22", "vocab=32000"], 1_100_048_384),  # TinyLlama 1.1B
    (["d=4096", "heads=32", "kv_heads=8", "ff=14336", "layers=32", "vocab=32000"], 7_241_732_096),  # Mistral 7B
    (["d=4096", "heads=32", "kv_heads=8", "ff=14336", "layers=32", "vocab=128256", "theta=500000"],
     8_030_261_248),  # LLaMA-3 8B
], ids=["llama2-7b", "tinyllama-1.1b", "mistral-7b", "llama3-8b"])
def test_llama_and_mistral_have_their_published_counts(overrides: list[str], published: int) -> None:
    values = {k: float(v) for k, v in (o.split("=") for o in overrides)}
    assert llama_params(*(int(values[k]) for k in ("vocab", "d", "ff", "layers", "heads", "kv_heads"))) == published
    assert specc.load(ARCH / "llama_block.yaml", overrides=overrides).check()["total_params"] == published


def gpt_neox_params(vocab: int, d: int, layers: int) -> int:
    """Hugging Face's GPTNeoXForCausalLM count (intermediate 4·d, untied embed_out)."""
    return 2 * vocab * d + layers * (12 * d * d + 13 * d) + 2 * d


@pytest.mark.parametrize(("overrides", "published"), [
    (["d=512", "heads=8", "layers=6", "vocab=50304"], 70_426_624),  # EleutherAI/pythia-70m
    (["d=768", "heads=12", "layers=12", "vocab=50304"], 162_322_944),  # EleutherAI/pythia-160m
], ids=["pythia-70m", "pythia-160m"])
def test_pythia_has_its_published_counts(overrides: list[str], published: int) -> None:
    values = {k: int(v) for k, v in (o.split("=") for o in overrides)}
    assert gpt_neox_params(values["vocab"], values["d"], values["layers"]) == published
    spec = specc.load(ARCH / "pythia.yaml", overrides=overrides)
    assert spec.check()["total_params"] == published
    attention = next(n for n in spec.graph.nodes[1].sub.nodes[0].sub.nodes if n.name == "attention")
    assert attention.result.args["rotary_dim"] == values["d"] // values["heads"] // 4  # rotary_pct 0.25


class HFLlama(torch.nn.Module):
    """LlamaForCausalLM's modules under its names (model. left off), each written as Hugging Face does."""

    class RMSNorm(torch.nn.Module):
        def __init__(self, d: int, eps: float) -> None:
            super().__init__()
            self.weight, self.eps = torch.nn.Parameter(torch.ones(d)), eps

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    class MLP(torch.nn.Module):
        def __init__(self, d: int, ff: int) -> None:
            super().__init__()
            self.gate_proj = torch.nn.Linear(d, ff, bias=False)
            self.up_proj = torch.nn.Linear(d, ff, bias=False)
            self.down_proj = torch.nn.Linear(ff, d, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.down_proj(torch.nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))

    def __init__(self, vocab: int = 1000, d: int = 64, heads: int = 4, kv_heads: int = 2, ff: int = 172,
                 layers: int = 2, eps: float = 1e-6) -> None:
        super().__init__()
        nn = torch.nn
        self.embed_tokens = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList()
        for _ in range(layers):
            layer = nn.Module()
            layer.input_layernorm, layer.post_attention_layernorm = self.RMSNorm(d, eps), self.RMSNorm(d, eps)
            layer.self_attn, layer.mlp = HFAttention(d, heads, kv_heads), self.MLP(d, ff)
            self.layers.append(layer)
        self.norm, self.lm_head = self.RMSNorm(d, eps), nn.Linear(d, vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed_tokens(ids)
        for layer in self.layers:
            h = h + layer.self_attn(layer.input_layernorm(h))
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        return self.lm_head(self.norm(h))


def test_llama_spec_loads_a_hugging_face_state_dict_and_computes_its_logits() -> None:
    model = build_module(specc.load(ARCH / "llama_block.yaml"), seed=0).eval()
    torch.manual_seed(2)
    twin = HFLlama().eval()
    for p in twin.parameters():
        torch.nn.init.normal_(p, std=0.2)
    model.load_state_dict(twin.state_dict(), strict=True)  # HF's keys with "model." stripped, name for name
    for t in (3, 9):
        ids = torch.randint(0, 1000, (2, t))
        with torch.no_grad():
            torch.testing.assert_close(model(ids), twin(ids), atol=1e-4, rtol=1e-4)


def test_init_patterns_and_use_reach_the_projections() -> None:
    text = ("specc: 1\ninputs:\n  x: [B, T, 32]\nlayers:\n"
            "  - {type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, rotary: {}, causal: true, name: a,\n"
            "     init: {\"*_proj.weight\": {normal: {std: 0.02}}, \"o_proj.bias\": zeros}}\n  - {use: a}\n")
    spec = specc.loads(text, "init.yaml")
    assert spec.ok, [d.message for d in spec.errors]
    model = build_module(spec, seed=0)
    want = sorted(f"a.{p}_proj.{w}" for p in "qkvo" for w in ("weight", "bias"))
    assert sorted(model.state_dict()) == want
    assert float(model.a.k_proj.weight.detach().std()) < 0.03 and not model.a.o_proj.bias.any()
    # nn.MultiheadAttention's packed name is not this layer's: V091, pointing at the names it has
    wrong = specc.loads(text.replace('"*_proj.weight"', '"in_proj_weight"'), "init.yaml")
    assert [d.code for d in wrong.errors] == ["V091"]
    assert "_proj.weight" in (wrong.errors[0].hint or "")


PADDED = ("{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, rotary: {}, causal: true, bias: false, "
          "masks: [key_padding], from: [x, pad], name: att}")


def test_a_key_padding_mask_hides_keys_as_hugging_faces_attention_mask() -> None:
    spec = _spec(PADDED, "[B, T, 16]\n  pad: {shape: [B, T], dtype: bool}")
    model = build_module(spec, seed=0).eval()
    torch.manual_seed(3)
    oracle = HFAttention(16, 4, 2).eval()
    model.att.load_state_dict(oracle.state_dict(), strict=True)
    x = torch.randn(2, 6, 16)
    right = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])  # right padding: every row keeps key 0
    with torch.no_grad():
        torch.testing.assert_close(model(x, right), oracle(x, right), atol=2e-5, rtol=1e-4)
        # the same mask as floats (-inf at the padding), as a float mask input would give it
        as_float = torch.zeros(2, 6).masked_fill(right, float("-inf"))
        torch.testing.assert_close(model.att(x, x, x, key_padding_mask=as_float), oracle(x, right))


def test_a_row_whose_keys_are_all_hidden_is_zero_in_pytorch_onnx_and_training(tmp_path: Path) -> None:
    # Left padding under causal: query 0 of sample 0 sees only key 0, which is padding. SDPA gives NaN there
    # (and NaN gradients, which reach every weight); the layer gives 0 attention, so the output is o_proj's
    # bias, in training, at eval and in the direct ONNX export alike.
    pytest.importorskip("onnxruntime")
    import numpy as np
    import onnxruntime as ort
    from safetensors.torch import save_file

    from specc.backends.direct_export import export_direct

    spec = _spec(PADDED.replace("bias: false", "bias: true"), "[B, T, 16]\n  pad: {shape: [B, T], dtype: bool}")
    model = build_module(spec, seed=0)
    x = torch.randn(2, 5, 16)
    left = torch.tensor([[True, True, False, False, False], [False] * 5])
    out = model.train()(x, left)
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    with torch.no_grad():
        want = model.eval()(x, left)
    assert torch.isfinite(want).all()
    torch.testing.assert_close(want[0, :2], model.att.o_proj.bias.detach().expand(2, 16))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    export_direct(spec, tmp_path / "m.onnx", weights=tmp_path / "w.safetensors")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(None, {"x": x.numpy(), "pad": left.numpy()})[0]
    np.testing.assert_allclose(got, want.numpy(), atol=1e-5)
