"""Size formulas of one symbol: the canonical form two layers that halve alike share, and the
exact rule for where two formulas agree, checked against every size up to a bound; what check
does with it (merges, hints, lint L020) against what PyTorch computes."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import pytest

import specc
from specc.shapes.dims import Dim, DimLike, add, agreement, evaluate, floordiv, mul, same_size, sym

H = sym("H")


def _random_size(rng: random.Random, depth: int = 3) -> DimLike:
    """What a chain of convs, pools, upsampling and pads makes of H."""
    d: DimLike = H
    for _ in range(rng.randint(1, depth)):
        step = rng.choice(("conv", "up", "pad", "ceil"))
        k, s, p = rng.randint(1, 4), rng.randint(1, 3), rng.randint(0, 2)
        if step == "conv":
            d = add(floordiv(add(d, 2 * p - k), s), 1)
        elif step == "ceil":
            d = add(floordiv(add(d, 2 * p - k + s - 1), s), 1)
        elif step == "up":
            d = mul(d, s)
        else:
            d = add(d, p)
    return d


def test_halving_alike_gives_one_formula() -> None:
    assert add(floordiv(add(H, -2), 2), 1) == floordiv(H, 2)  # MaxPool2d(2) and Upsample(0.5)
    assert add(floordiv(add(H, -1), 2), 1) == floordiv(add(H, 1), 2)  # conv k3 s2 p1 and ceil(H/2)
    assert str(add(floordiv(add(H, -4), 4), 0)) == "floor(H/4) - 1"


@pytest.mark.parametrize("seed", range(300))
def test_agreement_is_exact_at_every_size(seed: int) -> None:
    rng = random.Random(seed)
    x = _random_size(rng)
    y = H if rng.random() < 0.5 else _random_size(rng)
    found = agreement(x, y)
    if not isinstance(x, Dim) and not isinstance(y, Dim):
        return
    assert found is not None
    for v in range(-40, 400):
        assert (evaluate(x, {"H": v}) == evaluate(y, {"H": v})) == found.holds(v), (str(x), str(y), v, found)
    assert same_size(x, y) == all(evaluate(x, {"H": v}) == evaluate(y, {"H": v}) for v in range(-40, 400))


def test_formulas_that_differ_in_form_but_never_in_value_are_the_same_size() -> None:
    assert floordiv(add(H, 1), 2) != add(H, mul(floordiv(H, 2), -1))
    assert same_size(floordiv(add(H, 1), 2), add(H, mul(floordiv(H, 2), -1)))
    assert agreement(mul(floordiv(H, 2), 2), H).text() == "H is even"
    assert agreement(mul(floordiv(add(H, 3), 4), 4), H).text() == "H is a multiple of 4"
    assert agreement(add(H, -4), H).residues == frozenset()
    assert agreement(mul(H, sym("B")), H) is None  # two symbols: not decided here


def test_residues_in_a_run_read_as_its_ends() -> None:
    # a Pix2Pix U-Net at a symbolic size: its 1x1 bottleneck doubled meets the 2x2 skip only where
    # H % 256 < 128; the hint named all 128 residues one by one
    assert agreement(floordiv(H, 128), mul(floordiv(H, 256), 2)).text() == "H % 256 is 0 to 127"
    assert agreement(floordiv(H, 4), mul(floordiv(H, 8), 2)).text() == "H % 8 is 0 to 3"
    assert agreement(floordiv(H, 2), mul(floordiv(H, 4), 2)).text() == "H % 4 is 0 or 1"


def _spec(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_a_merge_of_two_halvings_with_different_formulas_checks_and_runs(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from specc.backends.torch_build import build_module

    spec = specc.load(_spec(tmp_path, """\
        specc: 1
        name: Halves
        inputs:
          x: [B, 4, H, W]
        layers:
          - {type: MaxPool2d, from: x, kernel_size: 2, name: a}
          - {type: Upsample, from: x, scale_factor: 0.5, mode: nearest, name: b}
          - {type: Concat, from: [a, b], name: both}
        """))
    assert spec.ok, spec.diagnostics
    module = build_module(spec).eval()
    for h, w in ((7, 9), (8, 5), (13, 16)):
        out = module(torch.zeros(1, 4, h, w))
        assert tuple(out.shape) == (1, 8, h // 2, w // 2)


def test_a_symbolic_unet_is_told_where_its_skip_fits(tmp_path: Path) -> None:
    spec = specc.load(_spec(tmp_path, """\
        specc: 1
        name: UNetSym
        inputs:
          image: [B, 1, H, W]
        layers:
          - {type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1, name: e1}
          - {type: MaxPool2d, kernel_size: 2}
          - {type: MaxPool2d, kernel_size: 2}
          - {type: Conv2d, out_channels: 16, kernel_size: 3, padding: 1}
          - {type: ConvTranspose2d, out_channels: 8, kernel_size: 4, stride: 4, name: up}
          - {type: Concat, from: [up, e1]}
        """))
    (d,) = [d for d in spec.diagnostics if d.severity == "error"]
    assert d.code == "S010" and d.loc.line == 11
    assert "4*floor(H/4) and H are equal only when H is a multiple of 4 (at H = 9 they are 8 and 9)" in d.hint
    assert "such as 32" in d.hint


def _drift(tmp_path: Path, last: str, shape: str = "[B, 3, H, W]") -> list:
    spec = specc.load(_spec(tmp_path, f"""\
        specc: 1
        name: Gen
        inputs:
          image: {shape}
        layers:
          - {{type: Conv2d, out_channels: 16, kernel_size: 3, stride: 2, padding: 1}}
          - {{type: ReLU}}
          - {{type: Conv2d, out_channels: 16, kernel_size: 3, stride: 2, padding: 1}}
          - {{type: ReLU}}
          - {last}
        """))
    assert spec.ok
    return [d for d in spec.diagnostics if d.code == "L020"]


def test_l020_an_output_that_is_the_input_size_only_at_multiples(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    (d,) = _drift(tmp_path, "{type: ConvTranspose2d, out_channels: 3, kernel_size: 4, stride: 4, name: fake}")
    assert d.loc.line == 10
    assert "height 4*floor((H + 3)/4), equal to H of input 'image' only when H is a multiple of 4" in d.message
    assert "(at H = 9 it is 12)" in d.message and "such as 256" in d.hint
    from specc.backends.torch_build import build_module  # the number in the message is PyTorch's

    spec = specc.load(tmp_path / "net.yaml")
    assert build_module(spec)(torch.zeros(1, 3, 9, 9)).shape[-2] == 12


def test_l020_stays_quiet_where_the_size_is_kept_or_is_its_own(tmp_path: Path) -> None:
    assert not _drift(tmp_path, "{type: Upsample, size: [32, 32], name: fixed}")  # not a formula of H
    assert not _drift(tmp_path, "{type: Conv2d, out_channels: 3, kernel_size: 1, name: small}")  # never H
    assert not _drift(tmp_path, "{type: ConvTranspose2d, out_channels: 3, kernel_size: 4, stride: 4, name: f}",
                      "[B, 3, 64, 64]")  # fixed sizes: nothing to drift


def test_a_period_past_the_cap_is_left_undecided() -> None:
    d: DimLike = H
    for _ in range(12):  # twelve poolings by 4: one floor of period 4**12, which the classes would take long on
        d = floordiv(add(d, 1), 4)
    assert agreement(mul(d, 4**12), H) is None
    assert not same_size(mul(d, 4**12), H)
