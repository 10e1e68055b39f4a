"""An in-place activation must not write over a value that is read again, including
through a view (transpose, slice, reshape, dropout/identity at eval return their input)."""

from __future__ import annotations

import textwrap

import pytest

import specc

torch = pytest.importorskip("torch")

SPEC = textwrap.dedent("""\
    specc: 1
    inputs: {x: [B, 4, 6]}
    layers:
      - {type: VIEW, name: v}
      - {type: ReLU, inplace: true, name: act}
      - {type: READBACK}
    """)

CASES = {
    "transpose": ("Transpose, dim0: 1, dim1: 2", "Add, from: [act, back]", lambda x: x.transpose(1, 2)),
    "slice": ("Slice, dim: 2, start: 0, stop: 3", "Add, from: [act, back]", lambda x: x[:, :, 0:3]),
    "identity": ("Identity", "Add, from: [act, x]", lambda x: x),
    "dropout": ("Dropout, p: 0.5", "Add, from: [act, x]", lambda x: x),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_inplace_after_a_view_keeps_the_viewed_value(case: str) -> None:
    view, readback, expected_view = CASES[case]
    text = SPEC.replace("VIEW", view).replace("READBACK", readback)
    if "back" in readback:  # read the viewed tensor again, through the same view
        text = text.replace("  - {type: Add", f"  - {{type: {view}, from: x, name: back}}\n  - {{type: Add")
    spec = specc.loads(text, "t.yaml")
    assert spec.ok, spec.diagnostics
    model = specc.build(spec).eval()
    x = torch.randn(3, 4, 6)
    viewed = expected_view(x.clone())
    expected = torch.relu(viewed) + viewed
    assert torch.allclose(model(x.clone()), expected)


def test_inplace_is_kept_where_nothing_reads_the_value_again() -> None:
    spec = specc.loads(SPEC.replace("VIEW", "Linear, out_features: 5").replace("READBACK", "Linear, out_features: 2"))
    from specc.targets.torch.emit import compile_source

    assert "nn.ReLU(inplace=True)" in compile_source(spec)


def _kinds_taking_any_float_tensor() -> list[str]:
    """Every one-input kind that reads a (B, 4, 6) float tensor with its defaults alone."""
    from specc.layers.base import all_kinds

    names = []
    for name, kind in sorted(all_kinds().items()):
        if kind.max_inputs != 1 or name != kind.type_name:
            continue
        spec = specc.loads(f"specc: 1\ninputs: {{x: [B, 4, 6]}}\nlayers:\n  - {{type: {name}}}\n", "t.yaml")
        if spec.ok and spec.check()["outputs"][0]["shape"] == ["B", 4, 6]:
            names.append(name)
    return names


@pytest.mark.parametrize("kind", _kinds_taking_any_float_tensor())
def test_inplace_after_a_layer_differentiated_from_its_output_still_trains(kind: str) -> None:
    # Sigmoid, Tanh, Softmax, Exp and ReLU compute their gradient from their output: writing over
    # it in place raised "modified by an inplace operation" on the first backward pass. Every kind
    # is tried, itself in place where it can be and through a view, so a kind that differentiates
    # from its output without saying so (grad_reads_output) fails here.
    layers = ["Linear, out_features: 6", f"{kind}", "ReLU, inplace: true", f"{kind}, inplace: true",
              "Flatten, start_dim: 2", "Dropout, inplace: true", "Linear, out_features: 2"]
    text = "specc: 1\ninputs: {x: [B, 4, 6]}\nlayers:\n" + "".join(f"  - {{type: {t}}}\n" for t in layers)
    spec = specc.loads(text, "t.yaml")
    if not spec.ok:  # this kind has no inplace
        spec = specc.loads(text.replace(f"{kind}, inplace: true", kind), "t.yaml")
    assert spec.ok, spec.diagnostics
    model = specc.build(spec).train()
    model(torch.randn(3, 4, 6)).sum().backward()
