"""Odd but valid specs found in the final review: each once gave a wrong or silent answer."""

from __future__ import annotations

from specc.pipeline import loads

BLOCK_WITH_OUTPUT = """\
specc: 1
blocks:
  Down:
    layers:
      - {type: Conv1d, out_channels: 8, kernel_size: 3, padding: 1, bias: false, name: conv}
      - {type: BatchNorm1d}
    output: conv
inputs:
  x: [B, 3, T]
layers:
  - {type: Down}
  - {type: Down}
"""


def test_a_layer_a_block_computes_but_never_returns_is_reported_once() -> None:
    spec = loads(BLOCK_WITH_OUTPUT, "s.yaml")
    assert spec.ok
    dead = [d for d in spec.diagnostics if d.code == "G007"]
    # Used twice, written once: one warning, at the line of the BatchNorm1d inside the block.
    assert len(dead) == 1 and dead[0].loc is not None and dead[0].loc.line == 6
    assert "output: of block 'Down'" in (dead[0].hint or "")


def test_the_layer_a_block_returns_is_not_dead() -> None:
    # (a ReLU after the norm: two blocks of conv + norm alone would be one linear map, lint L017)
    text = BLOCK_WITH_OUTPUT.replace("    output: conv\n", "").replace(
        "      - {type: BatchNorm1d}\n", "      - {type: BatchNorm1d}\n      - {type: ReLU}\n")
    spec = loads(text, "s.yaml")
    assert spec.ok and not spec.diagnostics
