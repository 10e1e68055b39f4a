"""init: how a spec says its parameters start.

- every kind's ``weights()`` (what init: names) is the built module's named_parameters;
- the generated ``_init_weights`` writes the torch.nn.init calls, and the model built from it
  holds what they draw (constants exactly);
- each initialiser's draws, by the PyTorch target and by the direct ONNX target's numpy, on
  Linear, Conv2d, Embedding and LSTM weights, have torch.nn.init's mean, spread and bounds;
- precedence: a layer's own init: beats its block's, which beats the model's; a path beats a type.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

import specc
from specc.layers.init import parse, resolve
from specc.targets.onnx.lower import lower_graph
from specc.targets.onnx.weights import Weights, _erfinv
from specc.targets.torch.emit import compile_source

sys.path.insert(0, str(Path(__file__).parent))
from layer_cases import CASES


def _reparam(args: dict[str, Any]) -> bool:
    return bool(args.get("weight_norm") or args.get("spectral_norm"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_weights_are_the_modules_parameters(case: Any) -> None:
    spec = specc.loads(case.yaml())
    assert spec.ok, spec.errors
    leaf = list(spec.graph.leaves())[-1]
    if _reparam(leaf.result.args):
        pytest.skip("weight_norm / spectral_norm rename the weight; init: refuses it (V095)")
    module = specc.build(spec, seed=0)
    prefix = leaf.path + "."
    built = {n[len(prefix):]: tuple(p.shape) for n, p in module.named_parameters() if n.startswith(prefix)}
    assert leaf.kind.weights(leaf.result.args) == built
    if not built or "init:" in case.layer:
        return
    # every parameter reached by name, by both targets: "*" sets each to 0.125
    text = case.yaml().rstrip("\n")
    spec = specc.loads(text[:-1] + ', init: {"*": {constant: 0.125}}}\n')
    assert spec.ok, spec.errors
    leaf = list(spec.graph.leaves())[-1]
    pad = leaf.result.args.get("padding_idx") if leaf.type == "Embedding" else None
    for name, p in specc.build(spec, seed=0).named_parameters():
        if name.startswith(prefix):
            want = torch.full_like(p, 0.125)
            if pad is not None:
                want[pad] = 0.0
            assert torch.equal(p.detach(), want), name
    from specc.targets.onnx.kinds import LOWERINGS

    if leaf.type not in LOWERINGS:
        return
    w = Weights(seed=0)
    lower_graph(spec.graph, w)
    for name in built:
        drawn = w.drawn[prefix + name].copy()
        if pad is not None:
            assert (drawn[pad] == 0).all()
            drawn[pad] = 0.125
        assert (drawn == np.float32(0.125)).all(), name


RESNETISH = """\
specc: 1
inputs: {x: [B, 3, 16, 16]}
blocks:
  Basic:
    layers:
      - {type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1, bias: false}
      - {type: BatchNorm2d, name: bn1}
      - {type: ReLU}
      - {type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1, bias: false, name: conv2}
      - {type: BatchNorm2d, name: bn2}
      - {type: Add, from: [bn2, input]}
init:
  Conv2d: {weight: {kaiming_normal: {mode: fan_out, nonlinearity: relu}}}
  BatchNorm2d: {weight: ones, bias: zeros}
  Basic: {bn2: {weight: zeros}}
  Dense: {weight: {normal: {std: 0.02}}, bias: zeros}
layers:
  - {type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1}
  - {type: Basic, repeat: 2, name: layer1}
  - {type: Basic, name: last, init: {bn2: {weight: {constant: 0.5}}, conv2: {weight: orthogonal}}}
  - {type: AdaptiveAvgPool2d, output_size: 1}
  - {type: Flatten}
  - {type: Linear, out_features: 10, init: {bias: {constant: 0.1}}, name: fc}
  - {type: PReLU, init: 0.2}
"""


def test_generated_code_calls_torch_nn_init_and_the_model_holds_it() -> None:
    spec = specc.loads(RESNETISH)
    assert spec.ok, spec.errors
    code = compile_source(spec)
    body = code[code.index("def _init_weights"):code.index("def forward", code.index("def _init_weights"))]
    assert "self._init_weights()" in code
    assert 'nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")' in body
    assert "nn.init.zeros_(m.weight)" in body  # zero-init of each block's last BatchNorm
    assert "nn.init.constant_(self.last.bn2.weight, 0.5)" in body  # the instance's own beats the model's
    assert "nn.init.orthogonal_(self.last.conv2.weight)" in body  # a path beats the type
    assert "nn.init.normal_(self.fc.weight, std=0.02)" in body  # Dense is Linear
    assert "nn.init.constant_(self.fc.bias, 0.1)" in body
    m = specc.build(spec, seed=0)
    assert torch.equal(m.layer1[0].bn2.weight, torch.zeros(8))
    assert torch.equal(m.layer1[1].bn1.weight, torch.ones(8))
    assert torch.equal(m.last.bn2.weight, torch.full((8,), 0.5))
    assert torch.equal(m.fc.bias, torch.full((10,), 0.1))
    assert torch.equal(m.prelu_1.weight, torch.tensor([0.2]))  # PReLU's own init: stays its parameter
    w = m.last.conv2.weight.reshape(8, -1)
    assert torch.allclose(w @ w.T, torch.eye(8), atol=1e-5)
    # a checkpoint loaded after construction replaces what init: drew
    other = specc.build(spec, seed=1)
    other.load_state_dict(m.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(other.state_dict().values(), m.state_dict().values()))


def test_direct_onnx_draws_the_same_constants_and_distributions() -> None:
    spec = specc.loads(RESNETISH)
    w = Weights(seed=0)
    lower_graph(spec.graph, w)
    assert (w.drawn["layer1.0.bn2.weight"] == 0).all() and (w.drawn["last.bn2.weight"] == 0.5).all()
    assert (w.drawn["fc.bias"] == np.float32(0.1)).all()
    q = w.drawn["last.conv2.weight"].reshape(8, -1)
    assert np.allclose(q @ q.T, np.eye(8), atol=1e-5)
    conv = w.drawn["layer1.1.conv2.weight"]
    assert abs(conv.std() - math.sqrt(2 / (8 * 9))) < 0.1 * math.sqrt(2 / (8 * 9))


# -- statistics against torch.nn.init -----------------------------------------------------------

SHAPES = {  # layer -> (the spec line, the parameter, its shape)
    "Linear": ("{type: Linear, out_features: 384, name: t}", "weight", (384, 256), "[B, 256]"),
    "Conv2d": ("{type: Conv2d, out_channels: 96, kernel_size: 3, name: t}", "weight", (96, 64, 3, 3),
               "[B, 64, 8, 8]"),
    "Embedding": ("{type: Embedding, num_embeddings: 600, embedding_dim: 128, padding_idx: 3, name: t}", "weight",
                  (600, 128), "{shape: [B, T], dtype: int64}"),
    "LSTM": ("{type: LSTM, hidden_size: 96, name: t}", "weight_ih_l0", (384, 200), "[B, T, 200]"),
}
INITS = ["zeros", "ones", "{constant: 0.25}", "normal", "{normal: {mean: 0.5, std: 0.02}}", "trunc_normal",
         "{trunc_normal: {std: 0.5, a: -0.4, b: 0.6}}", "uniform", "{uniform: {a: -0.3, b: 0.1}}", "xavier_uniform",
         "{xavier_normal: {gain: 2.0}}", "kaiming_uniform", "{kaiming_normal: {mode: fan_out, nonlinearity: relu}}",
         "{kaiming_uniform: {a: 2.23606797749979}}", "{orthogonal: {gain: 1.5}}", "glorot_uniform", "glorot_normal",
         "he_uniform", "he_normal", "lecun_uniform", "lecun_normal"]
TORCH = {  # the oracle: torch.nn.init's own call; Keras' normals as Keras defines them
    "glorot_uniform": lambda t: torch.nn.init.xavier_uniform_(t),
    "he_uniform": lambda t: torch.nn.init.kaiming_uniform_(t, nonlinearity="relu"),
    "lecun_uniform": lambda t: torch.nn.init.kaiming_uniform_(t, nonlinearity="linear"),
}


def _oracle(text: str, shape: tuple[int, ...]) -> torch.Tensor:
    init = parse(yaml.safe_load(text))
    t = torch.empty(shape)
    torch.manual_seed(5)
    if init.name in TORCH:
        return TORCH[init.name](t)
    if init.name in ("glorot_normal", "he_normal", "lecun_normal"):
        fan_in, fan_out = t.shape[1] * math.prod(shape[2:]), t.shape[0] * math.prod(shape[2:])
        fan = {"glorot_normal": (fan_in + fan_out) / 2, "he_normal": fan_in / 2, "lecun_normal": fan_in}[init.name]
        std = math.sqrt(1 / fan) / 0.87962566103423978  # tf.keras VarianceScaling, truncated_normal
        return torch.nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std)
    kw = init.kw
    if init.name == "constant":
        return torch.nn.init.constant_(t, kw["value"])
    return getattr(torch.nn.init, f"{init.name}_")(t, **kw)


def _same_distribution(got: np.ndarray, want: np.ndarray, what: str, bounded: bool) -> None:
    got, want = got.astype(np.float64).ravel(), want.astype(np.float64).ravel()
    spread = max(want.std(), 1e-12)
    assert abs(got.mean() - want.mean()) <= 6 * spread / math.sqrt(got.size) + 1e-7, what
    assert abs(got.std() - want.std()) <= 0.03 * spread + 1e-7, what
    # the share of draws past 2 std tells a normal (4.6 %) from a uniform (0) or a cut normal
    tail = [float(np.mean(np.abs(a - a.mean()) > 2 * spread)) for a in (got, want)]
    assert abs(tail[0] - tail[1]) < 0.01, what
    if not bounded:
        return
    span = want.max() - want.min()
    assert got.min() >= want.min() - 0.02 * span - 1e-7 and got.max() <= want.max() + 0.02 * span + 1e-7, what
    if span:  # a bounded draw reaches near both ends, as torch's does
        assert got.min() <= want.min() + 0.1 * span and got.max() >= want.max() - 0.1 * span, what


@pytest.mark.parametrize("layer", list(SHAPES))
@pytest.mark.parametrize("init", INITS)
def test_draws_match_torch_nn_init(layer: str, init: str) -> None:
    line, param, shape, inp = SHAPES[layer]
    spec = specc.loads(f"specc: 1\ninputs: {{x: {inp}}}\nlayers:\n  - {line[:-1]}, init: {{{param}: {init}}}}}\n")
    assert spec.ok, spec.errors
    want = _oracle(init, shape).numpy()
    built = dict(specc.build(spec, seed=3).named_parameters())[f"t.{param}"].detach().numpy()
    w = Weights(seed=3)
    lower_graph(spec.graph, w)
    drawn = w.drawn[f"t.{param}"]
    if layer == "Embedding":  # the padding row stays zero, as nn.Embedding makes it
        assert (built[3] == 0).all() and (drawn[3] == 0).all()
        built, drawn, want = (np.delete(a, 3, axis=0) for a in (built, drawn, want))
    for got, who in ((built, "PyTorch target"), (drawn, "direct ONNX target")):
        assert got.shape == want.shape
        if "orthogonal" in init:
            flat = got.reshape(shape[0] if layer != "Embedding" else shape[0] - 1, -1)
            small = min(flat.shape)
            gram = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
            # (an Embedding's padding row, zeroed and left out, takes a little from its columns)
            assert np.allclose(gram, 2.25 * np.eye(small), atol=0.05 if layer == "Embedding" else 1e-3), who
            continue
        bounded = parse(yaml.safe_load(init)).name not in ("normal", "xavier_normal", "kaiming_normal")
        _same_distribution(got, want, f"{who}: {init} on {layer}", bounded)


def test_erfinv_inverts_erf() -> None:
    x = np.linspace(-0.999999, 0.999999, 20001)
    assert max(abs(math.erf(v) - u) for v, u in zip(_erfinv(x), x)) < 1e-6


def test_fans_are_torchs() -> None:
    for shape in [(4, 3), (8, 4, 3), (6, 2, 3, 5), (3, 2, 1, 2, 2)]:
        t = torch.empty(shape)
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(t)
        for mode, fan in (("fan_in", fan_in), ("fan_out", fan_out)):
            d = resolve(parse({"kaiming_normal": {"mode": mode, "nonlinearity": "tanh"}}), shape)
            assert math.isclose(d.b, torch.nn.init.calculate_gain("tanh") / math.sqrt(fan))


# -- what check refuses, beyond the corpus ------------------------------------------------------

def _errors(text: str) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in specc.loads(text).errors]


def test_a_model_init_for_a_linear_without_bias_is_no_error() -> None:
    # torchvision's loop writes `if m.bias is not None`: a type's entry may name a parameter some lack
    spec = specc.loads("specc: 1\ninputs: {x: [B, 8]}\ninit: {Linear: {weight: xavier_uniform, bias: zeros}}\n"
                       "layers:\n  - {type: Linear, out_features: 4, bias: false}\n"
                       "  - {type: Linear, out_features: 2}\n")
    assert spec.ok, spec.errors
    assert [sorted(n.init) for n in spec.graph.leaves()] == [["weight"], ["bias", "weight"]]


def test_use_and_tie_own_no_init() -> None:
    text = ("specc: 1\ninputs: {x: {shape: [B, T], dtype: int64}}\nlayers:\n"
            "  - {type: Embedding, num_embeddings: 50, embedding_dim: 8, name: embed,\n"
            "     init: {weight: {normal: {std: 0.02}}}}\n"
            "  - {type: Linear, out_features: 50, bias: false, tie: embed, init: {weight: zeros}}\n")
    assert [c for c, _ in _errors(text)] == ["V095"]
    ok = text.replace(", init: {weight: zeros}", "")
    m = specc.build(specc.loads(ok), seed=0)
    assert m.linear_1.weight is m.embed.weight and abs(float(m.embed.weight.detach().std()) - 0.02) < 0.005


def test_block_init_with_a_layers_parameters_says_how_a_block_takes_it() -> None:
    text = ("specc: 1\ninputs: {x: [B, 8]}\nblocks:\n  Mlp:\n    layers:\n      - {type: Linear, out_features: 8}\n"
            "layers:\n  - {type: Mlp, init: {weight: zeros}}\n")
    spec = specc.loads(text)
    assert [d.code for d in spec.errors] == ["V091"]
    assert "init: {Conv2d: {weight: ...}}" in (spec.errors[0].hint or "")


def test_a_block_argument_named_init_stays_an_argument() -> None:
    text = ("specc: 1\ninputs: {x: [B, 3, 8, 8]}\nblocks:\n  Act:\n    args: {init: 0.25}\n    layers:\n"
            "      - {type: PReLU, init: \"${init}\"}\nlayers:\n  - {type: Act, init: 0.1}\n")
    spec = specc.loads(text)
    assert spec.ok, spec.errors
    assert torch.allclose(specc.build(spec).act_1.prelu_1.weight, torch.tensor([0.1]))


def test_a_pattern_reaches_the_layers_inside_and_a_path_the_instance() -> None:
    text = ("specc: 1\ninputs: {x: [B, 3, 8, 8]}\nblocks:\n  Basic:\n    layers:\n"
            "      - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, bias: false}\n"
            "      - {type: BatchNorm2d, name: bn2}\n"
            "init:\n  \"layer*.*.bn2\": {weight: zeros}\n  layer2: {\"*\": {bias: {constant: 0.5}}}\n"
            "layers:\n  - {type: Basic, repeat: 2, name: layer1}\n  - {type: Basic, repeat: 2, name: layer2}\n")
    spec = specc.loads(text)
    assert spec.ok, spec.errors
    got = {n.path: {k: v.text() for k, v in n.init.items()} for n in spec.graph.leaves() if n.init}
    assert got == {"layer1.0.bn2": {"weight": "zeros"}, "layer1.1.bn2": {"weight": "zeros"},
                   "layer2.0.bn2": {"weight": "zeros", "bias": "{constant: {value: 0.5}}"},
                   "layer2.1.bn2": {"weight": "zeros", "bias": "{constant: {value: 0.5}}"}}


def test_a_model_init_that_is_no_mapping_is_one_error() -> None:
    text = "specc: 1\ninputs: {x: [B, 4]}\ninit: zeros\nlayers:\n  - {type: Linear, out_features: 2}\n"
    assert [c for c, _ in _errors(text)] == ["V003"]


def test_init_on_a_use_item_is_v040() -> None:
    text = ("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Linear, out_features: 4, name: fc}\n"
            "  - {use: fc, init: {weight: zeros}}\n")
    assert [c for c, _ in _errors(text)] == ["V040"]


def test_keras_initializer_keys_get_the_init_that_says_the_same() -> None:
    spec = specc.loads("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n"
                       "  - {type: Dense, units: 2, kernel_initializer: he_normal, bias_initializer: zeros}\n")
    assert [(d.code, d.hint) for d in spec.errors] == [
        ("V001", "replace it with init: {weight: he_normal} (init: names PyTorch's parameters: weight, bias, "
                 "weight_ih_l0, …)"),
        ("V001", "replace it with init: {bias: zeros}")]


def test_a_type_the_model_lacks_is_a_warning_that_points_inside_transformers() -> None:
    spec = specc.loads("specc: 1\ninputs: {x: [B, T, 64]}\ninit: {Linear: {weight: {normal: {std: 0.02}}}}\n"
                       "layers:\n  - {type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 128}\n")
    warnings = [d for d in spec.diagnostics if d.severity == "warning"]
    assert spec.ok and [d.code for d in warnings] == ["V096"]
    fix = warnings[0].hint or ""
    assert '{TransformerEncoderLayer: {"*linear*.weight": ..., "*proj*weight": ...}}' in fix
    # which, written, reaches the feed-forward and attention weights and nothing else
    spec = specc.loads("specc: 1\ninputs: {x: [B, T, 64]}\ninit: {TransformerEncoderLayer: {\"*linear*.weight\": "
                       "{normal: {std: 0.02}}, \"*proj*weight\": {normal: {std: 0.02}}}}\n"
                       "layers:\n  - {type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 128}\n")
    assert spec.ok and not spec.diagnostics
    (leaf,) = spec.graph.leaves()
    assert sorted(leaf.init) == ["linear1.weight", "linear2.weight", "self_attn.in_proj_weight",
                                 "self_attn.out_proj.weight"]
    m = specc.build(spec, seed=0)
    assert abs(float(m.transformer_encoder_layer_1.linear1.weight.detach().std()) - 0.02) < 0.003


def test_odd_forms_give_one_error_each() -> None:
    lines = ["{type: Linear, out_features: 4, init: {weight: null}}",
             "{type: Linear, out_features: 4, init: {weight: {normal: [1, 2]}}}",
             "{type: Linear, out_features: 4, init: {weight: {normal: {std: \"0.02\"}}}}",
             "{type: Linear, out_features: 4, init: []}",
             "{type: Linear, out_features: 4, init: {weight: {normal: {std: 0.02}, uniform: {}}}}",
             "{type: Mlp, init: []}",
             "{type: Mlp, init: {Linear: zeros}}",
             "{type: Linear, out_features: 4, init: {weight: {constant: 1.0e+39}}}",
             "{type: Linear, out_features: 4, init: true}"]
    text = ("specc: 1\ninputs: {x: [B, 4]}\nblocks:\n  Mlp:\n    layers:\n      - {type: Linear, out_features: 4}\n"
            "layers:\n" + "".join(f"  - {line}\n" for line in lines))
    spec = specc.loads(text)
    assert [(d.code, d.loc.line if d.loc else None) for d in spec.errors] == [
        ("V092", 8), ("V092", 9), ("V093", 10), ("V092", 11), ("V092", 12), ("V092", 13), ("V092", 14),
        ("V093", 15), ("V092", 16)]
    assert all(d.hint for d in spec.errors)


def test_gpt2s_recipe_with_a_tied_head() -> None:
    # Hugging Face's GPT-2 _init_weights: Linear and Embedding N(0, 0.02); the head's weight is the
    # token table's, so the Linear entry leaves it to the Embedding entry
    spec = specc.loads("specc: 1\ninputs: {x: {shape: [B, T], dtype: int64}}\n"
                       "init: {Linear: {weight: {normal: {std: 0.02}}, bias: zeros}, Embedding: {weight: "
                       "{normal: {std: 0.02}}}}\nlayers:\n"
                       "  - {type: Embedding, num_embeddings: 500, embedding_dim: 64, name: wte}\n"
                       "  - {type: Linear, out_features: 64, name: mlp}\n"
                       "  - {type: Linear, out_features: 500, bias: false, tie: wte, name: head}\n")
    assert spec.ok, spec.errors
    assert [sorted(n.init) for n in spec.graph.leaves()] == [["weight"], ["bias", "weight"], []]
    m = specc.build(spec, seed=0)
    assert m.head.weight is m.wte.weight and abs(float(m.wte.weight.detach().std()) - 0.02) < 0.002
