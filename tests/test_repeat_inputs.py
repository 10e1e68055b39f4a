"""`repeat:` of a block of several inputs: the first input goes through the copies one after
another, every copy reads the others from where the repeat's `from:` names them (BERT or GPT
written layer by layer: each layer reads the one before and the same padding mask)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import specc
from specc.targets.torch.emit import compile_source

torch = pytest.importorskip("torch")

BERT = textwrap.dedent("""\
    specc: 1
    name: TinyBert
    inputs:
      x: [B, T, 16]
      pad: {shape: [B, T], dtype: bool}
    blocks:
      Layer:
        inputs: [input, pad]
        layers:
          - {type: MultiheadAttention, from: [input, pad], num_heads: 2, masks: [key_padding], name: attn}
          - {type: Add, from: [attn, input]}
          - {type: LayerNorm, name: norm1}
          - {type: Linear, out_features: 32, name: up}
          - {type: GELU}
          - {type: Linear, out_features: 16, name: down}
          - {type: Add, from: [down, norm1]}
          - {type: LayerNorm, name: norm2}
    layers:
      - {type: Layer, from: [x, pad], repeat: 3, name: encoder}
      - {type: Linear, out_features: 4, name: head}
    export: {sizes: {T: 5}}
    """)


class OracleLayer(torch.nn.Module):
    """A post-norm encoder layer, written by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(16, 2, batch_first=True)
        self.norm1 = torch.nn.LayerNorm(16)
        self.up = torch.nn.Linear(16, 32)
        self.down = torch.nn.Linear(32, 16)
        self.norm2 = torch.nn.LayerNorm(16)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        h = self.norm1(self.attn(x, x, x, key_padding_mask=pad, need_weights=False)[0] + x)
        return self.norm2(self.down(torch.nn.functional.gelu(self.up(h))) + h)


class Oracle(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.ModuleList([OracleLayer() for _ in range(3)])
        self.head = torch.nn.Linear(16, 4)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        for layer in self.encoder:
            x = layer(x, pad)
        return self.head(x)


def _padding(batch: int, steps: int) -> torch.Tensor:
    pad = torch.zeros(batch, steps, dtype=torch.bool)
    pad[0, steps - 2:] = True  # the first sequence ends early; none is all padding
    return pad


def test_a_repeated_block_of_two_inputs_is_the_hand_written_stack() -> None:
    spec = specc.loads(BERT, "bert.yaml")
    assert spec.ok, spec.diagnostics
    model = specc.build(spec).eval()
    oracle = Oracle().eval()
    oracle.load_state_dict(model.state_dict())  # strict: the same names, stack copies as encoder.0.…
    counted = sum(p.numel() for p in model.parameters())
    assert counted == sum(p.numel() for p in oracle.parameters()) == spec.check()["total_params"]
    torch.manual_seed(0)
    for steps in (5, 9):
        x, pad = torch.randn(3, steps, 16), _padding(3, steps)
        with torch.no_grad():
            want = oracle(x, pad)
            assert torch.allclose(model(x, pad), want, atol=1e-5)
            # every copy reads the mask: without it the answer changes
            assert not torch.allclose(oracle(x, torch.zeros_like(pad)), want, atol=1e-3)
    source = compile_source(spec)
    assert "self.encoder = nn.ModuleList([Layer(), Layer(), Layer()])" in source
    assert "for layer in self.encoder:\n            h = layer(h, pad)" in source


@pytest.mark.parametrize("via", ["direct", "torch"])
def test_it_exports_and_verifies(via: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    spec = specc.loads(BERT, "bert.yaml")
    if via == "direct":
        from specc.backends.direct_export import export_direct

        result = export_direct(spec, tmp_path / "m.onnx", compare="torch")
    else:
        from specc.backends.onnx_export import export_spec

        result = export_spec(spec, tmp_path / "m.onnx")
    report = result.verification
    assert report is not None and len(report.runs) >= 3 and all(r.max_abs_diff is not None for r in report.runs)


SHARED = textwrap.dedent("""\
    specc: 1
    inputs:
      x: [B, T, 16]
      y: [B, T, 16]
      ctx: [B, T, 16]
    blocks:
      Layer:
        inputs: [input, ctx]
        layers:
          - {type: Add, from: [input, ctx]}
          - {type: Linear, out_features: 16, name: proj}
    layers:
      - {type: Tanh, from: ctx, name: c2}
      - {type: Layer, from: [x, c2], repeat: 2, name: stack}
      - {use: stack, from: [y, ctx], name: again}
      - {type: Add, from: [stack, again]}
    """)


def _stack(model: torch.nn.Module, h: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
    for copy in model.stack:
        h = torch.nn.functional.linear(h + ctx, copy.proj.weight, copy.proj.bias)
    return h


def test_use_calls_the_copies_again_on_other_inputs() -> None:
    """The mask read by the copies is the very value the chain would overwrite (c2 sits in the
    chain variable just before the repeat): the loop keeps its own variable."""
    spec = specc.loads(SHARED, "shared.yaml")
    assert spec.ok, spec.diagnostics
    assert spec.check()["total_params"] == 2 * (16 * 16 + 16)  # the use: owns nothing
    model = specc.build(spec).eval()
    x, y, ctx = (torch.randn(2, 7, 16) for _ in range(3))
    with torch.no_grad():
        want = _stack(model, x, torch.tanh(ctx)) + _stack(model, y, ctx)
        assert torch.allclose(model(x, y, ctx), want, atol=1e-5)
    assert "for layer in self.stack:" in compile_source(spec)


def test_lora_adapts_every_copy() -> None:
    spec = specc.loads(SHARED + "lora: {rank: 2, targets: [proj]}\n", "shared.yaml")
    assert spec.ok, spec.diagnostics
    model = specc.build(spec)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == spec.check()["trainable_params"] == 2 * 2 * (16 + 16)
    source = compile_source(spec)
    assert 'add_lora(self.stack[0].proj, "weight"' in source and 'add_lora(self.stack[1].proj, "weight"' in source


@pytest.mark.parametrize("source,hint", [
    ("x", "list one layer or input per input of Layer in from:, in this order: input, pad"),
    ("[x, pad, pad]", "in this order: input, pad"),
])
def test_a_repeat_given_another_number_of_inputs_is_located(source: str, hint: str) -> None:
    spec = specc.loads(BERT.replace("from: [x, pad], repeat: 3", f"from: {source}, repeat: 3"), "bert.yaml")
    (err,) = spec.errors
    assert err.code == "G003" and err.loc is not None and err.loc.line == 19
    assert "Layer 'encoder' (repeat:) takes 2 inputs (input, pad)" in err.message and hint in (err.hint or "")


def test_a_repeat_of_a_block_of_one_input_still_takes_one() -> None:
    text = BERT.replace("    inputs: [input, pad]\n", "").replace("from: [input, pad], num_heads: 2, masks: "
                                                               "[key_padding], ", "num_heads: 2, ")
    spec = specc.loads(text, "bert.yaml")
    (err,) = spec.errors
    assert err.code == "G003" and "has repeat:, so each copy reads the one before" in err.message


def test_the_chained_input_must_keep_its_shape_through_the_copies() -> None:
    """Copy 1 reads what copy 0 gives: a block that changes its width cannot be stacked."""
    spec = specc.loads(BERT.replace("out_features: 16, name: down", "out_features: 8, name: down"), "bert.yaml")
    assert not spec.ok
    assert spec.errors[0].code in ("S001", "S006")


def test_a_repeated_block_whose_arguments_are_wrong_is_reported_once() -> None:
    spec = specc.loads(BERT.replace("repeat: 3, name: encoder}", "repeat: 3, name: encoder, widht: 3}"), "bert.yaml")
    assert [d.code for d in spec.errors] == ["V001"]  # not also G003: the copies were never made


def test_the_loop_keeps_what_the_copies_read_when_it_sits_in_the_chain_variable() -> None:
    """One output of a Split read only by the repeat sits in the chain variable (h = split(...)),
    and the copies read h[1]: the loop must write another variable."""
    spec = specc.loads(textwrap.dedent("""\
        specc: 1
        inputs: {x: [B, T, 16], m: [B, T, 32]}
        blocks:
          Layer:
            inputs: [input, ctx]
            layers:
              - {type: Add, from: [input, ctx]}
              - {type: Linear, out_features: 16, name: proj}
        layers:
          - {type: Split, from: m, size: 16, dim: 2, name: parts}
          - {type: Layer, from: [x, parts.1], repeat: 2, name: stack}
          - {type: ReLU}
        """), "split.yaml")
    model = specc.build(spec).eval()
    x, m = torch.randn(2, 5, 16), torch.randn(2, 5, 32)
    with torch.no_grad():
        assert torch.allclose(model(x, m), torch.relu(_stack(model, x, m[..., 16:])), atol=1e-5)


def test_a_block_holding_such_a_repeat_loops_in_its_class() -> None:
    spec = specc.loads(textwrap.dedent("""\
        specc: 1
        inputs: {x: [B, T, 16], ctx: [B, T, 16]}
        blocks:
          Layer:
            inputs: [input, ctx]
            layers:
              - {type: Add, from: [input, ctx]}
              - {type: Linear, out_features: 16, name: proj}
          Encoder:
            inputs: [input, ctx]
            layers:
              - {type: Layer, from: [input, ctx], repeat: 2, name: stack}
              - {type: Tanh}
        layers:
          - {type: Encoder, from: [x, ctx], name: enc}
          - {type: Encoder, from: [enc, ctx], name: dec}
        """), "nested.yaml")
    assert spec.ok, spec.diagnostics
    assert "for layer in self.stack:" in compile_source(spec)
    model = specc.build(spec).eval()
    x, ctx = torch.randn(2, 5, 16), torch.randn(2, 5, 16)
    with torch.no_grad():
        want = torch.tanh(_stack(model.dec, torch.tanh(_stack(model.enc, x, ctx)), ctx))
        assert torch.allclose(model(x, ctx), want, atol=1e-5)
