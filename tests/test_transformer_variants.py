"""Attention as published models write it: GELU's tanh approximation in Transformer layers
(GPT-2's gelu_new, `activation: gelu_tanh`) and a scale of the scores of one's own (T5's
unscaled q·kᵀ, `scale: 1.0` on MultiheadAttention), each against a hand-written PyTorch oracle
and exported to ONNX both ways."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest

import specc
from specc.targets.torch.emit import compile_source

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


GPT_LAYER = textwrap.dedent("""\
    specc: 1
    inputs: {x: [B, T, 8]}
    layers:
      - {type: TransformerEncoderLayer, nhead: 2, dim_feedforward: 32, dropout: 0.0, activation: gelu_tanh,
         norm_first: true, name: layer}
    export: {sizes: {T: 6}}
    """)


def test_gelu_tanh_in_a_transformer_layer_is_the_approximation_on_every_path() -> None:
    """At eval without autograd PyTorch runs its fused encoder kernel for an nn.GELU activation,
    exact GELU whatever its approximate: the generated layer must compute the tanh form there too."""
    spec = specc.loads(GPT_LAYER, "gpt.yaml")
    assert spec.ok, spec.diagnostics
    model = specc.build(spec)
    oracle = nn.TransformerEncoderLayer(8, 2, 32, dropout=0.0, activation=_gelu_tanh, norm_first=True,
                                        batch_first=True)
    exact = nn.TransformerEncoderLayer(8, 2, 32, dropout=0.0, activation="gelu", norm_first=True,
                                       batch_first=True)
    state = {k.removeprefix("layer."): v for k, v in model.state_dict().items()}
    oracle.load_state_dict(state)
    exact.load_state_dict(state)
    torch.manual_seed(0)
    x = torch.randn(3, 6, 8) * 3  # wide enough that the two GELUs differ
    for train in (True, False):
        model.train(train), oracle.train(train), exact.train(train)
        with torch.no_grad():
            want = oracle(x)
            assert torch.allclose(model(x), want, atol=1e-5)
            assert not torch.allclose(exact(x), want, atol=1e-5)
    assert "activation=gelu_tanh" in compile_source(spec)


@pytest.mark.parametrize("opset,node", [(18, False), (20, True)])
def test_gelu_tanh_exports_as_gelu_or_its_formula(opset: int, node: bool, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    import onnx

    from specc.backends.direct_export import export_direct

    spec = specc.loads(GPT_LAYER, "gpt.yaml")
    result = export_direct(spec, tmp_path / "m.onnx", opset=opset, compare="torch")
    assert result.verification is not None and len(result.verification.runs) >= 3
    gelus = [n for n in onnx.load(str(tmp_path / "m.onnx")).graph.node if n.op_type == "Gelu"]
    assert bool(gelus) == node
    assert all(a.s == b"tanh" for n in gelus for a in n.attribute if a.name == "approximate")


def test_gelu_tanh_exports_through_torch(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from specc.backends.onnx_export import export_spec

    spec = specc.loads(GPT_LAYER.replace("TransformerEncoderLayer,", "TransformerDecoder, num_layers: 2,")
                       .replace("inputs: {x: [B, T, 8]}", "inputs: {x: [B, T, 8], m: [B, S, 8]}")
                       .replace("name: layer}", "name: layer, from: [x, m]}"), "gpt.yaml")
    assert spec.ok, spec.diagnostics
    result = export_spec(spec, tmp_path / "m.onnx")
    assert result.verification is not None and all(r.max_abs_diff is not None for r in result.verification.runs)


T5_ATTENTION = textwrap.dedent("""\
    specc: 1
    inputs:
      x: [B, T, 8]
      pad: {shape: [B, T], dtype: bool}
    layers:
      - {type: MultiheadAttention, from: [x, pad], masks: [key_padding], num_heads: 2, bias: false, scale: 1.0,
         name: attn}
    export: {sizes: {T: 5}}
    """)


def _by_hand(m: nn.Module, q: torch.Tensor, kv: torch.Tensor, scale: float, pad: torch.Tensor) -> torch.Tensor:
    """softmax(q·kᵀ·scale) v over ``m``'s packed projections, padding hidden."""
    e, h = m.embed_dim, m.num_heads
    w_q, w_k, w_v = m.in_proj_weight.chunk(3) if m.in_proj_weight is not None else \
        (m.q_proj_weight, m.k_proj_weight, m.v_proj_weight)

    def heads(x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (h, e // h)).transpose(1, 2)

    q, k, v = heads(q @ w_q.T), heads(kv @ w_k.T), heads(kv @ w_v.T)
    scores = (q @ k.transpose(-2, -1) * scale).masked_fill(pad[:, None, None, :], float("-inf"))
    return m.out_proj((scores.softmax(-1) @ v).transpose(1, 2).flatten(2))


def test_t5_attention_is_unscaled_and_keeps_pytorchs_parameter_names() -> None:
    spec = specc.loads(T5_ATTENTION, "t5.yaml")
    assert spec.ok, spec.diagnostics
    model = specc.build(spec).eval()
    plain = nn.MultiheadAttention(8, 2, bias=False, batch_first=True)
    plain.load_state_dict({k.removeprefix("attn."): v for k, v in model.state_dict().items()})  # strict
    assert sum(p.numel() for p in model.parameters()) == spec.check()["total_params"]
    torch.manual_seed(1)
    x = torch.randn(2, 5, 8)
    pad = torch.zeros(2, 5, dtype=torch.bool)
    pad[1, 3:] = True
    with torch.no_grad():
        got = model(x, pad)
        assert torch.allclose(got, _by_hand(plain, x, x, 1.0, pad), atol=1e-5)
        # PyTorch's own scale, 1/√4, is another answer: the scale is not ignored
        assert not torch.allclose(got, _by_hand(plain, x, x, 0.5, pad), atol=1e-3)
    model.train()
    model(x, pad).sum().backward()
    assert model.attn.in_proj_weight.grad is not None and model.attn.in_proj_weight.grad.abs().sum() > 0
    source = compile_source(spec)
    assert "self.attn = ScaledMultiheadAttention(" in source
    assert "8, 2, bias=False, batch_first=True, scale=1.0" in source


def test_the_default_scale_is_pytorchs() -> None:
    spec = specc.loads(T5_ATTENTION.replace("scale: 1.0", "scale: 0.5"), "t5.yaml")
    model = specc.build(spec).eval()
    plain = nn.MultiheadAttention(8, 2, bias=False, batch_first=True).eval()
    plain.load_state_dict({k.removeprefix("attn."): v for k, v in model.state_dict().items()})
    x, pad = torch.randn(2, 5, 8), torch.zeros(2, 5, dtype=torch.bool)
    with torch.no_grad():  # 0.5 = 1/√(8 / 2): nn.MultiheadAttention itself
        assert torch.allclose(model(x, pad), plain(x, x, x, key_padding_mask=pad, need_weights=False)[0], atol=1e-5)
    assert "nn.MultiheadAttention(" in compile_source(specc.loads(T5_ATTENTION.replace(" scale: 1.0,", ""), "t.yaml"))


CROSS = textwrap.dedent("""\
    specc: 1
    inputs: {q: [B, T, 8], kv: [B, S, 6]}
    layers:
      - {type: MultiheadAttention, from: [q, kv], num_heads: 2, scale: 1.0}
    """)


@pytest.mark.parametrize("via", ["direct", "torch"])
@pytest.mark.parametrize("text", [T5_ATTENTION, CROSS], ids=["self", "cross"])
def test_a_scaled_attention_exports_and_verifies(text: str, via: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    spec = specc.loads(text, "t5.yaml")
    assert spec.ok, spec.diagnostics
    if via == "direct":
        from specc.backends.direct_export import export_direct

        result = export_direct(spec, tmp_path / "m.onnx", compare="torch")
    else:
        from specc.backends.onnx_export import export_spec

        result = export_spec(spec, tmp_path / "m.onnx")
    assert result.verification is not None and len(result.verification.runs) >= 3


def test_cross_attention_with_its_own_key_width_is_scaled_by_hand() -> None:
    spec = specc.loads(CROSS, "cross.yaml")
    model = specc.build(spec).eval()
    m = model.multihead_attention_1
    q, kv = torch.randn(2, 3, 8), torch.randn(2, 4, 6)
    bq, bk, bv = m.in_proj_bias.chunk(3)
    with torch.no_grad():
        heads = lambda x: x.unflatten(-1, (2, 4)).transpose(1, 2)
        qh, kh, vh = heads(q @ m.q_proj_weight.T + bq), heads(kv @ m.k_proj_weight.T + bk), \
            heads(kv @ m.v_proj_weight.T + bv)
        want = m.out_proj(((qh @ kh.transpose(-2, -1)).softmax(-1) @ vh).transpose(1, 2).flatten(2))
        assert torch.allclose(model(q, kv), want, atol=1e-5)


BLOCKS = textwrap.dedent("""\
    specc: 1
    inputs: {x: [B, T, 8]}
    blocks:
      Layer:
        args: {s: null, act: relu}
        layers:
          - {type: MultiheadAttention, num_heads: 2, scale: "${s}"}
          - {type: TransformerEncoderLayer, nhead: 2, dim_feedforward: 16, dropout: 0.0, activation: "${act}"}
    layers:
      - {type: Layer, s: 1.0, act: gelu_tanh}
      - {type: Layer}
      - {type: Layer, s: 0.25, act: gelu}
    """)


def test_block_instances_that_differ_in_scale_and_activation_share_a_class(tmp_path: Path) -> None:
    """A class parameter cannot be written as a name at generation time: the class chooses at build."""
    pytest.importorskip("onnxruntime")
    from specc.backends.direct_export import export_direct

    spec = specc.loads(BLOCKS, "blocks.yaml")
    assert spec.ok, spec.diagnostics
    source = compile_source(spec)
    assert source.count("class Layer(") == 1
    result = export_direct(spec, tmp_path / "m.onnx", compare="torch")  # every instance as the direct target
    assert result.verification is not None and len(result.verification.runs) >= 3
    model = specc.build(spec)
    # one class for the three: the subclass everywhere, None (PyTorch's scale) where the spec leaves it out
    assert [m.scale for m in model.modules() if type(m).__name__ == "ScaledMultiheadAttention"] == [1.0, None, 0.25]


@pytest.mark.parametrize("edit,field", [
    ("scale: 1.0", "scale: 0"),
    ("scale: 1.0", "scale: -1.0"),
])
def test_a_scale_that_is_no_positive_number_is_located(edit: str, field: str) -> None:
    spec = specc.loads(T5_ATTENTION.replace(edit, field), "t5.yaml")
    (err,) = spec.errors
    assert err.loc is not None and err.loc.line == 6 and "scale" in err.message


def test_an_activation_transformers_do_not_know_lists_the_ones_they_do() -> None:
    spec = specc.loads(GPT_LAYER.replace("gelu_tanh", "gelu_new"), "gpt.yaml")
    (err,) = spec.errors
    assert err.loc is not None and err.loc.line == 4 and "gelu_tanh" in f"{err.message} {err.hint}"
