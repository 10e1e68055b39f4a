"""Reshape entries that read a dim by position (``like.size(2)``, ``x.size(i)``): the size a model
derived from its symbols (``floor((H + 3)/4)`` after a stride-4 patch embedding), which has no name
to write.  check proves the product exactly, with polynomial division over the symbols and floors;
the PyTorch code reads the size from the tensor at run time, so both torch exporters keep it
dynamic; the layer cases (tests/layer_cases.py) cover the oracle and the direct ONNX target."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import specc
from specc.shapes.dims import DimLike, add, evaluate, floordiv, mul, product, sym
from specc.shapes.formulas import exact_div

B, H, W = sym("B"), sym("H"), sym("W")


def _derived(rng: random.Random, s: DimLike) -> DimLike:
    """What a conv or pool makes of a size: floor((s + c)/k) + e."""
    return add(floordiv(add(s, rng.randint(-4, 4)), rng.randint(1, 4)), rng.randint(-1, 2))


@pytest.mark.parametrize("seed", range(3))
def test_a_product_of_derived_sizes_divides_by_each_factor_and_only_by_them(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(40):
        h, w = _derived(rng, H), _derived(rng, W)
        c = rng.randint(1, 5)
        total = product([B, c, h, w])
        assert exact_div(total, mul(B, h)) == mul(c, w)
        assert exact_div(total, product([B, c, w])) == h
        q = exact_div(total, add(h, 1))  # not a factor: a quotient found must hold at every size
        for env in ({"B": 2, "H": 40, "W": 41}, {"B": 1, "H": 77, "W": 53}):
            if q is not None:
                assert evaluate(q, env) * evaluate(add(h, 1), env) == evaluate(total, env)
    assert exact_div(add(H, 1), add(mul(H, 2), 2)) is None  # 1/2: not whole
    assert exact_div(add(mul(H, H), 1), add(H, 1)) is None  # a remainder of 2


PVT = """\
specc: 1
inputs:
  image: [B, 3, H, W]
layers:
  - {type: Conv2d, out_channels: 4, kernel_size: 7, stride: 4, padding: 3, name: pe}
  - {type: Conv2d, out_channels: 4, kernel_size: 3, name: valid}   # floor((H + 3)/4) - 2: no name
  - {type: Flatten, start_dim: 2}
  - {type: Transpose, dim0: 1, dim1: 2, name: tokens}
  - {type: LayerNorm}
  - {type: Reshape, from: [layer_norm_1, valid], shape: [B, like.size(2), like.size(-1), -1]}
  - {type: Permute, dims: [0, 3, 1, 2]}
  - {type: Reshape, shape: [B, x.size(1), "x.shape[2]", x.size(3)], name: map}
"""


def test_a_map_read_back_by_position_checks_exactly() -> None:
    spec = specc.loads(PVT, "pvt.yaml")
    assert spec.ok, [d.message for d in spec.errors]
    h, w = floordiv(add(H, 3), 4), floordiv(add(W, 3), 4)
    assert spec.graph.value("map").shape == (B, 4, add(h, -2), add(w, -2))


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_sizes_read_by_position_export_and_verify_at_other_sizes(exporter: str, tmp_path: Path) -> None:
    """Both torch exporters (dynamo takes a few seconds: it is the one that specialises sizes)."""
    pytest.importorskip("torch")
    from specc.backends.routes import export

    spec = specc.loads(PVT, "pvt.yaml")
    result = export(spec, tmp_path / "m.onnx", via="torch", exporter=exporter)
    runs = result.verification.runs
    assert len({(r.env["H"], r.env["W"]) for r in runs}) >= 3 and all(r.max_abs_diff for r in runs)


def test_the_generated_code_reads_each_size_from_its_tensor() -> None:
    from specc.targets.torch.emit import compile_source

    source = compile_source(specc.loads(PVT, "pvt.yaml"))
    assert ".reshape(x.shape[0], valid.shape[2], valid.shape[3], -1)" in source
    assert ".reshape(x.shape[0], x.shape[1], x.shape[2], x.shape[3])" in source
