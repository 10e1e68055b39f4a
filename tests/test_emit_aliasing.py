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
