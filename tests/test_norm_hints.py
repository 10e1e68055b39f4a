"""LayerNorm written for a feature map of any size: the S005 hint names the norm that was meant,
and that norm checks and computes what the hint says."""

from __future__ import annotations

import pytest

import specc
from specc.diagnostics import Diagnostic

HEAD = ("specc: 1\ninputs:\n  image: [B, 3, H, W]\nlayers:\n"
        "  - {type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1}\n")


def _error(norm: str) -> Diagnostic:
    spec = specc.loads(HEAD + f"  - {norm}\n", "ln.yaml")
    [d] = spec.errors
    return d


def test_layer_norm_over_a_whole_map_of_any_size_points_at_group_norm() -> None:
    d = _error("{type: LayerNorm, normalized_shape: [8, 16, 16]}")
    assert d.code == "S005" and "{type: GroupNorm, num_groups: 1}" in d.hint
    fixed = specc.loads(HEAD + "  - {type: GroupNorm, num_groups: 1}\n", "gn.yaml")
    assert fixed.ok, [x.message for x in fixed.errors]


def test_layer_norm_of_the_channels_of_a_map_of_any_size_points_at_a_permute() -> None:
    d = _error("{type: LayerNorm, normalized_shape: 8}")
    assert d.code == "S005" and "Permute to channels-last" in d.hint


def test_layer_norm_of_another_width_keeps_the_plain_hint() -> None:
    d = _error("{type: LayerNorm, normalized_shape: 5}")
    assert d.code == "S005" and "GroupNorm" not in d.hint and "Permute" not in d.hint


def test_group_norm_of_one_group_normalises_as_layer_norm_over_chw() -> None:
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 8, 5, 7)
    gn = torch.nn.GroupNorm(1, 8, affine=False)
    ln = torch.nn.LayerNorm([8, 5, 7], elementwise_affine=False)
    assert torch.allclose(gn(x), ln(x), atol=1e-5)
