"""LayerScale (CaiT's learned per-channel factor) and Roll (Swin's shifted windows): what check refuses,
the requirement a symbolic dim gets, and the start LayerScale's factor is given."""

from __future__ import annotations

import pytest

import specc


def _codes(shape: str, layer: str) -> list[str]:
    spec = specc.loads(f"specc: 1\ninputs:\n  x: {shape}\nlayers:\n  - {layer}\n", "k.yaml")
    return [d.code for d in spec.errors]


@pytest.mark.parametrize(("shape", "layer", "codes"), [
    ("[B, T, 8]", "{type: LayerScale}", []),
    ("[B, 8, H, W]", "{type: LayerScale, dim: 1, num_features: 8}", []),
    ("[B, 8, H, W]", "{type: LayerScale, dim: 1, num_features: 6}", ["S001"]),   # the channels are 8
    ("[B, 8, H, W]", "{type: LayerScale, dim: 0}", ["S008"]),                    # the batch
    ("[B, 8]", "{type: LayerScale, dim: 2}", ["S008"]),
    ("[B]", "{type: LayerScale}", ["S003"]),
    ("[B, T, 8]", "{type: Roll, shifts: [1, 2], dims: 1}", ["V003"]),            # one shift per dim
    ("[B, T, 8]", "{type: Roll, shifts: [1, 2], dims: [1, -2]}", ["V003"]),      # dim 1 twice
    ("[B, T, 8]", "{type: Roll, shifts: 3, dims: 3}", ["S008"]),
    ("[B, T, 8]", "{type: Roll, shifts: -11, dims: -1}", []),                    # a fixed dim wraps
])
def test_what_check_refuses(shape: str, layer: str, codes: list[str]) -> None:
    assert _codes(shape, layer) == codes


def test_a_symbolic_dim_must_reach_the_shift() -> None:
    pytest.importorskip("torch")
    from specc.backends.onnx_export import sizes_valid

    spec = specc.loads("specc: 1\ninputs:\n  x: [B, T, 4]\nlayers:\n  - {type: Roll, shifts: -5, dims: 1}\n", "r.yaml")
    valid = sizes_valid(spec)
    assert valid({"B": 2, "T": 5}) and not valid({"B": 2, "T": 4})


def test_layer_scale_starts_at_init_values() -> None:
    torch = pytest.importorskip("torch")
    from specc.backends.torch_build import build_module

    spec = specc.loads("specc: 1\ninputs:\n  x: [B, 4, H, W]\nlayers:\n"
                       "  - {type: LayerScale, dim: 1, init_values: 0.1, bias: true}\n", "s.yaml")
    assert spec.check()["total_params"] == 8
    built = build_module(spec)
    x = torch.randn(2, 4, 3, 5)
    with torch.no_grad():
        torch.testing.assert_close(built(x), 0.1 * x)
