"""Every layer kind against real PyTorch.

For each case in ``layer_cases.CASES``: the spec's inferred output shape (evaluated at two
values of each symbolic dim), parameter and buffer counts must equal those of a PyTorch
module written by hand in the case table, and of the module specc's own ``torch_init`` /
``torch_forward`` produce.  Hypothesis checks the conv/pool formulas against PyTorch over
random kernels, strides, paddings, dilations and sizes, and that specc reports an error
exactly when PyTorch fails.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from layer_cases import CASES, Case
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

import specc
from specc.backends.torch_build import build_module
from specc.diagnostics import render_text
from specc.graph.ir import Node
from specc.layers import REGISTRY
from specc.layers.conv import window_sizes
from specc.shapes.dims import evaluate
from specc.targets.torch import support
from specc.targets.torch.export_limits import ceil_padding_problem
from specc.targets.torch.kinds import LOWERINGS
from specc.targets.torch.lower import forward_expr, init_expr, support_texts

torch.set_num_threads(1)


def _spec_node(text: str) -> Node:
    spec = specc.loads(text)
    assert spec.ok, "\n".join(render_text(d) for d in spec.errors)
    assert spec.graph is not None
    node = spec.graph.nodes[-1]
    assert node.result is not None
    return node


def _count(tensors: Any) -> int:
    return sum(t.numel() for t in tensors)


def _emitted(node: Node) -> tuple[nn.Module | None, str, dict[str, Any]]:
    """The constructor and forward expression specc would write, evaluated."""
    kind, args = node.kind, node.result.args
    assert kind is not None
    ns: dict[str, Any] = {"torch": torch, "nn": nn, "F": F, "math": math}
    for code in support_texts(kind, args):
        exec(code, ns)
    init = init_expr(kind, args)
    module = eval(init, ns) if init else None
    return module, forward_expr(kind, "m", list(node.inputs), args), ns


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_layer_matches_torch(case: Case) -> None:
    node = _spec_node(case.yaml())
    res = node.result
    assert node.type == case.kind
    oracle = case.oracle().eval()
    assert res.params == _count(oracle.parameters()), "params differ from the hand-written module"
    assert res.buffers == _count(oracle.buffers()), "buffers differ from the hand-written module"
    module, expr, ns = _emitted(node)
    if module is not None:
        module.eval()
        assert _count(module.parameters()) == res.params, f"emitted {init_expr(node.kind, res.args)}"
        assert _count(module.buffers()) == res.buffers
    # A layer that reads what earlier layers give (a MaxUnpool) runs in the model specc builds.
    model = build_module(specc.loads(case.yaml())).eval() if case.before else None
    for env in case.envs:
        xs = case.tensors(env)
        with torch.no_grad():
            want = oracle(*[x.clone() for x in xs])
            got = model(*xs) if model is not None else \
                eval(expr, {**ns, "m": module, **{n: x.clone() for n, x in zip(node.inputs, xs)}})
        outs = res.outs or (res.out,)  # a Split's parts, one by one
        wants, gots = (want, got) if res.outs else ((want,), (got,))
        assert len(wants) == len(gots) == len(outs), f"specc says {len(outs)} outputs"
        for t, want, got in zip(outs, wants, gots):
            shape = tuple(evaluate(d, env) for d in t.shape)
            assert tuple(want.shape) == shape, f"specc says {t} at {env}"
            assert tuple(got.shape) == shape, f"emitted `{expr}` gives {tuple(got.shape)}"
            assert _dtype(want) == _dtype(got) == t.dtype
            if res.params == 0 and not res.buffers:
                assert torch.allclose(got.double(), want.double(), atol=1e-6), f"emitted `{expr}` computes otherwise"


def test_every_kind_has_a_case() -> None:
    covered = {c.kind for c in CASES}
    missing = sorted(set(REGISTRY) - covered)
    assert not missing, f"add cases to tests/layer_cases.py for: {', '.join(missing)}"
    unknown = sorted(covered - set(REGISTRY))
    assert not unknown, f"cases name kinds that are not registered: {unknown}"
    for kind in REGISTRY:
        configs = {(c.layer, str(c.inputs)) for c in CASES if c.kind == kind}
        assert len(configs) >= 2, f"{kind} needs at least two configurations (layer settings or inputs)"


# -- formulas against PyTorch, randomised ----------------------------------------------------------

def _spec(layer: str, shape: list[Any]) -> specc.Spec:
    return specc.loads(f"specc: 1\ninputs: {{inp: [{', '.join(map(str, shape))}]}}\nlayers:\n  - {layer}\n")


def _torch_shape(f: Any) -> tuple[int, ...] | None:
    """PyTorch's output shape, or None when it fails.  Some kernels (transposed convs on some
    sizes) return an empty tensor where others raise; specc reports S002 for both."""
    try:
        with torch.no_grad():
            shape = tuple(f().shape)
    except (RuntimeError, ValueError):
        return None
    return shape if all(shape) else None


def _check(layer: str, sizes: list[int], channels: int, run: Any) -> None:
    """specc agrees with PyTorch on concrete sizes, and its symbolic formula evaluates the same."""
    want = _torch_shape(run)
    fixed = _spec(layer, [2, channels, *sizes])
    if want is None:
        assert not fixed.ok, f"PyTorch fails but specc accepts {layer} on {sizes}"
        assert fixed.errors[0].code == "S002", render_text(fixed.errors[0])
    else:
        assert fixed.ok, "\n".join(render_text(d) for d in fixed.errors)
        assert fixed.graph.nodes[-1].out.shape == want
    names = ["L", "H", "W"][: len(sizes)] if len(sizes) == 1 else ["D", "H", "W"][3 - len(sizes):]
    symbolic = _spec(layer, ["B", channels, *names])
    assert symbolic.ok
    out = symbolic.graph.nodes[-1].out.shape
    env = {"B": 2, **dict(zip(names, sizes))}
    got = tuple(evaluate(d, env) for d in out)
    if want is None:
        assert min(got[2:]) <= 0, f"{layer}: symbolic {out} is positive at {env} where PyTorch fails"
    else:
        assert got == want, f"{layer}: symbolic {out} at {env} is {got}, PyTorch {want}"


def _tup(v: list[int]) -> str:
    return "[" + ", ".join(map(str, v)) + "]"


pool_dims = st.integers(1, 2).flatmap(lambda r: st.lists(st.tuples(
    st.integers(1, 5), st.integers(1, 4), st.integers(1, 3), st.integers(1, 14)), min_size=r, max_size=r))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dims=pool_dims, data=st.data(), ceil=st.booleans(), kind=st.sampled_from(["Max", "Avg"]))
def test_pool_formula_matches_torch(dims: list[tuple[int, int, int, int]], data: st.DataObject, ceil: bool,
                                    kind: str) -> None:
    k = [d[0] for d in dims]
    s = [d[1] for d in dims]
    dil = [d[2] if kind == "Max" else 1 for d in dims]
    sizes = [d[3] for d in dims]
    p = [data.draw(st.integers(0, ki // 2)) for ki in k]
    r = len(dims)
    extra = f", dilation: {_tup(dil)}" if kind == "Max" else ""
    layer = (f"{{type: {kind}Pool{r}d, kernel_size: {_tup(k)}, stride: {_tup(s)}, padding: {_tup(p)}, "
             f"ceil_mode: {str(ceil).lower()}{extra}}}")
    x = torch.zeros(2, 3, *sizes)
    if kind == "Max":
        module: nn.Module = getattr(nn, f"MaxPool{r}d")(k, s, p, dilation=dil, ceil_mode=ceil)
    else:
        module = getattr(nn, f"AvgPool{r}d")(k, s, p, ceil_mode=ceil)
    args = {"kernel_size": k, "stride": s, "padding": p, "dilation": dil, "ceil_mode": ceil}
    if ceil_padding_problem(args) is not None:
        # check refuses these (U002: the exported model keeps a window PyTorch drops); the formula
        # itself must still be PyTorch's, so it is compared directly
        try:
            want = tuple(module(x).shape[2:])
        except RuntimeError:
            return
        got = window_sizes(tuple(sizes), tuple(k), tuple(s), tuple(p), tuple(dil), True, tuple(ki // 2 for ki in k))
        assert got == want, (layer, sizes)
        return
    _check(layer, sizes, 3, lambda: module(x))


conv_dims = st.integers(1, 2).flatmap(lambda r: st.lists(st.tuples(
    st.integers(1, 5), st.integers(1, 3), st.integers(0, 3), st.integers(1, 3), st.integers(1, 12)),
    min_size=r, max_size=r))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dims=conv_dims, groups=st.sampled_from([1, 2]))
def test_conv_formula_matches_torch(dims: list[tuple[int, int, int, int, int]], groups: int) -> None:
    k, s, p, d, sizes = ([t[i] for t in dims] for i in range(5))
    r = len(dims)
    layer = (f"{{type: Conv{r}d, out_channels: 4, kernel_size: {_tup(k)}, stride: {_tup(s)}, padding: {_tup(p)}, "
             f"dilation: {_tup(d)}, groups: {groups}}}")
    module = getattr(nn, f"Conv{r}d")(2, 4, k, s, p, d, groups)
    x = torch.zeros(2, 2, *sizes)
    _check(layer, sizes, 2, lambda: module(x))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dims=conv_dims, data=st.data())
def test_conv_transpose_formula_matches_torch(dims: list[tuple[int, int, int, int, int]],
                                              data: st.DataObject) -> None:
    k, s, p, d, sizes = ([t[i] for t in dims] for i in range(5))
    op = [data.draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d)]
    r = len(dims)
    layer = (f"{{type: ConvTranspose{r}d, out_channels: 2, kernel_size: {_tup(k)}, stride: {_tup(s)}, "
             f"padding: {_tup(p)}, output_padding: {_tup(op)}, dilation: {_tup(d)}}}")
    module = getattr(nn, f"ConvTranspose{r}d")(3, 2, k, s, p, op, dilation=d)
    x = torch.zeros(2, 3, *sizes)
    _check(layer, sizes, 3, lambda: module(x))


# -- errors exactly where PyTorch fails, with the fixing number in the hint -------------------------

def _x(*shape: int) -> torch.Tensor:
    return torch.zeros(*shape)


ERRORS: list[tuple[str, list[Any], str, str, Any]] = [
    # (layer(s), input shape, code, text the hint must contain, what PyTorch does with it)
    ("{type: Conv2d, out_channels: 4, kernel_size: 5}", [2, 2, 3, 3], "S002", "kernel_size: 3",
     lambda: nn.Conv2d(2, 4, 5)(_x(2, 2, 3, 3))),
    ("{type: Conv1d, out_channels: 4, kernel_size: 5, dilation: 2}", [2, 2, 6], "S002", "padding: 2",
     lambda: nn.Conv1d(2, 4, 5, dilation=2)(_x(2, 2, 6))),
    ("{type: Conv2d, out_channels: 8, kernel_size: 3, groups: 4}", [2, 6, 8, 8], "S004", "e.g. 2",
     lambda: nn.Conv2d(6, 8, 3, groups=4)),
    ("{type: Conv1d, out_channels: 4, kernel_size: 3, padding: 3, padding_mode: reflect}", [2, 2, 3], "S002",
     "at most 2", lambda: nn.Conv1d(2, 4, 3, padding=3, padding_mode="reflect")(_x(2, 2, 3))),
    ("{type: Conv1d, out_channels: 4, kernel_size: 3, padding: 3, padding_mode: circular}", [2, 2, 2], "S002",
     "at most 2", lambda: nn.Conv1d(2, 4, 3, padding=3, padding_mode="circular")(_x(2, 2, 2))),
    ("{type: Conv2d, out_channels: 4, kernel_size: 3, stride: 2, padding: same}", [2, 2, 8, 8], "V003",
     "padding: 1", lambda: nn.Conv2d(2, 4, 3, stride=2, padding="same")),
    ("{type: ConvTranspose1d, out_channels: 2, kernel_size: 1, padding: 1}", [2, 3, 2], "S002", "padding: 0",
     lambda: nn.ConvTranspose1d(3, 2, 1, padding=1)(_x(2, 3, 2))),
    ("{type: ConvTranspose2d, out_channels: 2, kernel_size: 3, stride: 2, output_padding: 2}", [2, 3, 4, 4],
     "V003", "< 2", lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, output_padding=2)(_x(2, 3, 4, 4))),
    ("{type: MaxPool2d, kernel_size: 3, padding: 2}", [2, 3, 8, 8], "V003", "padding: 1",
     lambda: nn.MaxPool2d(3, padding=2)(_x(2, 3, 8, 8))),
    ("{type: MaxPool1d, kernel_size: 3, padding: 2, dilation: 3}", [2, 3, 9], "V003", "padding: 1",
     lambda: nn.MaxPool1d(3, padding=2, dilation=3)(_x(2, 3, 9))),
    ("{type: AvgPool3d, kernel_size: [3, 2, 2], padding: [1, 2, 0]}", [2, 1, 4, 4, 4], "V003", "padding: 1",
     lambda: nn.AvgPool3d((3, 2, 2), padding=(1, 2, 0))(_x(2, 1, 4, 4, 4))),
    ("{type: MaxPool1d, kernel_size: 4}", [2, 3, 2], "S002", "at least 4",
     lambda: nn.MaxPool1d(4)(_x(2, 3, 2))),
    ("{type: MaxPool2d, kernel_size: 3, dilation: 3}", [2, 3, 6, 9], "S002", "at least 7",
     lambda: nn.MaxPool2d(3, dilation=3)(_x(2, 3, 6, 9))),
    ("{type: AvgPool2d, kernel_size: 5, stride: 2, ceil_mode: true}", [2, 3, 3, 8], "S002", "kernel_size: 3",
     lambda: nn.AvgPool2d(5, 2, ceil_mode=True)(_x(2, 3, 3, 8))),
    ("{type: AdaptiveAvgPool2d, output_size: [1, 2, 3]}", [2, 3, 8, 8], "V003", "2",
     lambda: nn.AdaptiveAvgPool2d((1, 2, 3))(_x(2, 3, 8, 8))),
    ("{type: GroupNorm, num_groups: 5}", [2, 6, 4], "S004", "num_groups: 6",
     lambda: nn.GroupNorm(5, 6)),
    ("{type: BatchNorm2d, num_features: 4}", [2, 3, 4, 4], "S001", "num_features: 3",
     lambda: nn.BatchNorm2d(4)(_x(2, 3, 4, 4))),
    ("{type: BatchNorm1d}", [2, 3, 4, 4], "S003", "(N, C)", lambda: nn.BatchNorm1d(3)(_x(2, 3, 4, 4))),
    ("{type: InstanceNorm1d}", [2, 3, 4, 4], "S003", "(N, C, L)", lambda: nn.InstanceNorm1d(3)(_x(2, 3, 4, 4))),
    ("{type: LayerNorm, normalized_shape: [4, 6]}", [2, 3, 4, 5], "S001", "normalized_shape: [4, 5]",
     lambda: nn.LayerNorm([4, 6])(_x(2, 3, 4, 5))),
    ("{type: Dropout, p: 1.5}", [2, 3], "V003", "0.5", lambda: nn.Dropout(1.5)),
    ("{type: Dropout2d, p: -0.1}", [2, 3, 4, 4], "V003", "0.5", lambda: nn.Dropout2d(-0.1)),
    ("{type: Flatten, start_dim: 2, end_dim: 1}", [2, 3, 4], "S008", "start_dim: 1, end_dim: 2",
     lambda: nn.Flatten(2, 1)(_x(2, 3, 4))),
    ("{type: Flatten, start_dim: 3}", [2, 3, 4], "S008", "2", lambda: nn.Flatten(3)(_x(2, 3, 4))),
    ("{type: Unflatten, dim: 1, unflattened_size: [5, 3]}", [2, 16], "S009", "16",
     lambda: nn.Unflatten(1, (5, 3))(_x(2, 16))),
    ("{type: Unflatten, dim: 1, unflattened_size: [-1, 5]}", [2, 12], "S009", "1, 2, 3, 4, 6, 12",
     lambda: nn.Unflatten(1, (-1, 5))(_x(2, 12))),
    ("{type: Reshape, shape: [2, 3, 16, 8, 3]}", [2, 3, 16, 16], "S009", "use 2 for entry 4",
     lambda: _x(2, 3, 16, 16).reshape(2, 3, 16, 8, 3)),
    ("{type: Reshape, shape: [-1, 5]}", [2, 3, 4], "S009", "divisor of 24",
     lambda: _x(2, 3, 4).reshape(-1, 5)),
    ("{type: Reshape, shape: [-1, -1]}", [2, 3, 4], "V003", "-1", lambda: _x(2, 3, 4).reshape(-1, -1)),
    ("{type: Permute, dims: [0, 2, 2]}", [2, 3, 4], "S008", "0..2", lambda: _x(2, 3, 4).permute(0, 2, 2)),
    ("{type: Permute, dims: [0, 1]}", [2, 3, 4], "S008", "0..2", lambda: _x(2, 3, 4).permute(0, 1)),
    ("{type: Transpose, dim0: 1, dim1: 3}", [2, 3, 4], "S008", "-3 to 2", lambda: _x(2, 3, 4).transpose(1, 3)),
    ("{type: Unsqueeze, dim: 4}", [2, 3, 4], "S008", "-4 to 3", lambda: _x(2, 3, 4).unsqueeze(4)),
    ("{type: Reduce, op: sum, dim: [1, -2]}", [2, 3, 4], "S008", "[1]", lambda: _x(2, 3, 4).sum(dim=(1, -2))),
    ("{type: Mean, dim: 3}", [2, 3, 4], "S008", "-3 to 2", lambda: _x(2, 3, 4).mean(dim=3)),
    ("{type: Conv2d, out_channels: 4, kernel_size: 3}", [2, 12], "S003", "Unflatten",
     lambda: nn.Conv2d(3, 4, 3)(_x(2, 12))),
    ("{type: DepthwiseConv2d, kernel_size: 5}", [2, 4, 3, 3], "S002", "kernel_size: 3",
     lambda: nn.Conv2d(4, 4, 5, groups=4)(_x(2, 4, 3, 3))),
    ("{type: DepthwiseConv2d, kernel_size: 3, out_channels: 12}", [2, 8, 6, 6], "S004", "out_channels: 8 or 16",
     lambda: nn.Conv2d(8, 12, 3, groups=8)),
    ("{type: DepthwiseConv1d, kernel_size: 3, in_channels: 4}", [2, 8, 6], "S001", "in_channels: 8",
     lambda: nn.Conv1d(4, 4, 3, groups=4)(_x(2, 8, 6))),
    ("{type: SeparableConv2d, out_channels: 8, kernel_size: 3, stride: 2, padding: same}", [2, 4, 8, 8], "V003",
     "padding: 1", lambda: nn.Conv2d(4, 4, 3, stride=2, padding="same", groups=4)),
    ("{type: SeparableConv1d, out_channels: 8, kernel_size: 3, padding: 2, padding_mode: reflect}", [2, 4, 2],
     "S002", "at most 1", lambda: nn.Conv1d(4, 4, 3, padding=2, padding_mode="reflect", groups=4)(_x(2, 4, 2))),
    ("{type: ClassToken, d_model: 6}", [2, 5, 8], "S001", "d_model: 8",
     lambda: torch.cat([torch.zeros(2, 1, 6), _x(2, 5, 8)], dim=1)),
    ("{type: ClassToken}", [2, 8, 4, 4], "S003", "Transpose, dim0: 1, dim1: 2",
     lambda: torch.cat([torch.zeros(2, 1, 4), _x(2, 8, 4, 4)], dim=1)),
    ("{type: Slice, dim: 3, stop: 1}", [2, 3, 4], "S008", "-3 to 2", lambda: _x(2, 3, 4)[:, :, :, :1]),
    ("{type: Conv2d, out_channels: 4, kernel_size: 3, spectral_norm: {dim: 4}}", [2, 3, 8, 8], "V052", "from 0 to 3",
     lambda: spectral_norm(nn.Conv2d(3, 4, 3), dim=4)),
    ("{type: Linear, out_features: 4, weight_norm: {dim: 2}}", [2, 3], "V052", "from 0 to 1",
     lambda: weight_norm(nn.Linear(3, 4), dim=2)(_x(2, 3))),
    ("{type: Linear, out_features: 4, spectral_norm: {n_power_iterations: 0}}", [2, 3], "V003",
     "n_power_iterations: 1", lambda: spectral_norm(nn.Linear(3, 4), n_power_iterations=0)),
]


@pytest.mark.parametrize("layer, shape, code, fix, run", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_exactly_where_torch_fails(layer: str, shape: list[Any], code: str, fix: str, run: Any) -> None:
    with pytest.raises((RuntimeError, ValueError, IndexError, TypeError)), torch.no_grad():
        run()
    _refused_at_the_layer(layer, shape, code, fix)


def _refused_at_the_layer(layer: str, shape: list[Any], code: str, fix: str) -> None:
    spec = _spec(layer, shape)
    assert not spec.ok
    err = spec.errors[0]
    assert err.code == code, render_text(err)
    assert err.hint and fix in err.hint, render_text(err)
    assert err.loc is not None and err.loc.line == 4, "the error points into the layer"


def test_flatten_note_reaches_linear_hint() -> None:
    spec = specc.loads("specc: 1\ninputs: {image: [B, 128, 12, 12]}\nlayers:\n  - {type: Flatten}\n"
                       "  - {type: Linear, in_features: 1000, out_features: 10}\n")
    with pytest.raises(RuntimeError):
        nn.Linear(1000, 10)(torch.zeros(2, 128, 12, 12).flatten(1))
    (err,) = spec.errors
    assert err.code == "S001" and "in_features: 18432 (= 128·12·12)" in (err.hint or "")


def test_symbolic_reshape_stays_batch_free() -> None:
    node = _spec_node("specc: 1\ninputs: {seq: [B, T, 64]}\nlayers:\n  - {type: Reshape, shape: [B, T, 4, -1]}\n")
    assert forward_expr(node.kind, "m", ["seq"], node.result.args) == "seq.reshape(seq.shape[0], seq.shape[1], 4, -1)"
    spec = _spec("{type: Reshape, shape: [2, 4, 4, 4]}", ["B", 4, 4, 4])
    assert spec.errors[0].code == "S009" and "use B for entry 0" in (spec.errors[0].hint or "")


def test_squeeze_refuses_a_dim_that_is_not_one() -> None:
    # PyTorch silently leaves a non-1 dim alone, so the rank after Squeeze would depend on data;
    # specc insists on a dim that is 1 in the spec (a deliberate difference from PyTorch).
    assert _x(2, 3).squeeze(1).shape == (2, 3)
    for shape in ([2, 3], ["B", "T"]):
        spec = _spec("{type: Squeeze, dim: 1}", shape)
        assert spec.errors[0].code == "S008"


def test_macs_follow_the_documented_conventions() -> None:
    def macs(layer: str, shape: list[Any]) -> Any:
        return _spec_node(f"specc: 1\ninputs: {{inp: [{', '.join(map(str, shape))}]}}\nlayers:\n  - {layer}\n"
                          ).result.macs
    assert macs("{type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1}", [1, 4, 6, 6]) == 6 * 6 * 8 * 4 * 9
    assert macs("{type: MaxPool2d, kernel_size: 2}", [1, 4, 6, 6]) == 4 * 3 * 3 * 4  # outputs × window
    assert macs("{type: AdaptiveAvgPool2d, output_size: 1}", [1, 4, 6, 6]) == 4 * 6 * 6  # inputs
    assert macs("{type: BatchNorm2d}", [1, 4, 6, 6]) == 2 * 4 * 6 * 6
    assert macs("{type: LayerNorm}", [1, 4, 6]) == 5 * 4 * 6
    assert macs("{type: Flatten}", [1, 4, 6]) == 0
    assert macs("{type: Dropout}", [1, 4, 6]) == 0


# -- Slice: PyTorch clamps an index beyond the dim; specc refuses it ---------------------------------

SLICE_ERRORS: list[tuple[str, list[Any], str, str]] = [
    # (layer, input shape, code, text the hint must contain)
    ("{type: Slice, dim: 1, stop: 9}", [2, 8, 3], "S008", "stop: null"),
    ("{type: Slice, dim: 1, stop: -9}", [2, 8, 3], "S008", "from -8 to 8"),
    ("{type: Slice, dim: -1, start: 3}", [2, 8, 3], "S008", "from -3 to 2"),
    ("{type: Slice, dim: 1, start: 5, stop: 3}", [2, 8, 3], "S002", "stop after 5"),
    ("{type: Slice, dim: 1, start: -2, stop: -3}", [2, 8, 3], "S002", "stop after 6"),
    ("{type: Slice, dim: 1, start: 3, stop: 3}", [2, "T", 3], "S002", "stop of 4 or more"),
    ("{type: Slice, dim: 1, start: -2, stop: -4}", [2, "T", 3], "S002", "stop from -1 to -1"),
    ("{type: Slice, dim: 1, start: -1, stop: -1}", [2, "T", 3], "S002", "stop: null"),
    ("{type: Slice, dim: 1, start: -3, stop: 2}", [2, "T", 3], "S005", "same end"),
]


@pytest.mark.parametrize("layer, shape, code, fix", SLICE_ERRORS, ids=[f"{e[0]}{e[1]}" for e in SLICE_ERRORS])
def test_slice_refuses_what_python_would_clamp(layer: str, shape: list[Any], code: str, fix: str) -> None:
    spec = _spec(layer, shape)
    assert not spec.ok
    err = spec.errors[0]
    assert err.code == code and fix in (err.hint or ""), render_text(err)
    assert err.loc is not None and err.loc.line == 4
    key = "start: " if "start 3 is" in err.message else "stop: "
    assert err.loc.col == 4 + layer.index(key) + len(key) + 1, "points at the value: " + render_text(err)


def test_slice_of_a_symbolic_dim_is_exact_for_every_size() -> None:
    # PyTorch's x[:, a:b:s] against specc's formula, at many lengths and settings.
    for start, stop, step in [(0, None, 2), (1, -1, 1), (2, -1, 3), (-4, None, 1), (-5, -2, 2), (1, 4, 2)]:
        fields = f"start: {start}, stop: {'null' if stop is None else stop}, step: {step}"
        out = _spec(f"{{type: Slice, dim: 2, {fields}}}", ["B", 3, "T"]).graph.nodes[-1].out
        for t in range(5, 14):
            want = _x(2, 3, t)[:, :, start:stop:step].shape
            assert tuple(evaluate(d, {"B": 2, "T": t}) for d in out.shape) == tuple(want), (fields, t)


# -- whole specs: GLU, ShuffleNetV2's channel split, ViT's class token -----------------------------------

def _build(text: str) -> nn.Module:
    spec = specc.loads(text)
    assert spec.ok, "\n".join(render_text(d) for d in spec.diagnostics)
    return specc.build(spec, seed=0).eval()


GLU = """\
specc: 1
name: GLU
inputs:
  x: [B, T, 8]
layers:
  - {type: Slice, dim: -1, stop: 4, name: a}
  - {type: Slice, dim: -1, start: 4, from: x}
  - {type: Sigmoid, name: gate}
  - {type: Mul, from: [a, gate]}
"""


def test_glu_from_two_slices() -> None:
    model = _build(GLU)
    for b, t in ((2, 3), (3, 5)):
        x = torch.randn(b, t, 8)
        torch.testing.assert_close(model(x), F.glu(x, dim=-1))


SHUFFLE = """\
specc: 1
name: Shuffle
inputs:
  image: [B, 8, H, W]
blocks:
  ShuffleUnit:          # ShuffleNetV2, stride 1: half the channels pass, the other half is convolved
    args: {ch: 8}
    layers:
      - {type: Slice, dim: 1, stop: "${ch // 2}", name: keep}
      - {type: Slice, dim: 1, start: "${ch // 2}", from: input}
      - {type: Conv2d, out_channels: "${ch // 2}", kernel_size: 1, bias: false}
      - {type: BatchNorm2d}
      - {type: ReLU, inplace: true}
      - {type: DepthwiseConv2d, kernel_size: 3, padding: 1, bias: false}
      - {type: BatchNorm2d}
      - {type: Conv2d, out_channels: "${ch // 2}", kernel_size: 1, bias: false}
      - {type: BatchNorm2d}
      - {type: ReLU, inplace: true, name: branch}
      - {type: Concat, from: [keep, branch]}
      - {type: Reshape, shape: [B, 2, "${ch // 2}", H, W]}    # channel shuffle, 2 groups
      - {type: Transpose, dim0: 1, dim1: 2}
      - {type: Reshape, shape: [B, "${ch}", H, W]}
layers:
  - {type: ShuffleUnit, repeat: 2}
"""


class _ShuffleUnit(nn.Module):
    """torchvision's ShuffleNetV2 InvertedResidual at stride 1."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        half = ch // 2
        self.branch = nn.Sequential(
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
            nn.Conv2d(half, half, 3, padding=1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        out = torch.cat([x1, self.branch(x2)], dim=1)
        b, c, h, w = out.shape
        return out.view(b, 2, c // 2, h, w).transpose(1, 2).contiguous().view(b, c, h, w)


def test_shufflenet_channel_split_matches_torch() -> None:
    model = _build(SHUFFLE)
    torch.manual_seed(0)
    twin = nn.Sequential(_ShuffleUnit(8), _ShuffleUnit(8)).eval()
    for bn in twin.modules():
        if isinstance(bn, nn.BatchNorm2d):  # stats that make the comparison mean something
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    pairs = list(zip([*twin.parameters(), *twin.buffers()], [*model.parameters(), *model.buffers()]))
    assert len(pairs) == len(list(twin.state_dict()))
    with torch.no_grad():
        for src, dst in pairs:
            dst.copy_(src)
        for b, h, w in ((2, 5, 6), (1, 7, 4)):
            x = torch.randn(b, 8, h, w)
            torch.testing.assert_close(model(x), twin(x))


VIT_HEAD = """\
specc: 1
name: TinyViT
inputs:
  image: [B, 3, 8, 8]
layers:
  - {type: Conv2d, out_channels: 6, kernel_size: 4, stride: 4}
  - {type: Flatten, start_dim: 2}
  - {type: Transpose, dim0: 1, dim1: 2}                  # (B, 4, 6)
  - {type: ClassToken, name: cls}                         # (B, 5, 6)
  - {type: PositionalEncoding, kind: learned, max_len: 5}
  - {type: StochasticDepth, p: 0.5}
  - {type: Select, dim: 1, index: 0}                      # the class token's row
"""


def test_class_token_is_prepended_and_taken_back() -> None:
    model = _build(VIT_HEAD)
    with torch.no_grad():
        model.cls.token.normal_()  # type: ignore[union-attr]
        x = torch.randn(3, 3, 8, 8)
        pe = next(p for n, p in model.named_parameters() if n.endswith("pe"))
        want = model.cls.token[0, 0] + pe[0]  # type: ignore[union-attr,index]
        torch.testing.assert_close(model(x), want.expand(3, 6))
    spec = specc.loads(VIT_HEAD)
    assert spec.check()["total_params"] == (3 * 16 * 6 + 6) + 6 + 5 * 6


def test_stochastic_depth_drops_whole_rows_while_training() -> None:
    # the support module itself, whose text below its marker is what generated files carry
    from specc.targets.torch.support import stochastic_depth

    ns: dict[str, Any] = vars(stochastic_depth)
    x = torch.rand(4000, 3, 2) + 1
    torch.manual_seed(0)
    row = ns["StochasticDepth"](0.25).train()
    y = row(x)
    kept = (y != 0).flatten(1)
    assert (kept.all(1) | ~kept.any(1)).all(), "a row is dropped or kept whole"
    assert kept.all(1).float().mean().item() == pytest.approx(0.75, abs=0.03)
    torch.testing.assert_close(y[kept.all(1)], x[kept.all(1)] / 0.75)
    batch = ns["StochasticDepth"](0.5, "batch").train()
    outcomes = {bool((batch(x) != 0).all()) for _ in range(40)}
    assert outcomes == {True, False} and all(((o := batch(x)) == 0).all() or (o != 0).all() for _ in range(5))
    assert (ns["StochasticDepth"](1.0).train()(x) == 0).all()
    assert ns["StochasticDepth"](0.0).train()(x) is x
    assert row.eval()(x) is x


RUFF = Path(sys.executable).with_name("ruff")


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is not installed beside this python")
@pytest.mark.parametrize("type_name", ["SeparableConv2d", "ClassToken", "StochasticDepth", "Mamba"])
def test_support_code_is_formatted(type_name: str, tmp_path: Path) -> None:
    """Generated files are ruff-formatted at default settings; the support code must already be."""
    header = "import math\n\nimport torch\nfrom torch import nn\nfrom torch.nn import functional as F\n\n\n"
    code = "\n\n".join(support.text(name).strip() for name in LOWERINGS[type_name].support)
    (tmp_path / "support.py").write_text(header + code + "\n")
    for args in (["format", "--diff"], ["check", "--select", "E,F,W,B,UP", "--ignore", "B905,F401"]):
        done = subprocess.run([str(RUFF), *args, "--isolated", "."], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


SEPARABLE = """\
specc: 1
name: Separable
inputs:
  image: [B, 3, H, W]
layers:
  - {type: SeparableConv2d, out_channels: 8, kernel_size: 3, padding: 1, depth_multiplier: 2}
  - {type: DepthwiseConv2d, kernel_size: 3, stride: 2, padding: 1}
  - {type: Slice, dim: 1, start: 2, stop: -2}
  - {type: StochasticDepth, p: 0.2}
  - {type: Flatten, start_dim: 2}
  - {type: Transpose, dim0: 1, dim1: 2}
  - {type: ClassToken, num_tokens: 2}
  - {type: Select, dim: 1, index: 0}
export: {sizes: {H: 9, W: 8}}
"""


SUBPIXEL = """\
specc: 1
name: SubPixel
inputs:
  image: [B, 3, H, W]
layers:
  - {type: Conv2d, out_channels: 12, kernel_size: 3, padding: 1}
  - {type: PixelShuffle, upscale_factor: 2}
  - {type: PixelUnshuffle, downscale_factor: 2}
  - {type: Conv2d, out_channels: 4, kernel_size: 1}
  - {type: DepthToSpace, block_size: 2}
export: {sizes: {H: 9, W: 8}}
"""


@pytest.mark.parametrize("text", [SEPARABLE, SHUFFLE, SUBPIXEL],
                         ids=["separable-token-slice", "shufflenet", "subpixel"])
def test_new_kinds_export_to_onnx_with_dynamic_sizes(text: str, tmp_path: Path) -> None:
    from specc.backends.onnx_export import export_spec

    spec = specc.loads(text)
    assert spec.ok, "\n".join(render_text(d) for d in spec.diagnostics)
    result = export_spec(spec, tmp_path / "model.onnx")
    runs = result.verification.runs  # type: ignore[union-attr]
    assert len({r.env["B"] for r in runs}) >= 3 and len({r.env["H"] for r in runs}) >= 3


def test_pixel_shuffle_refuses_sizes_it_cannot_divide() -> None:
    """PyTorch raises at run time for these; check refuses them at the layer, with the fix."""
    channels = _spec("{type: PixelShuffle, upscale_factor: 2}", ["B", 6, 4, 4])
    (err,) = channels.errors
    assert err.code == "S004" and "6 is not divisible by upscale_factor² = 4" in err.message
    assert err.hint == "set out_channels of the layer before it to a multiple of 4 (4 or 8)"
    with pytest.raises(RuntimeError, match="divisible"):
        nn.PixelShuffle(2)(torch.zeros(1, 6, 4, 4))
    odd = _spec("{type: PixelUnshuffle, downscale_factor: 2}", ["B", 3, 5, 4])
    assert [e.code for e in odd.errors] == ["S004"] and "height 5" in odd.errors[0].message
    # a symbolic height may be odd at run time: refused unless it is provably a multiple
    free = _spec("{type: PixelUnshuffle, downscale_factor: 2}", ["B", 3, "H", 4])
    assert [e.code for e in free.errors] == ["S005"] and "give H a fixed size" in (free.errors[0].hint or "")
    assert _spec("{type: PixelUnshuffle, downscale_factor: 2}", ["B", 3, 4, 4]).ok
    rank = _spec("{type: PixelShuffle, upscale_factor: 2}", ["B", 8, 4])
    assert [e.code for e in rank.errors] == ["S003"]


# -- area A (issue 12): element-wise Sub/Div/Max/Min/Abs, Cast, Split/Chunk -------------------------

PARTS = """\
specc: 1
name: Parts
inputs:
  x: [B, 6, T]
  ids: {shape: [B, T], dtype: int64}
layers:
  - {type: Split, sizes: [2, 4], from: x, name: sp, names: [gate, value]}
  - {type: Chunk, chunks: 2, from: sp.value, name: halves}
  - {type: Sub, from: [halves.0, halves.1], name: diff}
  - {type: Abs, name: mag}
  - {type: Max, from: [mag, sp.gate], name: top}
  - {type: Min, from: [top, sp.0], name: low}
  - {type: Cast, dtype: float16, name: to16}
  - {type: Cast, dtype: float32, name: back}
  - {type: Div, from: [ids, ids], name: ratio}
  - {type: Cast, dtype: int64, from: back, name: whole}
  - {type: Permute, dims: [0, 2, 1], from: back, name: steps}
  - {type: Linear, out_features: 3, name: head}
outputs: [head, ratio, whole, halves.1]
export: {sizes: {T: 5}}
"""


def test_parts_export_to_onnx_at_several_sizes(tmp_path: Path) -> None:
    from specc.backends.onnx_export import export_spec

    spec = specc.loads(PARTS)
    assert spec.ok, "\n".join(render_text(d) for d in spec.diagnostics)
    assert [n for n, _ in spec.graph.outputs] == ["head", "ratio", "whole", "halves_1"]
    assert spec.graph.value("ratio").dtype == "float32" and spec.graph.value("whole").dtype == "int64"
    result = export_spec(spec, tmp_path / "model.onnx")
    runs = result.verification.runs  # type: ignore[union-attr]
    assert len({r.env["B"] for r in runs}) >= 3 and len({r.env["T"] for r in runs}) >= 3


@pytest.mark.parametrize(("layers", "code", "message", "hint"), [
    ("- {type: Split, sizes: [2, 3]}", "S016", "sizes [2, 3] add up to 5, but dim 1 of (B, 6) has 6",
     "use sizes: [2, 4]"),
    ("- {type: Split, size: 4}", "S016", "size 4 does not divide dim 1 of (B, 6) (size 6)",
     "use a size that divides 6 (1, 2, 3, 6), or sizes: [4, 2] to keep the remainder"),
    ("- {type: Chunk, chunks: 4}", "S016", "chunks: 4 does not divide dim 1 of (B, 6)", "(1, 2, 3, 6)"),
    ("- {type: Chunk, chunks: 2, dim: 0}", "S005", "the size of dim 0 that Chunk splits must be a fixed number",
     None),
    ("- {type: Chunk, chunks: 2, names: [a]}", "V003", "names: lists 1 names but the layer has 2 outputs",
     "give one name per output (2)"),
    ("- {type: Chunk, chunks: 2, name: c}\n  - {type: Linear, out_features: 2, from: c}", "S017",
     "reads 'c', but Chunk 'c' has 2 outputs", "read one of them: c.0, c.1"),
    ("- {type: Chunk, chunks: 2, name: c}\n  - {type: Abs}", "S017", "reads 'c', but Chunk 'c' has 2 outputs",
     "read one of them: c.0, c.1"),
    ("- {type: Chunk, chunks: 2, name: c, names: [l, r]}\n  - {type: Abs, from: c.2}", "G001",
     "Chunk 'c' has no output '2'", "its outputs are c.l, c.r"),
    ("- {type: Abs, name: a}\n  - {type: Abs, from: a.0}", "G001", "reads 'a.0', but Abs 'a' has one output",
     "read it as a"),
    ("- {type: Slice, dim: 1, stop: 4, name: inp2}\n  - {type: Sub, from: [inp, inp2]}", "S006",
     "Sub cannot combine input 1 (B, 6) with input 2 (B, 4)", None),
    ("- {type: Cast, dtype: bool, name: m}\n  - {type: Sub, from: [m, m]}", "S007",
     "input 1 is bool, but Sub works on numbers", "add - {type: Cast, dtype: float32} before the Sub"),
    ("- {type: Cast, dtype: float16}\n  - {type: Linear, out_features: 2}", "S018",
     "receives float16 data (B, 6), but its weights are float32", "add - {type: Cast, dtype: float32}"),
    ("- {type: Cast, dtype: int64}\n  - {type: Linear, out_features: 2}", "S007", "receives int64 data", None),
])
def test_parts_and_arithmetic_errors(layers: str, code: str, message: str, hint: str | None) -> None:
    text = f"specc: 1\ninputs: {{inp: [B, 6]}}\nlayers:\n  {layers}\n"
    errors = [d for d in specc.loads(text).diagnostics if d.severity == "error"]
    assert [e.code for e in errors] == [code], [render_text(e) for e in errors]
    assert message in errors[0].message
    assert errors[0].loc is not None and errors[0].loc.line >= 4
    if hint is not None:
        assert hint in (errors[0].hint or "")


def test_split_hints_pass_check_once_applied() -> None:
    """The fix S016 proposes is an edit: made, the spec checks."""
    spec = _spec("{type: Split, sizes: [2, 3]}", ["B", 6])
    fix = spec.errors[0].hint.removeprefix("use ")
    assert specc.loads(f"specc: 1\ninputs: {{inp: [B, 6]}}\nlayers:\n  - {{type: Split, {fix}}}\n").ok
    spec = _spec("{type: Split, size: 4}", ["B", 6])
    fix = spec.errors[0].hint.split(", or ")[-1].removesuffix(" to keep the remainder")
    assert specc.loads(f"specc: 1\ninputs: {{inp: [B, 6]}}\nlayers:\n  - {{type: Split, {fix}}}\n").ok


def test_outputs_read_a_split_by_part() -> None:
    whole = specc.loads("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Chunk, chunks: 2, name: c}\n"
                        "outputs: [c]\n")
    assert [(e.code, e.hint) for e in whole.errors] == [("S017", "list one of them: c.0, c.1")]
    last = specc.loads("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Chunk, chunks: 2, name: c}\n")
    assert last.ok and last.graph.outputs == [("c_0", "c.0"), ("c_1", "c.1")]
    summary = last.summary()
    assert "(B, 2) | (B, 2)" in summary.render()
    assert summary.to_json()["layers"][0]["output_shapes"] == [["B", 2], ["B", 2]]
    block = specc.loads("specc: 1\ninputs: {x: [B, 4]}\nblocks:\n  Halve:\n    layers:\n"
                        "      - {type: Chunk, chunks: 2, name: c, names: [a, b]}\n    output: c\n"
                        "layers:\n  - {type: Halve}\n")
    assert [(e.code, e.hint) for e in block.errors] == [("S017", "set output: to one of them: c.a, c.b")]


def test_inplace_after_a_split_keeps_the_split_input() -> None:
    """A part of a Split is a view of its input: an in-place ReLU on it would change the input,
    which the model reads again."""
    text = ("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Chunk, chunks: 2, name: c}\n"
            "  - {type: ReLU, inplace: true, from: c.0, name: r}\n  - {type: Concat, from: [r, x]}\n")
    from specc.backends.torch_build import build_module

    spec = specc.loads(text)
    assert spec.ok
    model = build_module(spec, 0).eval()
    x = torch.randn(2, 4)
    assert torch.equal(model(x.clone()), torch.cat([torch.relu(x[:, :2]), x], 1))


HALF = """\
specc: 1
name: Half
inputs:
  x: [B, 4, H, W]
layers:
  - {type: Cast, dtype: float16}
  - {type: GELU}
  - {type: AvgPool2d, kernel_size: 2}
  - {type: Abs}
  - {type: GlobalAvgPool}
  - {type: Cast, dtype: float32}
  - {type: Linear, out_features: 2}
export: {sizes: {H: 8, W: 8}}
"""


def test_float16_layers_export_and_verify_at_half_precision(tmp_path: Path) -> None:
    """ONNX Runtime and PyTorch round float16 in other orders: verified to half precision's
    tolerance (float32's fails on the GELU and the pools), unless the spec sets its own."""
    from specc.backends.onnx_export import export_spec
    from specc.backends.verify import HALF_TOLERANCES, tolerances

    spec = specc.loads(HALF)
    assert spec.ok, "\n".join(render_text(d) for d in spec.diagnostics)
    assert tolerances(spec.graph, spec.document.export) == HALF_TOLERANCES
    result = export_spec(spec, tmp_path / "model.onnx")
    assert len({r.env["H"] for r in result.verification.runs}) >= 3  # type: ignore[union-attr]
    strict = specc.loads(HALF.replace("export: {", "export: {rtol: 0.0001, "))
    assert tolerances(strict.graph, strict.document.export) == (1e-4, HALF_TOLERANCES[1])
    plain = specc.loads(PARTS.replace("float16", "float32"))
    assert tolerances(plain.graph, plain.document.export) == (1e-3, 1e-5)


def test_bfloat16_compute_is_refused_where_onnx_runtime_has_no_kernel() -> None:
    text = ("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Cast, dtype: bfloat16}\n  - {type: Dropout, p: 0.1}\n"
            "  - {type: ReLU}\n  - {type: Cast, dtype: float32}\n")
    (err,) = specc.loads(text).errors
    assert err.code == "U002" and err.loc.line == 6 and "no bfloat16 ReLU" in err.message
    assert err.hint == "add - {type: Cast, dtype: float32} before it (float16 runs)"
    fixed = text.replace("  - {type: ReLU}\n", "  - {type: Cast, dtype: float32}\n  - {type: ReLU}\n")
    assert specc.loads(fixed).ok


TRAINED = """\
specc: 1
inputs: {bits: [B, 2]}
layers:
  - {type: Linear, out_features: 4, name: hidden}
{middle}
  - {type: Linear, out_features: 1, name: logit}
loss: {type: MSELoss}
"""


def test_integer_values_cut_the_gradient_and_check_says_where() -> None:
    cut = TRAINED.replace("{middle}", "  - {type: Cast, dtype: int64, name: ids}\n  - {type: Cast, dtype: float32}")
    spec = specc.loads(cut)
    (err,) = spec.errors
    assert err.code == "V035" and err.layer == "hidden" and "through Cast 'ids', which gives int64" in err.message
    assert err.hint == "keep that path in floats (drop or move Cast 'ids'), or freeze the layer with trainable: false"
    frozen = specc.loads(cut.replace("name: hidden}", "name: hidden, trainable: false}"))
    assert frozen.ok  # the hint, applied: logit still trains
    # PyTorch agrees: no gradient reaches the first Linear through the integers.
    hidden, logit = nn.Linear(2, 4), nn.Linear(4, 1)
    logit(hidden(torch.randn(3, 2)).long().float()).sum().backward()
    assert hidden.weight.grad is None and logit.weight.grad is not None


def test_a_loss_needs_float_outputs_and_something_to_train() -> None:
    plain = TRAINED.replace("{middle}\n", "")
    assert specc.loads(plain).ok
    ends_in_ints = specc.loads(plain.replace("name: logit}", "name: logit}\n  - {type: Cast, dtype: int64}"))
    (err,) = ends_in_ints.errors
    assert err.code == "V034" and "holds int64 values (made by Cast 'cast_1')" in err.message
    assert err.loc.line == 7  # the loss
    frozen = plain.replace("name: hidden}", "name: hidden, trainable: false}").replace(
        "name: logit}", "name: logit, trainable: false}")
    (err,) = specc.loads(frozen).errors
    assert err.code == "V035" and "the loss trains no parameter" in err.message and err.loc.line == 6
    with pytest.raises(ValueError, match="empty parameter list"):  # what training would have met
        torch.optim.SGD([p for p in nn.Linear(2, 1).requires_grad_(False).parameters() if p.requires_grad], lr=0.1)


@pytest.mark.parametrize(("layers", "made"), [
    ("- {type: Cast, dtype: int64}", "Cast 'cast_1' makes them from float32 values"),
    ("- {type: Flatten}\n  - {type: Cast, dtype: int64}\n  - {type: Reshape, shape: [B, 2]}",
     "Cast 'cast_1' makes them from float32 values"),
])
def test_embedding_refuses_ids_computed_from_floats(layers: str, made: str) -> None:
    """Ids cast from floats run past the table (torch raises IndexError at the first one)."""
    text = (f"specc: 1\ninputs: {{x: [B, 2]}}\nlayers:\n  {layers}\n"
            "  - {type: Embedding, num_embeddings: 4, embedding_dim: 3}\n")
    (err,) = specc.loads(text).errors
    assert err.code == "S007" and made in err.message
    fixed = text.replace("x: [B, 2]", "x: {shape: [B, 2], dtype: int64}").replace("{type: Cast, dtype: int64}",
                                                                                "{type: Identity}")
    assert specc.loads(fixed).ok, "the hint, applied, checks"
    with pytest.raises(IndexError):
        nn.Embedding(4, 3)(torch.tensor([[-3.7, 9.2]]).long())


def test_ids_moved_split_or_taken_max_of_still_embed() -> None:
    text = ("specc: 1\ninputs: {x: {shape: [B, 2], dtype: int64}}\nlayers:\n  - {type: Cast, dtype: int32}\n"
            "  - {type: Chunk, chunks: 2, name: c}\n  - {type: Max, from: [c.0, c.1]}\n"
            "  - {type: Embedding, num_embeddings: 10, embedding_dim: 3}\n")
    assert specc.loads(text).ok
    sub = text.replace("type: Max", "type: Sub")
    (err,) = specc.loads(sub).errors
    assert err.code == "S007" and "Sub 'sub_1' computes them, and a difference can be negative" in err.message


def test_time_distributed_refuses_a_layer_with_several_outputs() -> None:
    spec = specc.loads("specc: 1\ninputs: {x: [B, T, 4]}\nlayers:\n"
                       "  - {type: TimeDistributed, layer: {type: Chunk, chunks: 2}}\n")
    (err,) = spec.errors
    assert err.code == "S017" and err.loc.line == 4 and "Chunk gives 2 outputs" in err.message
    direct = specc.loads("specc: 1\ninputs: {x: [B, T, 4]}\nlayers:\n  - {type: Chunk, chunks: 2, dim: 2}\n")
    assert direct.ok and [str(direct.graph.value(s)) for _, s in direct.graph.outputs] == ["(B, T, 2)"] * 2


GLU_BLOCKS = """\
specc: 1
inputs: {x: [B, 8, T]}
blocks:
  Gated:
    layers:
      - {type: Conv1d, out_channels: 16, kernel_size: 3, padding: 1, name: conv}
      - {type: Chunk, chunks: 2, name: c, names: [value, gate]}
      - {type: Sigmoid, from: c.gate, name: g}
      - {type: Mul, from: [c.value, g]}
  Half:
    layers:
      - {type: Split, sizes: [3, 5], name: s}
    output: s.1
layers:
  - {type: Gated, repeat: 2}
  - {type: Half}
"""


def test_parts_inside_repeated_blocks_and_as_a_block_output() -> None:
    """A GLU written with a Chunk equals F.glu over the conv; a block may return one part."""
    from emit_harness import verify

    spec = specc.loads(GLU_BLOCKS)
    assert spec.ok, "\n".join(render_text(d) for d in spec.diagnostics)
    model, problems, _ = verify(spec)
    assert not problems
    x = torch.randn(2, 8, 7)
    with torch.no_grad():
        h = x
        for unit in model.repeat_1:
            h = F.glu(unit.conv(h), dim=1)
        assert torch.allclose(model(x), h.split([3, 5], 1)[1], atol=1e-6)


def test_weights_refuse_half_precision_and_the_cast_fixes_it() -> None:
    text = ("specc: 1\ninputs: {x: [B, 6]}\nlayers:\n  - {type: Cast, dtype: float16}\n"
            "  - {type: Linear, out_features: 2}\n")
    (err,) = specc.loads(text).errors
    assert err.code == "S018" and err.loc.line == 5
    cast = err.hint.split(" before")[0].removeprefix("add ")  # - {type: Cast, dtype: float32}
    fixed = text.replace("  - {type: Linear", f"  {cast}\n  - {{type: Linear")
    assert specc.loads(fixed).ok
    with pytest.raises(RuntimeError, match="dtype"):
        nn.Linear(6, 2)(torch.zeros(1, 6, dtype=torch.float16))


# -- Sin, Cos, Exp (helper e19): f(scale·x) ----------------------------------------------------------

WAVES = """\
specc: 1
name: Waves
vars: {pi: 3.141592653589793}
inputs:
  x: [B, 3, H, W]
  t: [B, T]
layers:
  - {type: Sin, from: x, scale: 30.0, name: s}
  - {type: Cos, from: x, scale: "${pi * 2 ** 3}", name: c}
  - {type: Concat, from: [s, c], dim: 1}
  - {type: Conv2d, out_channels: 4, kernel_size: 1, name: feat}
  - {type: Exp, from: t, scale: 0.5, name: sigma}
  - {type: Sin, from: t, name: wave}
  - {type: Mul, from: [wave, sigma], name: waves}
outputs: [feat, waves]
export: {sizes: {H: 5, W: 6, T: 7}}
"""


def test_sin_cos_exp_export_and_verify_at_several_sizes(tmp_path: Path) -> None:
    from specc.backends.direct_export import export_direct
    from specc.backends.onnx_export import export_spec

    spec = specc.loads(WAVES)
    assert spec.ok, "\n".join(render_text(d) for d in spec.diagnostics)
    assert str(spec.graph.value("c")) == "(B, 3, H, W)" and str(spec.graph.value("waves")) == "(B, T)"
    # the direct target against the PyTorch target with its weights, and torch.onnx's export
    for result in (export_direct(spec, tmp_path / "direct.onnx", compare="torch"),
                   export_spec(spec, tmp_path / "torch.onnx")):
        runs = result.verification.runs  # type: ignore[union-attr]
        assert len({(r.env["H"], r.env["W"], r.env["T"]) for r in runs}) >= 3


@pytest.mark.parametrize(("layers", "code", "message", "hint"), [
    ("- {type: Sin, scale: 0}", "V053", "scale 0 makes Sin ignore its input: every output is sin(0)",
     "drop scale to use sin(x)"),
    ("- {type: Exp, scale: .inf}", "V003", "scale must be a number", None),
    ("- {type: Cast, dtype: int64}\n  - {type: Cos}", "S007", "receives int64 data (B, 6), but Cos works on floats",
     None),
    ("- {type: Cast, dtype: float16}\n  - {type: Cos, scale: 3.0}", "S037", "computes cos in float16",
     "add - {type: Cast, dtype: float32} before it"),
    ("- {type: Cast, dtype: bfloat16}\n  - {type: Exp}", "U002", "no bfloat16 Exp", None),
])
def test_sin_cos_exp_errors(layers: str, code: str, message: str, hint: str | None) -> None:
    text = f"specc: 1\ninputs: {{inp: [B, 6]}}\nlayers:\n  {layers}\n"
    errors = [d for d in specc.loads(text).diagnostics if d.severity == "error"]
    assert [e.code for e in errors] == [code], [render_text(e) for e in errors]
    assert message in errors[0].message and errors[0].loc is not None and errors[0].loc.line >= 4
    if hint is not None:
        assert hint in (errors[0].hint or "")


def test_exp_in_half_exports_and_its_s037_fix_checks(tmp_path: Path) -> None:
    """e^x keeps its relative precision in float16 (verified at half's tolerance); a Sin there is
    refused, and the Cast the hint names makes the spec check."""
    from specc.backends.onnx_export import export_spec

    half = "specc: 1\ninputs: {x: [B, T]}\nlayers:\n  - {type: Cast, dtype: float16}\n  - {type: Exp, scale: 2.0}\n"
    assert export_spec(specc.loads(half), tmp_path / "exp.onnx").verification is not None
    sin = half.replace("Exp", "Sin")
    assert [e.code for e in specc.loads(sin).errors] == ["S037"]
    assert specc.loads(sin.replace("  - {type: Sin", "  - {type: Cast, dtype: float32}\n  - {type: Sin")).ok


def test_a_chaotic_sin_stack_warns_and_still_exports(tmp_path: Path) -> None:
    """SIREN's w0 = 30 on every hidden layer over PyTorch's default weights: float32's last digits
    are noise (L034), and export verifies to the tolerance widened by the same estimate, where
    float32's own fails (0.3% apart, measured)."""
    from specc.backends.direct_export import export_direct
    from specc.backends.verify import ATOL, RTOL, tolerances

    chaos = (Path(__file__).parent / "corpus" / "lint" / "l034_siren_w0_on_every_layer.yaml").read_text()
    spec = specc.loads(chaos)
    assert spec.ok and [d.code for d in spec.diagnostics] == ["L034"]
    rtol, atol = tolerances(spec.graph, spec.document.export)
    assert rtol > 10 * RTOL and atol > 10 * ATOL
    assert export_direct(spec, tmp_path / "m.onnx", compare="torch").verification is not None
    # the fix the hint gives: w0 on the first Sin, √6 on the later ones
    tamed = specc.loads(chaos.replace("scale: 30.0", "scale: 2.449").replace("scale: 2.449", "scale: 30.0", 1))
    assert [d.code for d in tamed.diagnostics] == [] and tolerances(tamed.graph, tamed.document.export) == (RTOL, ATOL)
REPARAMETRIZED = [c for c in CASES if "weight_norm" in c.layer or "spectral_norm" in c.layer]


@pytest.mark.parametrize("case", REPARAMETRIZED, ids=[c.id for c in REPARAMETRIZED])
def test_normalised_weight_has_pytorchs_names_and_values(case: Case) -> None:
    """weight_norm / spectral_norm: the emitted module takes the hand-written one's state dict
    under PyTorch's names (parametrizations.weight.original0/1, .original, .0._u/_v) and then
    computes what it computes, in eval mode (no power iteration) and in a training step
    (one power iteration, the same u and v after it)."""
    node = _spec_node(case.yaml())
    oracle = case.oracle()
    module, expr, ns = _emitted(node)
    assert module is not None
    init = init_expr(node.kind, node.result.args)  # type: ignore[arg-type,union-attr]
    assert re.match(r"nn\.utils\.parametrizations\.(weight|spectral)_norm\(nn\.\w+\(", init or ""), init
    module.load_state_dict(oracle.state_dict(), strict=True)
    assert [n for n, _ in module.named_buffers()] == [n for n, _ in oracle.named_buffers()]
    for training in (False, True):
        oracle.train(training), module.train(training)
        xs = case.tensors(case.envs[0])
        with torch.no_grad():
            want = oracle(*[x.clone() for x in xs])
            got = eval(expr, {**ns, "m": module, **{n: x.clone() for n, x in zip(node.inputs, xs)}})
        torch.testing.assert_close(got, want)
    for key, value in oracle.state_dict().items():
        torch.testing.assert_close(module.state_dict()[key], value, msg=key)


REWORKED = [c for c in CASES if "mask:" in c.layer or "weight_standardization" in c.layer]


@pytest.mark.parametrize("case", REWORKED, ids=[c.id for c in REWORKED])
def test_masked_and_standardised_convs_compute_the_references(case: Case) -> None:
    """mask: (PixelCNN) and weight_standardization: (timm's StdConv2d / ScaledStdConv2d): the emitted class
    takes the hand-written module's state dict (weight, bias, the mask buffer or the gain) and computes what
    it computes, the gain drawn away from its start of 1."""
    node = _spec_node(case.yaml())
    oracle = case.oracle().eval()
    module, expr, ns = _emitted(node)
    assert module is not None
    assert re.match(r"(Masked|Std|ScaledStd)Conv[123]d\(", init_expr(node.kind, node.result.args) or "")
    with torch.no_grad():
        for name, p in oracle.named_parameters():
            if name.endswith("gain"):
                p.uniform_(0.5, 2.0)
    module.load_state_dict(oracle.state_dict(), strict=True)
    xs = case.tensors(case.envs[0])
    with torch.no_grad():
        want = oracle(*[x.clone() for x in xs])
        got = eval(expr, {**ns, "m": module.eval(), **{n: x.clone() for n, x in zip(node.inputs, xs)}})
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer, shape, code, fix", [
    # PyTorch reads weight_norm's dim -1 as the whole tensor, not the last dim
    ("{type: Conv1d, out_channels: 4, kernel_size: 3, weight_norm: {dim: -1}}", [2, 3, 8], "V052", "dim: 2"),
    ("{type: Linear, out_features: 4, weight_norm: true, spectral_norm: true}", [2, 3], "V051", "keep one"),
    ("{type: Conv2d, out_channels: 4, kernel_size: 3, mask: A, weight_norm: true}", [2, 1, 8, 8], "V051",
     "mask for PixelCNN"),
    # ScaledStdConv2d's gamma scales the gain's product; StdConv2d has neither
    ("{type: Conv2d, out_channels: 4, kernel_size: 3, weight_standardization: {gamma: 1.7}}", [2, 3, 8, 8], "V166",
     "gain: true"),
    ("{type: Linear, out_features: 4, mask: A}", [2, 3], "V001", "only Conv1d/2d/3d"),
    ("{type: ReLU, weight_norm: true}", [2, 3], "V001", "only Linear, Conv1d/2d/3d"),
    ("{type: SeparableConv2d, out_channels: 4, kernel_size: 3, spectral_norm: true}", [2, 3, 8, 8], "V001",
     "a DepthwiseConv and a 1x1 Conv"),
    ("{type: Embedding, num_embeddings: 5, embedding_dim: 3, weight_norm: true}", [2], "V001",
     "an Embedding takes spectral_norm"),
    # Keras' wrapper is a key of the wrapped layer here
    ("{type: SpectralNormalization, layer: {type: Linear, units: 3}}", [2, 3], "V004", "spectral_norm: true"),
])
def test_normalised_weight_misuse(layer: str, shape: list[Any], code: str, fix: str) -> None:
    _refused_at_the_layer(layer, shape, code, fix)


@pytest.mark.parametrize("text, hint", [
    ("inputs: {ids: {shape: [B, T], dtype: int64}}\nlayers:\n"
     "  - {type: Embedding, num_embeddings: 20, embedding_dim: 8, spectral_norm: true, name: embed}\n"
     "  - {type: Linear, out_features: 20, tie: embed}\n", "remove spectral_norm or the tie:"),
    ("inputs: {x: [B, 8]}\nlayers:\n  - {type: Linear, out_features: 8, weight_norm: true, name: fc}\n"
     "  - {type: ReLU}\n  - {type: Linear, out_features: 2}\nlora: {rank: 2, targets: [fc]}\n",
     "remove weight_norm from fc"),
])
def test_normalised_weight_is_neither_tied_nor_adapted(text: str, hint: str) -> None:
    # a tie: would share a plain weight with a normalised one, and LoRA's parametrization would
    # stack on the normalisation's
    spec = specc.loads("specc: 1\n" + text)
    errors = [d for d in spec.errors if d.code == "V051"]
    assert errors and errors[0].hint and hint in errors[0].hint, [render_text(d) for d in spec.diagnostics]


@pytest.mark.parametrize(("layer", "shape", "code", "says"), [
    ("{type: Triangle}", ["B", 6], "S003", "(B, n, n)"),
    ("{type: Triangle}", ["B", "F", "F"], "S005", "rows"),
    ("{type: Triangle, offset: -4}", ["B", 3, 3], "V003", "keeps no entry"),
])
def test_triangle_refuses_what_it_cannot_count(layer: str, shape: list[Any], code: str, says: str) -> None:
    # the triangle's length is a number of the matrix's fixed sizes; an empty one is a mistake
    spec = _spec(layer, shape)
    assert not spec.ok and spec.errors[0].code == code and says in spec.errors[0].message, render_text(spec.errors[0])


@pytest.mark.parametrize(("layer", "shape", "code", "says"), [
    ("{type: SoftArgmax, dim: 1}", ["B", "T", 4], "S005", "bins"),
])
def test_soft_argmax_needs_a_fixed_number_of_bins(layer: str, shape: list[Any], code: str, says: str) -> None:
    # its bins are the constants 0 .. n - 1, written into both targets
    spec = _spec(layer, shape)
    assert not spec.ok and spec.errors[0].code == code and says in spec.errors[0].message, render_text(spec.errors[0])


def test_weighted_sum_refuses_inputs_of_other_shapes() -> None:
    # BiFPN resizes every input to the node's level first; a missed Upsample is the mistake
    spec = specc.loads("specc: 1\ninputs: {a: [B, 8, 16, 16], b: [B, 8, 8, 8]}\nlayers:\n"
                       "  - {type: WeightedSum, from: [a, b]}\n")
    assert not spec.ok and spec.errors[0].code == "S006" and "Upsample" in (spec.errors[0].hint or ""), \
        render_text(spec.errors[0])


@pytest.mark.parametrize("layer, shape, code, fix", [
    # the features a codebook quantises have a fixed size, and are not the batch
    ("{type: VectorQuantizer, num_embeddings: 8}", ["B", "T"], "S005", "quantise along the features' dim"),
    ("{type: VectorQuantizer, num_embeddings: 8, dim: 0}", [2, 4], "S003", "use dim: 1"),
    ("{type: VectorQuantizer, num_embeddings: 8, embedding_dim: 32, dim: 1}", [2, 64, 4, 4], "S001",
     "set embedding_dim: 64"),
])
def test_vector_quantizer_misuse(layer: str, shape: list[Any], code: str, fix: str) -> None:
    _refused(layer, shape, code, fix)


def _refused(layer: str, shape: list[Any], code: str, fix: str) -> None:
    spec = _spec(layer, shape)
    assert [d.code for d in spec.errors] == [code], [d.render() for d in spec.diagnostics]
    assert fix in (spec.errors[0].hint or "")


def test_anchor_points_take_a_stride_per_map() -> None:
    # two maps, one stride: the second map's cells would have no stride to scale them
    _refused("{type: AnchorPoints, from: [inp, inp], strides: [8]}", ["B", 3, "H", "W"], "S001", "one stride per map")
