"""Sequence and attention kinds against real PyTorch.

For every kind and several configurations: the static output shape (evaluated at two batch
sizes and two sequence lengths), the parameter and buffer counts equal a module built
independently here with ``torch.nn``; the kind's own PyTorch form (``torch_init`` +
``torch_forward`` + ``support_code``, exactly what generated code contains) builds a module
with the same parameters and computes a tensor of the static shape; MACs per sample equal
what ``torch.utils.flop_counter`` counts for the matrix products, at two sequence lengths.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from specc.layers import lookup
from specc.layers.base import LayerKind, LayerResult
from specc.pipeline import loads
from specc.shapes.dims import evaluate, sym
from specc.shapes.tensor import TensorType
from specc.targets.torch import support
from specc.targets.torch.kinds import LOWERINGS
from specc.targets.torch.lower import forward_expr, init_expr, support_texts

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

B, T, S = sym("B"), sym("T"), sym("S")
SIZES = [{"B": 2, "T": 5, "S": 4}, {"B": 3, "T": 7, "S": 6}]

pytestmark = pytest.mark.filterwarnings("ignore:.*(oneDNN|enable_nested_tensor|dropout option).*:UserWarning")


# -- helpers -----------------------------------------------------------------------------------------

def infer(type_name: str, params: dict[str, Any], *ins: TensorType | tuple) -> tuple[LayerKind, LayerResult]:
    kind = lookup(type_name)
    assert kind is not None, type_name
    p = kind.Params.model_validate(params)
    tensors = [t if isinstance(t, TensorType) else TensorType(tuple(t)) for t in ins]
    return kind, kind.infer(p, tensors)


def concrete(shape: tuple, env: dict[str, int]) -> tuple[int, ...]:
    return tuple(evaluate(d, env) for d in shape)


def emitted(kind: LayerKind, res: LayerResult) -> tuple[Any, Any]:
    """The module and forward that generated code would contain for this layer."""
    ns: dict[str, Any] = {"torch": torch, "nn": nn, "F": F, "math": math}
    for code in support_texts(kind, res.args):
        exec(code, ns)
    init = init_expr(kind, res.args)
    module = eval(init, ns) if init else None

    def forward(*xs: Any) -> Any:
        names = [f"x{i}" for i in range(len(xs))]
        expr = forward_expr(kind, "m", names, res.args)
        return eval(expr, {**ns, "m": module, **dict(zip(names, xs))})

    return module, forward


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def same_parameters(a: nn.Module, b: nn.Module) -> None:
    """Same parameter names and shapes: the emitted constructor is the independent one."""
    assert {k: tuple(v.shape) for k, v in a.named_parameters()} == {k: tuple(v.shape) for k, v in b.named_parameters()}


def macs_of(module: nn.Module, *inputs: Any, **kwargs: Any) -> int:
    """Multiply-accumulates of the matrix products ``module`` runs on one sample, in training
    mode with autograd on, oneDNN off and plain-math attention, so that fused kernels (which
    the counter cannot see into) are not taken."""
    was = module.training
    module.train()
    try:
        with FlopCounterMode(display=False) as counter, torch.enable_grad(), \
                torch.backends.mkldnn.flags(enabled=False), sdpa_kernel(SDPBackend.MATH):
            module(*inputs, **kwargs)
    finally:
        module.train(was)
    return counter.get_total_flops() // 2


def seq(batch_first: bool, b: Any, t: Any, f: int) -> tuple:
    return (b, t, f) if batch_first else (t, b, f)


# -- Embedding ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(B, T), (B,), (B, 3, T)])
@pytest.mark.parametrize("params", [{"num_embeddings": 50, "embedding_dim": 8},
                                    {"input_dim": 20, "output_dim": 6, "padding_idx": 0, "max_norm": 1.0}])
def test_embedding(shape: tuple, params: dict) -> None:
    kind, res = infer("Embedding", params, TensorType(shape, "int64"))
    n, d = res.args["num_embeddings"], res.args["embedding_dim"]
    ref = nn.Embedding(n, d, padding_idx=params.get("padding_idx"), max_norm=params.get("max_norm"))
    module, forward = emitted(kind, res)
    same_parameters(module, ref)
    assert res.params == n_params(ref) and res.macs == 0
    for env in SIZES:
        ids = torch.randint(0, n, concrete(shape, env))
        assert tuple(forward(ids).shape) == concrete(res.out.shape, env) == tuple(ref(ids).shape)
    assert res.out.dtype == "float32"


def _check(text: str) -> Any:
    return loads(text, "spec.yaml")


def _codes(spec: Any) -> list[str]:
    return [d.code for d in spec.diagnostics]


def _at(spec: Any, text: str) -> tuple[int, int]:
    """(line, col) of the first occurrence of ``text`` in the spec, 1-based."""
    before = spec.text[:spec.text.index(text)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def _loc(d: Any) -> tuple[int, int]:
    return d.loc.line, d.loc.col


def test_embedding_errors_and_dtypes() -> None:
    bad_idx = _check("specc: 1\ninputs: {t: {shape: [B, T], dtype: int64}}\nlayers:\n"
                     "  - {type: Embedding, num_embeddings: 10, embedding_dim: 4, padding_idx: 10}\n")
    assert _codes(bad_idx) == ["V003"] and "0 to 9" in bad_idx.diagnostics[0].hint
    assert _loc(bad_idx.diagnostics[0]) == _at(bad_idx, "10}")  # at the value of padding_idx
    floats = _check("specc: 1\ninputs: {t: [B, T]}\nlayers:\n  - {type: Embedding, num_embeddings: 10, "
                    "embedding_dim: 4}\n")
    assert _codes(floats) == ["S007"] and "int64" in floats.diagnostics[0].hint
    ids_into_lstm = _check("specc: 1\ninputs: {t: {shape: [B, T, 1], dtype: int64}}\nlayers:\n"
                           "  - {type: LSTM, hidden_size: 4}\n")
    assert _codes(ids_into_lstm) == ["S007"] and "Embedding" in ids_into_lstm.diagnostics[0].hint


# -- RNN / LSTM / GRU --------------------------------------------------------------------------------

RECURRENT = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
RNN_CONFIGS = [
    ("LSTM", {"hidden_size": 6}),
    ("LSTM", {"hidden_size": 6, "num_layers": 2, "bidirectional": True, "dropout": 0.1}),
    ("LSTM", {"hidden_size": 8, "num_layers": 2, "bidirectional": True, "proj_size": 3}),
    ("LSTM", {"hidden_size": 5, "bidirectional": True, "batch_first": False, "bias": False}),
    ("GRU", {"hidden_size": 6, "num_layers": 3, "bidirectional": True}),
    ("GRU", {"units": 4, "batch_first": False}),
    ("RNN", {"hidden_size": 6, "nonlinearity": "relu", "num_layers": 2}),
    ("RNN", {"hidden_size": 3, "bidirectional": True, "bias": False}),
]


def _reference_rnn(type_name: str, args: dict[str, Any]) -> nn.Module:
    kw = {k: args[k] for k in ("num_layers", "bias", "batch_first", "dropout", "bidirectional")}
    if type_name == "LSTM":
        kw["proj_size"] = args["proj_size"]
    if type_name == "RNN":
        kw["nonlinearity"] = args["nonlinearity"]
    return RECURRENT[type_name](args["input_size"], args["hidden_size"], **kw)


@pytest.mark.parametrize("output", ["sequence", "last", "final_hidden"])
@pytest.mark.parametrize(("type_name", "params"), RNN_CONFIGS, ids=[f"{t}{i}" for i, (t, _) in enumerate(RNN_CONFIGS)])
def test_recurrent_shapes_params_macs(type_name: str, params: dict, output: str) -> None:
    batch_first = params.get("batch_first", True)
    kind, res = infer(type_name, {**params, "output": output}, seq(batch_first, B, T, 5))
    ref = _reference_rnn(type_name, res.args).eval()
    module, forward = emitted(kind, res)
    module.eval()
    same_parameters(module, ref)
    assert res.params == n_params(ref)
    module.load_state_dict(ref.state_dict())
    d = 2 if params.get("bidirectional") else 1
    h_out = params.get("proj_size") or params.get("hidden_size") or params.get("units")
    for env in SIZES:
        x = torch.randn(seq(batch_first, env["B"], env["T"], 5))
        y = forward(x)
        assert tuple(y.shape) == concrete(res.out.shape, env)
        assert y.shape[-1] == d * h_out
        if output == "sequence":  # the selection costs nothing
            assert macs_of(ref, x[:1] if batch_first else x[:, :1]) == evaluate(res.macs, env)


def _outputs(type_name: str, bidirectional: bool, batch_first: bool = True,
             **extra: Any) -> tuple[dict[str, Any], nn.Module, torch.Tensor]:
    """The three selections of one RNN, from the emitted forward, and the module + input."""
    results = {}
    module = None
    x = torch.randn(seq(batch_first, 3, 6, 4))
    for output in ("sequence", "last", "final_hidden"):
        params = {"hidden_size": 5, "num_layers": 2, "bidirectional": bidirectional, "batch_first": batch_first,
                  "output": output, **extra}
        kind, res = infer(type_name, params, seq(batch_first, B, T, 4))
        m, forward = emitted(kind, res)
        if module is None:
            module = m.eval()
        else:
            m.load_state_dict(module.state_dict())
            m.eval()
        with torch.no_grad():
            results[output] = forward(x)
    assert module is not None
    return results, module, x


@pytest.mark.parametrize("type_name", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_bidirectional_last_is_not_out_minus_one(type_name: str, batch_first: bool) -> None:
    got, module, x = _outputs(type_name, True, batch_first)
    with torch.no_grad():
        out, state = module(x)
    h_n = state[0] if type_name == "LSTM" else state
    if not batch_first:
        out = out.transpose(0, 1)
    h = 5
    torch.testing.assert_close(got["last"], torch.cat([out[:, -1, :h], out[:, 0, h:]], dim=-1))
    torch.testing.assert_close(got["final_hidden"], torch.cat([h_n[-2], h_n[-1]], dim=-1))
    torch.testing.assert_close(got["last"], got["final_hidden"])  # no padding: the same numbers
    # ...and not the classic bug: out[:, -1] has the backward direction after one step.
    assert not torch.allclose(got["last"], out[:, -1])


@pytest.mark.parametrize("type_name", ["LSTM", "GRU"])
def test_unidirectional_last_and_final_hidden(type_name: str) -> None:
    got, module, x = _outputs(type_name, False, proj_size=3) if type_name == "LSTM" else _outputs(type_name, False)
    with torch.no_grad():
        out, state = module(x)
    h_n = state[0] if type_name == "LSTM" else state
    torch.testing.assert_close(got["sequence"], out)
    torch.testing.assert_close(got["last"], out[:, -1])
    torch.testing.assert_close(got["final_hidden"], h_n[-1])


def test_rnn_macs_scale_with_sequence_length() -> None:
    _, res = infer("LSTM", {"hidden_size": 64, "num_layers": 2, "bidirectional": True}, (B, T, 128))
    assert evaluate(res.macs, {"T": 20}) == 2 * evaluate(res.macs, {"T": 10})
    # T · Σ_layers D·4H·(I_l + H): 2·4·64·(128 + 64) + 2·4·64·(128 + 64)
    assert evaluate(res.macs, {"T": 1}) == 2 * (2 * 4 * 64 * (128 + 64))


@pytest.mark.parametrize(("type_name", "states"), [("LSTM", ("h0", "c0")), ("GRU", ("h0",)), ("RNN", ("h0",))])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_initial_states(type_name: str, states: tuple[str, ...], bidirectional: bool) -> None:
    d = 2 if bidirectional else 1
    layers, h, proj = 2, 6, (3 if type_name == "LSTM" else 0)
    shapes = {"h0": (layers * d, B, proj or h), "c0": (layers * d, B, h)}
    params = {"hidden_size": h, "num_layers": layers, "bidirectional": bidirectional, "output": "sequence"}
    if proj:
        params["proj_size"] = proj
    kind, res = infer(type_name, params, (B, T, 4), *(shapes[s] for s in states))
    module, forward = emitted(kind, res)
    module.eval()
    for env in SIZES:
        x = torch.randn(env["B"], env["T"], 4)
        init = [torch.randn(concrete(shapes[s], env)) for s in states]
        with torch.no_grad():
            y = forward(x, *init)
            expected = module(x, tuple(init) if len(init) == 2 else init[0])[0]
            torch.testing.assert_close(y, expected)
            assert not torch.allclose(y, module(x)[0])  # the state was used
        assert tuple(y.shape) == concrete(res.out.shape, env)


SPEC_HEAD = "specc: 1\ninputs:\n  seq: [B, T, 4]\n  h0: [2, B, 8]\n  c0: [2, B, 8]\n  bad: [1, B, 8]\nlayers:\n"


def test_recurrent_errors() -> None:
    lstm_h0_only = _check(SPEC_HEAD + "  - {type: LSTM, hidden_size: 8, num_layers: 2, from: [seq, h0]}\n")
    assert "G003" in _codes(lstm_h0_only) and "h0, c0" in lstm_h0_only.errors[0].message
    wrong_state = _check(SPEC_HEAD + "  - {type: GRU, hidden_size: 8, num_layers: 2, from: [seq, bad]}\n")
    err = wrong_state.errors[0]
    assert err.code == "S001" and "[2, B, 8]" in err.hint and "batch_first" in err.hint
    bidir_state = _check(SPEC_HEAD + "  - {type: GRU, hidden_size: 8, num_layers: 2, bidirectional: true, "
                                     "from: [seq, h0]}\n")
    assert bidir_state.errors[0].code == "S001" and "[4, B, 8]" in bidir_state.errors[0].hint
    dropout = _check(SPEC_HEAD + "  - {type: LSTM, hidden_size: 8, dropout: 0.3, from: seq}\n")
    assert _codes(dropout)[0] == "V003" and "num_layers" in dropout.errors[0].hint
    assert _loc(dropout.errors[0]) == _at(dropout, "0.3")  # at the dropout value
    proj = _check(SPEC_HEAD + "  - {type: LSTM, hidden_size: 8, proj_size: 8, from: seq}\n")
    assert proj.errors[0].code == "V003" and "below 8" in proj.errors[0].hint
    given = _check(SPEC_HEAD + "  - {type: GRU, hidden_size: 8, input_size: 5, from: seq}\n")
    assert given.errors[0].code == "S001" and "input_size: 4" in given.errors[0].hint
    bad_output = _check(SPEC_HEAD + "  - {type: GRU, hidden_size: 8, output: final, from: seq}\n")
    assert bad_output.errors[0].code == "V003" and "'last'" in bad_output.errors[0].message


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(type_name=st.sampled_from(["LSTM", "GRU", "RNN"]), features=st.integers(1, 9),
       hidden=st.integers(2, 9), layers=st.integers(1, 3), bidirectional=st.booleans(),
       batch_first=st.booleans(), bias=st.booleans(), proj=st.integers(0, 8),
       output=st.sampled_from(["sequence", "last", "final_hidden"]))
def test_recurrent_random(type_name: str, features: int, hidden: int, layers: int, bidirectional: bool,
                          batch_first: bool, bias: bool, proj: int, output: str) -> None:
    params: dict[str, Any] = {"hidden_size": hidden, "num_layers": layers, "bidirectional": bidirectional,
                              "batch_first": batch_first, "bias": bias, "output": output}
    if type_name == "LSTM" and proj < hidden:
        params["proj_size"] = proj
    kind, res = infer(type_name, params, seq(batch_first, B, T, features))
    ref = _reference_rnn(type_name, res.args)
    assert res.params == n_params(ref)
    module, forward = emitted(kind, res)
    same_parameters(module, ref)
    env = SIZES[hash((features, hidden)) % 2]
    x = torch.randn(seq(batch_first, env["B"], env["T"], features))
    with torch.no_grad():
        assert tuple(forward(x).shape) == concrete(res.out.shape, env)
        assert macs_of(ref, x[:1] if batch_first else x[:, :1]) == evaluate(res.macs, env)


# -- MultiheadAttention -------------------------------------------------------------------------------

MHA_CONFIGS = [
    ({"num_heads": 2}, [(B, T, 8)]),
    ({"num_heads": 4, "bias": False, "dropout": 0.1}, [(B, T, 8)]),
    ({"nhead": 2, "add_bias_kv": True, "add_zero_attn": True}, [(B, T, 6)]),
    ({"num_heads": 2}, [(B, T, 8), (B, S, 8)]),  # cross attention, key = value
    ({"num_heads": 2}, [(B, T, 8), (B, S, 5), (B, S, 3)]),  # kdim / vdim
    ({"num_heads": 1, "kdim": 5, "embed_dim": 4}, [(B, T, 4), (B, S, 5)]),  # key = value, kdim 5 = vdim
    ({"num_heads": 3, "batch_first": False}, [(T, B, 9), (S, B, 9), (S, B, 9)]),
]


def _reference_mha(args: dict[str, Any]) -> nn.MultiheadAttention:
    # scale: None is nn.MultiheadAttention's own; another is ScaledMultiheadAttention (test_transformer_variants.py)
    assert args.get("scale") is None
    forward_only = ("masks", "causal", "bool_masks", "float_attn", "scale")
    return nn.MultiheadAttention(**{k: v for k, v in args.items() if k not in forward_only})


@pytest.mark.parametrize(("params", "ins"), MHA_CONFIGS)
def test_multihead_attention(params: dict, ins: list[tuple]) -> None:
    kind, res = infer("MultiheadAttention", params, *ins)
    ref = _reference_mha(res.args).eval()
    module, forward = emitted(kind, res)
    module.train(False)
    same_parameters(module, ref)
    assert res.params == n_params(ref)
    module.load_state_dict(ref.state_dict())
    for env in SIZES:
        xs = [torch.randn(concrete(s, env)) for s in ins]
        q = xs[0]
        k = xs[1] if len(xs) > 1 else q
        v = xs[2] if len(xs) > 2 else k
        y = forward(*xs)
        assert tuple(y.shape) == concrete(res.out.shape, env)
        torch.testing.assert_close(y, ref(q, k, v, need_weights=False)[0])
        bf = res.args["batch_first"]
        one = [t[:1] if bf else t[:, :1] for t in (q, k, v)]
        assert macs_of(ref, *one, need_weights=False) == evaluate(res.macs, env)


def test_attention_masks() -> None:
    params = {"num_heads": 2, "masks": ["key_padding", "attn"]}
    ins = [(B, T, 8), (B, S, 8), TensorType((B, S), "bool"), TensorType((T, S), "bool")]
    kind, res = infer("MultiheadAttention", params, *ins)
    module, forward = emitted(kind, res)
    module.eval()
    env = SIZES[1]
    q, kv = torch.randn(env["B"], env["T"], 8), torch.randn(env["B"], env["S"], 8)
    pad = torch.zeros(env["B"], env["S"], dtype=torch.bool)
    pad[:, -2:] = True
    causal = torch.zeros(env["T"], env["S"], dtype=torch.bool)
    causal[0, 1:] = True
    y = forward(q, kv, pad, causal)
    torch.testing.assert_close(y, module(q, kv, kv, key_padding_mask=pad, attn_mask=causal, need_weights=False)[0])
    assert not torch.allclose(y, module(q, kv, kv, need_weights=False)[0])
    assert tuple(y.shape) == concrete(res.out.shape, env)
    # per-head masks (B·heads, T, S) are accepted too; a wrong one is an S001 naming both forms
    infer("MultiheadAttention", {"num_heads": 2, "masks": ["attn"]}, (B, T, 8), (B * 2, T, T))
    with pytest.raises(Exception, match=r"\(T, T\) or \(2\*B, T, T\)"):
        infer("MultiheadAttention", {"num_heads": 2, "masks": ["attn"]}, (B, T, 8), (T, 3))


def test_attention_errors() -> None:
    heads = _check("specc: 1\ninputs: {seq: [B, T, 100]}\nlayers:\n  - {type: MultiheadAttention, num_heads: 8}\n")
    err = heads.errors[0]
    assert err.code == "S004" and "1, 2, 4, 5, 10, 20, 25, 50" in err.hint and "96 or 104" in err.hint
    assert _loc(err) == _at(heads, "8}")  # at num_heads
    width = _check("specc: 1\ninputs: {seq: [B, T, 64]}\nlayers:\n  - {type: MultiheadAttention, num_heads: 8, "
                   "embed_dim: 32}\n")
    assert width.errors[0].code == "S001" and "embed_dim: 64" in width.errors[0].hint
    embedded = _check("specc: 1\ninputs: {tok: {shape: [B, T], dtype: int64}}\nlayers:\n"
                      "  - {type: Embedding, num_embeddings: 100, embedding_dim: 64}\n  - {type: PositionalEncoding}\n"
                      "  - {type: TransformerEncoder, d_model: 128, nhead: 4, num_layers: 2}\n")
    assert embedded.errors[0].code == "S001" and "d_model: 64 (= embedding_dim 64)" in embedded.errors[0].hint
    enc = _check("specc: 1\ninputs: {seq: [B, T, 30]}\nlayers:\n  - {type: TransformerEncoder, nhead: 4, "
                 "num_layers: 2}\n")
    assert enc.errors[0].code == "S004" and "d_model" in enc.errors[0].message
    extra = _check("specc: 1\ninputs: {a: [B, T, 8], b: [B, T, 8], c: [B, T, 8], d: [B, T, 8]}\nlayers:\n"
                   "  - {type: MultiheadAttention, num_heads: 2, from: [a, b, c, d]}\n")
    assert extra.errors[0].code == "G003"
    batch = _check("specc: 1\ninputs: {a: [4, T, 8], b: [5, T, 8]}\nlayers:\n"
                   "  - {type: MultiheadAttention, num_heads: 2, from: [a, b]}\n")
    assert batch.errors[0].code == "S006"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(heads=st.integers(1, 4), per_head=st.integers(1, 4), kdim=st.integers(1, 9), vdim=st.integers(1, 9),
       n_inputs=st.integers(1, 3), bias=st.booleans(), bias_kv=st.booleans(), zero_attn=st.booleans(),
       batch_first=st.booleans())
def test_attention_random(heads: int, per_head: int, kdim: int, vdim: int, n_inputs: int, bias: bool,
                          bias_kv: bool, zero_attn: bool, batch_first: bool) -> None:
    e = heads * per_head
    shapes = [seq(batch_first, B, T, e), seq(batch_first, B, S, kdim), seq(batch_first, B, S, vdim)]
    if n_inputs == 2:
        shapes[1] = seq(batch_first, B, S, kdim)
    ins = shapes[:n_inputs]
    params = {"num_heads": heads, "bias": bias, "add_bias_kv": bias_kv, "add_zero_attn": zero_attn,
              "batch_first": batch_first}
    kind, res = infer("MultiheadAttention", params, *ins)
    ref = _reference_mha(res.args)
    assert res.params == n_params(ref)
    module, forward = emitted(kind, res)
    same_parameters(module, ref)
    env = SIZES[(heads + kdim) % 2]
    xs = [torch.randn(concrete(s, env)) for s in ins]
    y = forward(*xs)
    assert tuple(y.shape) == concrete(res.out.shape, env)
    q = xs[0]
    k = xs[1] if len(xs) > 1 else q
    v = xs[2] if len(xs) > 2 else k
    one = [t[:1] if batch_first else t[:, :1] for t in (q, k, v)]
    assert macs_of(ref, *one, need_weights=False) == evaluate(res.macs, env)


# -- Transformer encoder ------------------------------------------------------------------------------

ENCODER_CONFIGS = [
    {"nhead": 2, "dim_feedforward": 16},
    {"nhead": 4, "dim_feedforward": 12, "activation": "gelu", "norm_first": True, "dropout": 0.0},
    {"num_heads": 1, "dim_feedforward": 8, "bias": False, "layer_norm_eps": 1e-6},
    {"nhead": 2, "dim_feedforward": 8, "batch_first": False},
]


def _encoder_layer(args: dict[str, Any]) -> nn.TransformerEncoderLayer:
    keys = ("d_model", "nhead", "dim_feedforward", "dropout", "activation", "layer_norm_eps", "batch_first",
            "norm_first", "bias")
    return nn.TransformerEncoderLayer(**{k: args[k] for k in keys})


def _encoder_macs(ref: nn.Module, x: torch.Tensor, batch_first: bool, e: int, norms: int) -> int:
    # flop_counter sees the matrix products; specc adds the LayerNorms at 5 ops per element.
    one = x[:1] if batch_first else x[:, :1]
    t = one.shape[1] if batch_first else one.shape[0]
    return macs_of(ref, one) + norms * 5 * t * e


@pytest.mark.parametrize("params", ENCODER_CONFIGS)
def test_transformer_encoder_layer(params: dict) -> None:
    bf = params.get("batch_first", True)
    kind, res = infer("TransformerEncoderLayer", params, seq(bf, B, T, 8))
    ref = _encoder_layer(res.args).eval()
    module, forward = emitted(kind, res)
    module.eval()
    same_parameters(module, ref)
    assert res.params == n_params(ref)
    module.load_state_dict(ref.state_dict())
    for env in SIZES:
        x = torch.randn(seq(bf, env["B"], env["T"], 8))
        with torch.no_grad():
            y = forward(x)
            torch.testing.assert_close(y, ref(x))
        assert tuple(y.shape) == concrete(res.out.shape, env)
        assert _encoder_macs(ref, x, bf, 8, 2) == evaluate(res.macs, env)


@pytest.mark.parametrize("norm", [False, True])
@pytest.mark.parametrize("params", ENCODER_CONFIGS[:3])
def test_transformer_encoder(params: dict, norm: bool) -> None:
    kind, res = infer("TransformerEncoder", {**params, "num_layers": 3, "norm": norm}, (B, T, 8))
    layer = _encoder_layer(res.args)
    final = nn.LayerNorm(8, eps=res.args["layer_norm_eps"], bias=res.args["bias"]) if norm else None
    ref = nn.TransformerEncoder(layer, 3, norm=final, enable_nested_tensor=False).eval()
    module, forward = emitted(kind, res)
    module.eval()
    same_parameters(module, ref)
    assert res.params == n_params(ref)
    module.load_state_dict(ref.state_dict())
    for env in SIZES:
        x = torch.randn(env["B"], env["T"], 8)
        with torch.no_grad():
            y = forward(x)
            torch.testing.assert_close(y, ref(x))
        assert tuple(y.shape) == concrete(res.out.shape, env)
        assert _encoder_macs(ref, x, True, 8, 2 * 3 + norm) == evaluate(res.macs, env)


def test_transformer_masks() -> None:
    ins = [(B, T, 8), TensorType((B, T), "bool"), TensorType((T, T), "bool")]
    kind, res = infer("TransformerEncoder", {"nhead": 2, "dim_feedforward": 8, "num_layers": 2,
                                             "masks": ["key_padding", "attn"]}, *ins)
    module, forward = emitted(kind, res)
    module.eval()
    x = torch.randn(2, 5, 8)
    pad = torch.zeros(2, 5, dtype=torch.bool)
    pad[1, -2:] = True
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)  # same dtype as the padding mask, as PyTorch wants
    with torch.no_grad():
        torch.testing.assert_close(forward(x, pad, causal), module(x, mask=causal, src_key_padding_mask=pad))
    kind, res = infer("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 8, "masks": ["attn"]}, *ins[::2])
    module, forward = emitted(kind, res)
    module.eval()
    with torch.no_grad():
        torch.testing.assert_close(forward(x, causal), module(x, src_mask=causal))


# -- Transformer decoder and causal masks (issue 12) -------------------------------------------------

DECODER_CONFIGS = [
    {"nhead": 2, "dim_feedforward": 16},
    {"nhead": 4, "dim_feedforward": 12, "activation": "gelu", "norm_first": True, "causal": True},
    {"num_heads": 1, "dim_feedforward": 8, "bias": False, "layer_norm_eps": 1e-6, "causal": True},
    {"nhead": 2, "dim_feedforward": 8, "batch_first": False, "causal": True},
]


def _decoder_layer(args: dict[str, Any]) -> nn.TransformerDecoderLayer:
    keys = ("d_model", "nhead", "dim_feedforward", "dropout", "activation", "layer_norm_eps", "batch_first",
            "norm_first", "bias")
    return nn.TransformerDecoderLayer(**{k: args[k] for k in keys})


def _causal(t: int) -> torch.Tensor:
    return torch.ones(t, t, dtype=torch.bool).triu(1)  # True = masked, the same rule as -inf above the diagonal


def _decoder_check(kind: LayerKind, res: LayerResult, ref: nn.Module, norms: int) -> None:
    """The emitted module has the reference's parameters, and with its weights computes what the
    reference computes (given the causal mask by hand), with the counted MACs, at two sizes of T and S."""
    module, forward = emitted(kind, res)
    module.eval()
    same_parameters(module, ref)
    assert res.params == n_params(ref)
    module.load_state_dict(ref.state_dict())
    bf = res.args["batch_first"]
    for env in SIZES:
        tgt, mem = torch.randn(seq(bf, env["B"], env["T"], 8)), torch.randn(seq(bf, env["B"], env["S"], 8))
        mask = _causal(env["T"]) if res.args["causal"] else None
        with torch.no_grad():
            y = forward(tgt, mem)
            torch.testing.assert_close(y, ref(tgt, mem, tgt_mask=mask))
        assert tuple(y.shape) == concrete(res.out.shape, env)
        one = (tgt[:1], mem[:1]) if bf else (tgt[:, :1], mem[:, :1])
        counted = macs_of(ref, *one, tgt_mask=mask) + norms * 5 * env["T"] * 8
        assert counted == evaluate(res.macs, env)


@pytest.mark.parametrize("params", DECODER_CONFIGS)
def test_transformer_decoder_layer(params: dict) -> None:
    bf = params.get("batch_first", True)
    kind, res = infer("TransformerDecoderLayer", params, seq(bf, B, T, 8), seq(bf, B, S, 8))
    _decoder_check(kind, res, _decoder_layer(res.args).eval(), 3)


@pytest.mark.parametrize("norm", [False, True])
@pytest.mark.parametrize("params", DECODER_CONFIGS[:3])
def test_transformer_decoder(params: dict, norm: bool) -> None:
    kind, res = infer("TransformerDecoder", {**params, "num_layers": 2, "norm": norm}, (B, T, 8), (B, S, 8))
    final = nn.LayerNorm(8, eps=res.args["layer_norm_eps"], bias=res.args["bias"]) if norm else None
    ref = nn.TransformerDecoder(_decoder_layer(res.args), 2, norm=final).eval()
    _decoder_check(kind, res, ref, 2 * 3 + norm)


def test_decoder_masks() -> None:
    ins = [(B, T, 8), (B, S, 8), TensorType((B, S), "bool"), TensorType((B, T), "bool")]
    kind, res = infer("TransformerDecoder", {"nhead": 2, "dim_feedforward": 8, "num_layers": 2, "causal": True,
                                             "masks": ["memory_key_padding", "key_padding"]}, *ins)
    module, forward = emitted(kind, res)
    module.eval()
    tgt, mem = torch.randn(2, 5, 8), torch.randn(2, 4, 8)
    mem_pad, tgt_pad = torch.zeros(2, 4, dtype=torch.bool), torch.zeros(2, 5, dtype=torch.bool)
    mem_pad[1, -2:] = True
    tgt_pad[0, -1] = True
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")  # the causal mask is bool like the padding mask: no type-mismatch warning
        y = forward(tgt, mem, mem_pad, tgt_pad)
    with torch.no_grad():
        want = module(tgt, mem, tgt_mask=_causal(5),
                      memory_key_padding_mask=mem_pad, tgt_key_padding_mask=tgt_pad)
        torch.testing.assert_close(y, want)
        assert not torch.allclose(y, module(tgt, mem))
    # a padding mask over the memory's steps must be (B, S): S001 naming the shape wanted
    with pytest.raises(Exception, match=r"memory_key_padding mask is \(B, T\).*\(B, S\)"):
        infer("TransformerDecoderLayer", {"nhead": 2, "masks": ["memory_key_padding"]}, *ins[:2], ins[3])


CAUSAL_LAYERS = [
    ("MultiheadAttention", {"num_heads": 2}),
    ("MultiheadAttention", {"num_heads": 2, "batch_first": False}),
    ("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 16, "norm_first": True}),
    ("TransformerEncoder", {"nhead": 2, "dim_feedforward": 16, "num_layers": 2, "batch_first": False}),
    ("TransformerDecoderLayer", {"nhead": 2, "dim_feedforward": 16}),
    ("TransformerDecoder", {"nhead": 4, "dim_feedforward": 16, "num_layers": 2, "norm": True}),
]


@pytest.mark.parametrize(("type_name", "params"), CAUSAL_LAYERS, ids=[f"{t}{i}" for i, (t, _) in
                                                                       enumerate(CAUSAL_LAYERS)])
def test_causal_output_at_step_t_ignores_later_steps(type_name: str, params: dict) -> None:
    """What causal: true promises, at every length: change steps t+1.. and steps 0..t keep their output
    (and without causal: true they would not)."""
    bf = params.get("batch_first", True)
    decoder = "Decoder" in type_name
    shapes = [seq(bf, B, T, 8), *([seq(bf, B, S, 8)] if decoder else [])]
    kind, res = infer(type_name, {**params, "causal": True}, *shapes)
    module, forward = emitted(kind, res)
    module.eval()
    unmasked, plain = emitted(*infer(type_name, params, *shapes))
    unmasked.load_state_dict(module.state_dict())
    unmasked.eval()
    head = (lambda y: y[:, :2]) if bf else (lambda y: y[:2])
    gen = torch.Generator().manual_seed(0)
    for steps in (4, 9):
        xs = [torch.randn(seq(bf, 2, steps, 8), generator=gen)]
        if decoder:
            xs.append(torch.randn(seq(bf, 2, 6, 8), generator=gen))
        later = xs[0].clone()
        # new values, not a shift: a pre-norm layer's LayerNorm would erase a constant added to a step
        tail = later[:, 2:] if bf else later[2:]
        tail.copy_(torch.randn(tail.shape, generator=gen))
        with torch.no_grad():
            a, b = forward(*xs), forward(later, *xs[1:])
            torch.testing.assert_close(head(a), head(b))
            assert not torch.allclose(a, b)
            assert not torch.allclose(head(plain(*xs)), head(plain(later, *xs[1:])))


DECODER_MISTAKES = [
    # (spec body, code, where the caret points, words of the hint)
    ("inputs: {tgt: [B, T, 64], memory: [B, S, 32]}\nlayers:\n"
     "  - {type: TransformerDecoderLayer, nhead: 4, from: [tgt, memory]}\n", "S023", "[tgt, memory]",
     "give the memory 64 features"),
    ("inputs: {q: [B, 10, 16], kv: [B, 7, 16]}\nlayers:\n"
     "  - {type: MultiheadAttention, num_heads: 4, causal: true, from: [q, kv]}\n", "S022", "true", "causal: false"),
    ("inputs: {x: [B, T, 16], m: [T, T]}\nlayers:\n"
     "  - {type: TransformerEncoderLayer, nhead: 4, causal: true, masks: [attn], from: [x, m]}\n", "V038", "true",
     "drop 'attn' from masks:"),
    ("inputs: {tgt: [B, T, 30], memory: [B, S, 30]}\nlayers:\n"
     "  - {type: TransformerDecoder, nhead: 4, num_layers: 2, from: [tgt, memory]}\n", "S004", "4,", "(28 or 32)"),
    ("inputs: {tgt: [B, T, 32]}\nlayers:\n  - {type: TransformerDecoder, nhead: 4, num_layers: 2}\n", "G003",
     "{type: TransformerDecoder", "from: [a, b]"),
    ("inputs: {tgt: [B, T, 32], memory: [B, S, 32]}\nlayers:\n  - {type: TransformerDecoder, nhead: 4, "
     "num_layers: 2, masks: [key_padding], from: [tgt, memory]}\n", "G003", "[key_padding]",
     "from: [tgt, memory] (the target, then the encoder's output), then the masks"),
    ("inputs: {tgt: [4, T, 32], memory: [5, S, 32]}\nlayers:\n"
     "  - {type: TransformerDecoderLayer, nhead: 4, from: [tgt, memory]}\n", "S006", "[tgt, memory]", "same batch"),
    ("inputs: {tgt: [B, T, 32], memory: [B, 32]}\nlayers:\n"
     "  - {type: TransformerDecoderLayer, nhead: 4, from: [tgt, memory]}\n", "S003", "[tgt, memory]",
     "Unsqueeze dim: 1"),
    ("inputs: {tgt: [B, T, 32], memory: [B, S, 32], m: [T, T]}\nlayers:\n"
     "  - {type: TransformerDecoderLayer, nhead: 4, masks: [attn], from: [tgt, memory, m]}\n", "V003", "attn]",
     "memory_key_padding"),
]


@pytest.mark.parametrize(("body", "code", "at", "fix"), DECODER_MISTAKES, ids=[m[1] for m in DECODER_MISTAKES])
def test_decoder_and_causal_mistakes_are_located_with_the_fix(body: str, code: str, at: str, fix: str) -> None:
    spec = _check("specc: 1\n" + body)
    [err] = spec.errors
    assert err.code == code, err
    assert _loc(err) == _at(spec, at), err
    assert fix in (err.hint or ""), err.hint


def test_the_fixes_pass_check() -> None:
    """The S023, S022 and V038 hints applied: a Linear to d_model on the memory; causal: false on
    cross-attention; one mask, not two."""
    memory = _check("specc: 1\ninputs: {tgt: [B, T, 64], memory: [B, S, 32]}\nlayers:\n"
                    "  - {type: Linear, out_features: 64, from: memory, name: mem64}\n"
                    "  - {type: TransformerDecoderLayer, nhead: 4, from: [tgt, mem64]}\n")
    assert memory.ok, memory.errors
    cross = _check("specc: 1\ninputs: {q: [B, 10, 16], kv: [B, 7, 16]}\nlayers:\n"
                   "  - {type: MultiheadAttention, num_heads: 4, causal: false, from: [q, kv]}\n")
    assert cross.ok, cross.errors
    # V038: the attn mask dropped from masks: and from from:
    one = _check("specc: 1\ninputs: {x: [B, T, 16]}\nlayers:\n"
                 "  - {type: TransformerEncoderLayer, nhead: 4, causal: true, from: [x]}\n")
    assert one.ok, one.errors


DECODER_SPEC = """specc: 1
inputs:
  tokens: {shape: [B, T], dtype: int64}
  memory: [B, S, 8]
  pad: {shape: [B, S], dtype: bool}
layers:
  - {type: Embedding, num_embeddings: 20, embedding_dim: 8, from: tokens}
  - {type: TransformerEncoderLayer, nhead: 2, dim_feedforward: 16, causal: true, name: enc}
  - {type: TransformerDecoder, nhead: 2, dim_feedforward: 16, num_layers: 1, causal: true,
     masks: [memory_key_padding], from: [enc, memory, pad]}
"""


# -- PositionalEncoding -------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("kind_name", ["sinusoidal", "learned"])
def test_positional_encoding(kind_name: str, batch_first: bool) -> None:
    kind, res = infer("PositionalEncoding", {"kind": kind_name, "max_len": 16, "batch_first": batch_first},
                      seq(batch_first, B, T, 6))
    module, forward = emitted(kind, res)
    learned = kind_name == "learned"
    assert res.params == n_params(module) == (16 * 6 if learned else 0)
    assert res.buffers == sum(b.numel() for b in module.buffers()) == (0 if learned else 16 * 6)
    for env in SIZES:
        x = torch.zeros(seq(batch_first, env["B"], env["T"], 6))
        y = forward(x)
        assert tuple(y.shape) == concrete(res.out.shape, env)
        table = y[0] if batch_first else y[:, 0]
        if not learned:  # the table of "Attention Is All You Need"
            pos, i = 3, 2
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(pos / 10000 ** (2 * i / 6)), abs=1e-6)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(pos / 10000 ** (2 * i / 6)), abs=1e-6)
    odd = emitted(*infer("PositionalEncoding", {"max_len": 8}, (B, T, 5)))[1]
    assert tuple(odd(torch.zeros(1, 4, 5)).shape) == (1, 4, 5)  # odd widths work


def test_positional_encoding_too_long() -> None:
    spec = _check("specc: 1\ninputs: {seq: [B, 600, 16]}\nlayers:\n  - {type: PositionalEncoding, max_len: 512}\n")
    assert spec.errors[0].code == "S001" and "max_len: 600" in spec.errors[0].hint
    assert _check("specc: 1\ninputs: {seq: [B, T, 16]}\nlayers:\n  - {type: PositionalEncoding}\n").ok


# -- ConvLSTM2d ----------------------------------------------------------------------------------------

class ReferenceConvLSTM(nn.Module):
    """Written independently: separate input and hidden convs (the same numbers of weights as one
    conv over the concatenation), gates in the order i, f, g, o."""

    def __init__(self, c: int, hidden: list[int], k: int, bias: bool):
        super().__init__()
        self.hidden = hidden
        ins = [c, *hidden[:-1]]
        self.wx = nn.ModuleList(nn.Conv2d(i, 4 * h, k, padding=k // 2, bias=bias) for i, h in zip(ins, hidden))
        self.wh = nn.ModuleList(nn.Conv2d(h, 4 * h, k, padding=k // 2, bias=False) for h in hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for wx, wh, hc in zip(self.wx, self.wh, self.hidden):
            h = torch.zeros(x.shape[0], hc, *x.shape[3:])
            c = torch.zeros_like(h)
            outs = []
            for t in range(x.shape[1]):
                i, f, g, o = (wx(x[:, t]) + wh(h)).chunk(4, 1)
                c = f.sigmoid() * c + i.sigmoid() * g.tanh()
                h = o.sigmoid() * c.tanh()
                outs.append(h)
            x = torch.stack(outs, 1)
        return x

    def copy_into(self, cells: nn.ModuleList) -> None:
        """Load these weights into the emitted single-conv cells (concatenated along in-channels)."""
        with torch.no_grad():
            for wx, wh, cell in zip(self.wx, self.wh, cells):
                cell.weight.copy_(torch.cat([wx.weight, wh.weight], dim=1))
                if cell.bias is not None:
                    cell.bias.copy_(wx.bias)


@pytest.mark.parametrize(("params", "hidden"), [
    ({"hidden_channels": 4}, [4]),
    ({"hidden_channels": [3, 5], "kernel_size": 3, "return_sequences": True}, [3, 5]),
    ({"filters": 2, "num_layers": 3, "kernel_size": 5, "bias": False}, [2, 2, 2]),
])
def test_convlstm(params: dict, hidden: list[int]) -> None:
    kind, res = infer("ConvLSTM2d", params, (B, T, 2, 6, 5))
    k, bias = params.get("kernel_size", 3), params.get("bias", True)
    ref = ReferenceConvLSTM(2, hidden, k, bias)
    module, forward = emitted(kind, res)
    assert res.params == n_params(ref) == n_params(module)
    ref.copy_into(module.cells)
    for env in SIZES:
        x = torch.randn(env["B"], env["T"], 2, 6, 5)
        with torch.no_grad():
            y, seq_out = forward(x), ref(x)
        assert tuple(y.shape) == concrete(res.out.shape, env)
        torch.testing.assert_close(y, seq_out if params.get("return_sequences") else seq_out[:, -1])
        assert macs_of(ref, x[:1]) == evaluate(res.macs, env)


def test_convlstm_errors() -> None:
    head = "specc: 1\ninputs: {seq: [B, T, 3, 8, 8]}\nlayers:\n"
    n = _check(head + "  - {type: ConvLSTM2d, hidden_channels: [4, 4], num_layers: 3}\n")
    assert n.errors[0].code == "V003" and "num_layers: 2" in n.errors[0].hint
    rank = _check("specc: 1\ninputs: {seq: [B, 3, 8, 8]}\nlayers:\n  - {type: ConvLSTM2d, hidden_channels: 4}\n")
    assert rank.errors[0].code == "S003" and "(B, T, C, H, W)" in rank.errors[0].message


# -- TimeDistributed -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("inner", "step", "ref"), [
    ({"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, (3, 6, 6),
     lambda: nn.Conv2d(3, 4, 3, padding=1)),
    ({"type": "Linear", "out_features": 5}, (7,), lambda: nn.Linear(7, 5)),
    ({"type": "Flatten"}, (2, 3, 3), lambda: nn.Flatten()),
    ({"type": "LSTM", "hidden_size": 4, "bidirectional": True, "output": "last"}, (6, 3),
     lambda: nn.LSTM(3, 4, bidirectional=True, batch_first=True)),
    ({"type": "Embedding", "num_embeddings": 9, "embedding_dim": 4}, (6,), lambda: nn.Embedding(9, 4)),
])
def test_time_distributed(inner: dict, step: tuple, ref: Any) -> None:
    dtype = "int64" if inner["type"] == "Embedding" else "float32"
    kind, res = infer("TimeDistributed", {"layer": inner}, TensorType((B, T, *step), dtype))
    module, forward = emitted(kind, res)
    reference = ref()
    assert res.params == n_params(reference) == (n_params(module) if module is not None else 0)
    if module is not None:
        module.load_state_dict(reference.state_dict())
    for env in SIZES:
        shape = (env["B"], env["T"], *step)
        x = torch.randint(0, 9, shape) if dtype == "int64" else torch.randn(shape)
        with torch.no_grad():
            y = forward(x)
            per_step = torch.stack([_apply(reference, x[:, t], inner) for t in range(env["T"])], dim=1)
        assert tuple(y.shape) == concrete(res.out.shape, env)
        torch.testing.assert_close(y, per_step)
        if inner["type"] in ("Conv2d", "Linear", "LSTM"):
            assert macs_of(reference, x[:1].flatten(0, 1)) == evaluate(res.macs, env)


def _apply(module: nn.Module, x: torch.Tensor, inner: dict) -> torch.Tensor:
    if inner["type"] == "LSTM":
        out = module(x)[0]
        return torch.cat([out[:, -1, :4], out[:, 0, 4:]], dim=-1)
    return module(x)


TD_HEAD = "specc: 1\ninputs: {v: [B, T, 3, 16, 16], ids: {shape: [B, T, 4], dtype: int64}}\nlayers:\n"


def test_time_distributed_errors_are_located_inside() -> None:
    typo = _check(TD_HEAD + "  - type: TimeDistributed\n    from: v\n    layer:\n      type: Conv2d\n"
                  "      out_channels: 8\n      kernal_size: 3\n")
    missing, err = typo.errors
    assert missing.code == "V002" and "kernel_size" in missing.message
    assert err.code == "V001" and "kernal_size" in err.message
    assert _loc(err) == _at(typo, "kernal_size")
    unknown = _check(TD_HEAD + "  - {type: TimeDistributed, from: v, layer: {type: Conv2D2, out_channels: 3}}\n")
    assert unknown.errors[0].code == "V003" and "unknown layer type 'Conv2D2'" in unknown.errors[0].message
    shape = _check(TD_HEAD + "  - type: TimeDistributed\n    from: v\n    layer:\n      type: Conv2d\n"
                   "      out_channels: 8\n      kernel_size: 3\n      in_channels: 4\n")
    err = shape.errors[0]
    assert err.code == "S001" and "in_channels: 3" in err.hint and "wrapped Conv2d" in err.message
    assert _loc(err) == _at(shape, "4\n")  # the value of the nested in_channels
    rank = _check(TD_HEAD + "  - {type: TimeDistributed, from: v, layer: {type: Conv1d, out_channels: 3, "
                  "kernel_size: 3}}\n")
    assert rank.errors[0].code == "S003" and "per step" in rank.errors[0].message
    dtype = _check(TD_HEAD + "  - {type: TimeDistributed, from: ids, layer: {type: Linear, out_features: 3}}\n")
    assert dtype.errors[0].code == "S007"
    meta = _check(TD_HEAD + "  - {type: TimeDistributed, from: v, layer: {type: ReLU, name: r}}\n")
    assert meta.errors[0].code == "V003" and "TimeDistributed item" in meta.errors[0].message
    nested = _check(TD_HEAD + "  - {type: TimeDistributed, from: v, layer: {type: TimeDistributed, "
                    "layer: {type: ReLU}}}\n")
    assert nested.errors[0].code == "V003" and "Reshape" in (nested.errors[0].hint or "") + nested.errors[0].message
    merge = _check(TD_HEAD + "  - {type: TimeDistributed, from: v, layer: {type: Add}}\n")
    assert merge.errors[0].code == "V003" and "merges several inputs" in merge.errors[0].message


# -- Select and lint L006 ------------------------------------------------------------------------------

def test_select() -> None:
    kind, res = infer("Select", {"dim": 1, "index": -1}, (B, T, 6))
    assert res.out.shape == (B, 6)
    _, forward = emitted(kind, res)
    x = torch.randn(2, 5, 6)
    torch.testing.assert_close(forward(x), x[:, -1])
    kind, res = infer("Select", {"axis": -1, "index": 2}, (B, T, 6))
    torch.testing.assert_close(emitted(kind, res)[1](x), x[:, :, 2])
    out_of_range = _check("specc: 1\ninputs: {seq: [B, 4, 6]}\nlayers:\n  - {type: Select, dim: 1, index: 4}\n")
    assert out_of_range.errors[0].code == "S008" and "-4 to 3" in out_of_range.errors[0].hint


L006_SPEC = """specc: 1
inputs: {{seq: [B, T, 8]}}
layers:
  - {{type: LSTM, hidden_size: 16, bidirectional: {bidir}, output: sequence}}
  - {{type: Dropout, p: 0.1}}
  - {{type: Select, dim: 1, index: {index}}}
  - {{type: Linear, out_features: 2}}
"""


@pytest.mark.parametrize(("bidir", "index", "warned"), [("true", -1, True), ("false", -1, False),
                                                         ("true", 0, False)])
def test_lint_bidirectional_last_step(bidir: str, index: int, warned: bool) -> None:
    spec = _check(L006_SPEC.format(bidir=bidir, index=index))
    assert spec.ok
    found = [d for d in spec.diagnostics if d.code == "L006"]
    assert bool(found) == warned
    if warned:
        d = found[0]
        assert d.severity == "warning" and "output: last" in (d.hint or "") and d.loc.line == 6


# -- the support code written into generated modules ------------------------------------------------

RUFF = Path(sys.executable).with_name("ruff")


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is not installed beside this python")
@pytest.mark.parametrize("type_name", ["LSTM", "PositionalEncoding", "ConvLSTM2d", "TimeDistributed"])
def test_support_code_is_formatted(type_name: str, tmp_path: Path) -> None:
    """Generated files are ruff-formatted at default settings; the support code must already be."""
    kind = lookup(type_name)
    assert kind is not None
    header = "import math\n\nimport torch\nfrom torch import nn\n\n\n"
    code = "\n\n".join(support.text(name).strip() for name in LOWERINGS[kind.type_name].support)
    (tmp_path / "support.py").write_text(header + code + "\n")
    for args in (["format", "--diff"], ["check", "--select", "E,F,W,B,UP", "--ignore", "B905,F401"]):
        done = subprocess.run([str(RUFF), *args, "--isolated", "."], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


# -- ONNX: the generated module exported and verified at other batch sizes and lengths ------------------------

RECURRENT_SPEC = """specc: 1
inputs:
  seq: [B, T, 6]
  h0: [4, B, 8]
  c0: [4, B, 8]
layers:
  - {type: LSTM, hidden_size: 8, num_layers: 2, bidirectional: true, from: [seq, h0, c0]}
  - {type: TimeDistributed, layer: {type: Linear, out_features: 8}}
  - {type: PositionalEncoding, kind: learned, max_len: 64, name: pos}
  - {type: GRU, hidden_size: 5, bidirectional: true, output: last, name: gru}
  - {type: RNN, hidden_size: 4, num_layers: 2, bidirectional: true, output: final_hidden, from: pos, name: rnn}
  - {type: Concat, from: [gru, rnn], dim: 1}
  - {type: Linear, out_features: 3}
export: {exporter: torchscript, sizes: {T: 12}}
"""

ATTENTION_SPEC = """specc: 1
inputs:
  query: [B, T, 8]
  memory: [B, S, 6]
  pad: {shape: [B, S], dtype: bool}
layers:
  - {type: PositionalEncoding, from: query}
  - {type: TransformerEncoderLayer, nhead: 2, dim_feedforward: 16, name: enc}
  - {type: MultiheadAttention, num_heads: 2, masks: [key_padding], from: [enc, memory, pad]}
  - {type: Mean, dim: 1}
export: {exporter: dynamo, sizes: {T: 10, S: 7}}
"""


def _export(text: str, tmp_path: Path) -> Any:
    pytest.importorskip("onnxruntime")
    from specc.backends.onnx_export import export_spec

    spec = _check(text)
    assert spec.ok, spec.diagnostics
    return export_spec(spec, tmp_path / "model.onnx")


def _check_runs(result: Any, symbols: set[str]) -> None:
    runs = result.verification.runs
    for s in symbols:  # the export size and two more of every symbolic dim
        assert len({r.env[s] for r in runs}) >= 3, (s, [r.env for r in runs])


def test_recurrent_layers_export_with_dynamic_batch_and_length(tmp_path: Path) -> None:
    result = _export(RECURRENT_SPEC, tmp_path)
    assert result.exporter == "torchscript" and not result.notes
    _check_runs(result, {"B", "T"})


@pytest.mark.slow
def test_attention_with_masks_exports_with_dynamic_lengths(tmp_path: Path) -> None:
    result = _export(ATTENTION_SPEC, tmp_path)
    _check_runs(result, {"B", "T", "S"})


def test_decoder_and_causal_masks_export_at_other_lengths(tmp_path: Path) -> None:
    """The causal masks are built from the length in forward: the ONNX model is right at T and S
    other than the export size (auto picks dynamo: TorchScript freezes attention lengths)."""
    result = _export(DECODER_SPEC, tmp_path)
    assert result.exporter == "dynamo"
    _check_runs(result, {"B", "T", "S"})
    pinned = _check(DECODER_SPEC + "export: {exporter: torchscript}\n")
    assert [(e.code, e.loc.line if e.loc else 0) for e in pinned.errors] == [("U002", 8)]


def test_export_refusals_say_why(tmp_path: Path) -> None:
    from specc.backends.errors import ExportFailed

    proj = RECURRENT_SPEC.replace("hidden_size: 5,", "hidden_size: 5, proj_size: 2,")
    refused = _check(proj.replace("{type: GRU", "{type: LSTM"))  # at check, not after it said ok
    assert [e.code for e in refused.errors] == ["U002"] and "LSTM projections" in refused.errors[0].message
    frames = ("specc: 1\ninputs: {frames: [B, T, 2, 8, 8]}\nlayers:\n  - {type: ConvLSTM2d, hidden_channels: 3}\n"
              "export: {exporter: torchscript}\n")
    pinned = _check(frames)  # the pinned exporter freezes T: refused at check (tests/test_export_limits.py)
    assert [(e.code, e.loc.line if e.loc else 0) for e in pinned.errors] == [("U002", 4)]
    pytest.importorskip("onnxruntime")
    from specc.backends.onnx_export import export_spec

    with pytest.raises(ExportFailed, match=r"time steps T"):  # `specc export --exporter torchscript` too
        export_spec(_check(frames.replace("torchscript", "auto")), tmp_path / "m.onnx", exporter="torchscript")


def test_names_of_support_code_are_reserved() -> None:
    """A layer or model named like a helper of the generated file would shadow it there."""
    layer = _check("specc: 1\ninputs: {seq: [B, T, 4]}\nlayers:\n"
                   "  - {type: GRU, hidden_size: 2, bidirectional: true, output: last, name: rnn_last}\n")
    assert layer.errors[0].code == "V006" and "rnn_last" in layer.errors[0].message
    model = _check("specc: 1\nname: ConvLSTM2d\ninputs: {seq: [B, T, 4]}\nlayers:\n  - {type: ReLU}\n")
    assert model.errors[0].code == "V006" and "ConvLSTM2d" in model.errors[0].message


# -- in generated block classes, where differing constructor values become parameters ---------------------

BLOCK_SPECS = {
    "time_distributed": ("""specc: 1
inputs: {clip: [B, T, 3, 8, 8]}
blocks:
  Stage:
    args: {out: 4}
    layers:
      - {type: TimeDistributed, layer: {type: Conv2d, out_channels: "${out}", kernel_size: 3, padding: 1}}
      - {type: TimeDistributed, layer: {type: ReLU}}
layers:
  - {type: Stage, out: 4}
  - {type: Stage, out: 8}
""", (3, 8, 8)),
    "encoder_norm": ("""specc: 1
inputs: {seq: [B, T, 8]}
blocks:
  Enc:
    args: {final: false}
    layers:
      - {type: TransformerEncoder, nhead: 2, dim_feedforward: 16, num_layers: 1, norm: "${final}"}
layers:
  - {type: Enc, final: false}
  - {type: Enc, final: true}
""", (8,)),
}


@pytest.mark.parametrize("name", list(BLOCK_SPECS))
def test_block_classes_with_sequence_layers(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import specc

    monkeypatch.setenv("SPECC_CACHE", str(tmp_path))
    text, step = BLOCK_SPECS[name]
    spec = _check(text)
    assert spec.ok, spec.diagnostics
    module = specc.build(spec, seed=0).eval()
    assert n_params(module) == spec.check()["total_params"]
    out = spec.graph.value(spec.graph.outputs[0][1])
    for env in SIZES:
        with torch.no_grad():
            y = module(torch.randn(env["B"], env["T"], *step))
        assert tuple(y.shape) == concrete(out.shape, env)


# -- differential: random sequence models, generated module against the static graph ------------------------

@st.composite
def sequence_models(draw: Any) -> str:
    """A random chain over a sequence: tokens through an Embedding or float features, then
    recurrent / attention / per-step layers of random sizes, then a reduction and a head."""
    lines = ["specc: 1", "inputs:"]
    width = draw(st.integers(2, 12))
    if draw(st.booleans()):
        lines += ["  tok: {shape: [B, T], dtype: int64}", "layers:",
                  f"  - {{type: Embedding, num_embeddings: {draw(st.integers(2, 30))}, embedding_dim: {width}}}"]
    else:
        lines += [f"  seq: [B, T, {width}]", "layers:"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["LSTM", "GRU", "RNN", "MultiheadAttention", "TransformerEncoderLayer",
                                     "TransformerEncoder", "PositionalEncoding", "TimeDistributed", "LayerNorm"]))
        heads = draw(st.sampled_from([h for h in range(1, width + 1) if width % h == 0]))
        if kind in ("LSTM", "GRU", "RNN"):
            hidden, bidir = draw(st.integers(1, 6)), draw(st.booleans())
            proj = 0  # an LSTM projection cannot be exported, so check refuses it (U002)
            extra = f", proj_size: {proj}" if proj else ""
            lines.append(f"  - {{type: {kind}, hidden_size: {hidden}, num_layers: {draw(st.integers(1, 2))}, "
                         f"bidirectional: {str(bidir).lower()}{extra}}}")
            width = (2 if bidir else 1) * (proj or hidden)
        elif kind == "MultiheadAttention":
            bias = str(draw(st.booleans())).lower()
            lines.append(f"  - {{type: MultiheadAttention, num_heads: {heads}, bias: {bias}}}")
        elif kind.startswith("Transformer"):
            layers = f", num_layers: {draw(st.integers(1, 2))}, norm: true" if kind == "TransformerEncoder" else ""
            lines.append(f"  - {{type: {kind}, nhead: {heads}, dim_feedforward: {draw(st.integers(1, 16))}, "
                         f"norm_first: {str(draw(st.booleans())).lower()}{layers}}}")
        elif kind == "PositionalEncoding":
            lines.append(f"  - {{type: PositionalEncoding, kind: {draw(st.sampled_from(['sinusoidal', 'learned']))},"
                         " max_len: 40}")
        elif kind == "TimeDistributed":
            width = draw(st.integers(1, 10))
            lines.append(f"  - {{type: TimeDistributed, layer: {{type: Linear, out_features: {width}}}}}")
        else:
            lines.append("  - {type: LayerNorm}")
    head = draw(st.sampled_from(["Mean", "last", "final_hidden"]))
    if head == "Mean":
        lines.append("  - {type: Mean, dim: 1}")
    else:
        kind = draw(st.sampled_from(["LSTM", "GRU", "RNN"]))
        lines.append(f"  - {{type: {kind}, hidden_size: 3, bidirectional: {str(draw(st.booleans())).lower()}, "
                     f"output: {head}}}")
    lines.append(f"  - {{type: Linear, out_features: {draw(st.integers(1, 4))}}}")
    lines.append(f"export: {{sizes: {{T: {draw(st.integers(2, 20))}}}}}")
    return "\n".join(lines) + "\n"


# SPECC_SEQ_EXAMPLES=500 pytest -k random_sequence runs more (and different) examples.
@settings(max_examples=int(os.environ.get("SPECC_SEQ_EXAMPLES", "25")), deadline=None, database=None,
          derandomize="SPECC_SEQ_EXAMPLES" not in os.environ,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=sequence_models())
def test_random_sequence_models(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from emit_harness import verify

    monkeypatch.setenv("SPECC_CACHE", str(tmp_path))
    spec = _check(text)
    if any("no torch exporter writes this model" in d.message for d in spec.errors):
        # a recurrent layer beside self-attention over a symbolic T: refused under `auto` at its line,
        # and the fix the hint gives, a fixed length, must then check and run
        assert all(d.code == "U002" and d.loc is not None for d in spec.errors), spec.errors
        text = re.sub(r"\[B, T\b", "[B, 7", text)
        spec = _check(text)
    assert spec.ok, "\n".join(str(d) for d in spec.diagnostics) + "\n" + text
    _, problems, _ = verify(spec)
    assert not problems, "\n".join(problems) + "\n" + text


def test_time_distributed_nesting_mistakes_hint_the_fix() -> None:
    misplaced = _check(TD_HEAD + "  - {type: TimeDistributed, from: v, layer: {type: Flatten, repeat: 2, name: f}}\n")
    err = misplaced.errors[0]
    assert err.code == "V003" and err.hint == "move name, repeat next to type: TimeDistributed"
    block = _check("specc: 1\nblocks:\n  Head: {layers: [{type: Linear, out_features: 8}]}\n"
                   "inputs: {x: [B, T, 4]}\nlayers:\n  - {type: TimeDistributed, layer: {type: Head}}\n")
    assert block.errors[0].code == "V003" and "a block cannot be wrapped" in (block.errors[0].hint or "")


MAMBA = """\
specc: 1
inputs: {x: [B, T, 16]}
layers:
  - {type: Mamba, d_state: 4, name: mixer}
"""


def test_mamba_is_hugging_faces_mixer_with_its_weights_and_initialisation() -> None:
    """specc's Mamba loads HF MambaMixer's state dict by name and computes what its slow path computes (the
    hand-written HFMambaMixer of tests/layer_cases.py); it starts as mamba_ssm does (A_log = log(1..N), D = 1,
    softplus(dt_proj.bias) within [dt_min, dt_max]); a later step changes no earlier output."""
    from layer_cases import HFMambaMixer

    import specc

    model = specc.build(loads(MAMBA), seed=0).eval()
    mixer = model.mixer
    assert torch.equal(mixer.A_log, torch.log(torch.arange(1, 5.0)).expand(32, 4)) and torch.equal(mixer.D,
                                                                                                    torch.ones(32))
    dt = F.softplus(mixer.dt_proj.bias)
    assert bool(((dt >= 0.001 * (1 - 1e-5)) & (dt <= 0.1 * (1 + 1e-5))).all())
    torch.manual_seed(0)
    oracle = HFMambaMixer(16, 4).eval()
    with torch.no_grad():
        oracle.A_log.add_(torch.rand(32, 4))  # weights unlike either initialisation
    mixer.load_state_dict(oracle.state_dict())
    x = torch.randn(2, 9, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), oracle(x), atol=1e-5, rtol=1e-4)
        later = x.clone()
        later[:, 5:] += 1.0
        assert torch.equal(model(later)[:, :5], model(x)[:, :5])
        # under autocast (fp16 training on a GPU; bfloat16 here) the scan keeps float32 states, as mamba_ssm's kernel
        scans: list[torch.dtype] = []
        scan = mixer._scan
        mixer._scan = lambda *a: scans.append((y := scan(*a)).dtype) or y
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(x)
        assert scans == [torch.float32]


@pytest.mark.parametrize(("kind", "hint"), [("Mamba2", "Mamba-2's SSD mixer"),
                                            ("MambaBlock", "define the block under blocks:")])
def test_other_mamba_names_say_what_specc_writes(kind: str, hint: str) -> None:
    spec = loads(f"specc: 1\ninputs: {{x: [B, T, 32]}}\nlayers:\n  - {{type: {kind}, d_state: 16}}\n")
    [err] = spec.errors
    assert err.code == "V004" and err.hint is not None and hint in err.hint
