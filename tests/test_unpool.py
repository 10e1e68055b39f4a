"""MaxPool's indices and MaxUnpool against PyTorch.

The rule MaxUnpool is checked by: PyTorch puts each value at its index read within a plane of
the unpool's output size, and the indices number a plane of the pool's input size.  So the
property below feeds a ramp (each window's maximum is the last position it reads: the indices
reach as far as any input can make them) through random pools and unpools, and compares
PyTorch's result with the values put back where they came from: whatever check accepts runs
and is exactly that, and what check refuses as S026 fails in PyTorch or puts values elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import specc
from specc.diagnostics import render_text
from specc.shapes.dims import evaluate

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_differential import put_back  # noqa: E402  (what an unpool must compute, as the differential judge has it)

EXAMPLES = int(os.environ.get("SPECC_UNPOOL_EXAMPLES", "150"))


def _ramp(sizes: tuple[int, ...]) -> torch.Tensor:
    """1, 2, 3, ... in row-major order over (1, 2, *sizes): the maximum of a window is the last
    position it reads, and no value is zero (a zero put anywhere would go unseen)."""
    n = 2 * int(torch.tensor(sizes).prod())
    return (torch.arange(n, dtype=torch.float32) + 1).reshape(1, 2, *sizes)


def _reach(indices: torch.Tensor, plane: tuple[int, ...]) -> list[int]:
    """One past the largest coordinate the indices name, per dim of ``plane``."""
    flat, out = indices.flatten(), []
    for extent in reversed(plane):
        out.append(int((flat % extent).max()) + 1)
        flat = flat // extent
    return out[::-1]


def _tup(v: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, v)) + "]"


dim = st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 2), st.integers(1, 12))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dims=st.integers(1, 2).flatmap(lambda r: st.lists(dim, min_size=r, max_size=r)), data=st.data(),
       ceil=st.booleans(), how=st.sampled_from(["default", "output_size", "third"]))
def test_check_accepts_exactly_the_unpools_that_put_values_back(
        dims: list[tuple[int, int, int, int]], data: st.DataObject, ceil: bool, how: str) -> None:
    r = len(dims)
    k, s, d, sizes = (tuple(t[i] for t in dims) for i in range(4))
    p = tuple(data.draw(st.integers(0, ki // 2)) for ki in k)
    own = data.draw(st.booleans())
    uk = k if own else tuple(data.draw(st.integers(1, 4)) for _ in k)
    us = s if own else tuple(data.draw(st.integers(1, 3)) for _ in k)
    up = p if own else tuple(data.draw(st.integers(0, 2)) for _ in k)
    pool = (f"{{type: MaxPool{r}d, kernel_size: {_tup(k)}, stride: {_tup(s)}, padding: {_tup(p)}, "
            f"dilation: {_tup(d)}, ceil_mode: {str(ceil).lower()}, return_indices: true, name: pool}}")
    reads = "pool.values, pool.indices" + (", x" if how == "third" else "")
    extra = ""
    x = _ramp(sizes)
    torch_pool = getattr(torch.nn, f"MaxPool{r}d")(k, s, p, dilation=d, ceil_mode=ceil, return_indices=True)
    try:
        values, indices = torch_pool(x)
    except RuntimeError:
        return  # the pool itself fails: test_layers_torch checks that check refuses it
    if torch.isinf(values).any():
        return  # a dilated window that reads only padding gives -inf and an index past the input: the pool's
        # own problem (check accepts such a MaxPool today), not the unpool's
    default = [(n - 1) * si - 2 * pi + ki for n, si, pi, ki in zip(values.shape[2:], us, up, uk)]
    if how == "output_size":
        wanted = tuple(max(1, dd + data.draw(st.integers(-1, 3))) for dd in default)
        extra = f", output_size: {_tup(wanted)}"
    unpool = f"{{type: MaxUnpool{r}d, kernel_size: {_tup(uk)}, stride: {_tup(us)}, padding: {_tup(up)}{extra}, " \
             f"from: [{reads}]}}"
    text = f"specc: 1\ninputs: {{x: [1, 2, {', '.join(map(str, sizes))}]}}\nlayers:\n  - {pool}\n  - {unpool}\n"
    spec = specc.loads(text, "unpool.yaml")
    torch_unpool = getattr(torch.nn, f"MaxUnpool{r}d")(uk, us, up)
    try:
        got = torch_unpool(values, indices, output_size=(x.shape[2:] if how == "third" else
                                                        wanted if how == "output_size" else None))
    except (RuntimeError, ValueError):
        got = None
    right = None if got is None else put_back(values, indices, sizes, tuple(got.shape[2:]))
    agrees = got is not None and right is not None and torch.equal(got, right)
    if spec.ok:
        assert agrees, f"check accepts, PyTorch {'fails' if got is None else 'puts values elsewhere'}\n{text}"
        out = spec.graph.nodes[-1].out
        assert tuple(evaluate(dd, {}) for dd in out.shape) == tuple(got.shape), text
        return
    codes = {e.code for e in spec.errors}
    # Only where the pool read past the first position of every dim can every misplaced plane show.
    if codes == {"S026"} and all(n >= 2 for n in _reach(indices, sizes)):
        assert not agrees, f"check refuses ({render_text(spec.errors[0])}), PyTorch puts the values back\n{text}"


# -- specs ---------------------------------------------------------------------------------------

def _spec(inputs: str, *layers: str) -> specc.Spec:
    return specc.loads("specc: 1\ninputs: {" + inputs + "}\nlayers:\n" + "".join(f"  - {ln}\n" for ln in layers),
                       "unpool.yaml")


POOL = "{type: MaxPool2d, kernel_size: 2, return_indices: true, name: pool}"


def test_pool_gives_values_and_int64_indices_read_by_index_or_name() -> None:
    spec = _spec("x: [B, 4, 6, 6]", POOL, "{type: Identity, from: pool.1, name: a}",
                 "{type: ReLU, from: pool.values, name: b}")
    assert spec.ok, spec.errors
    node = spec.graph.node("pool")
    values, where = node.result.outs
    assert (values.dtype, where.dtype) == ("float32", "int64") and values.shape == where.shape
    assert spec.graph.node("a").out.dtype == "int64"
    plain = _spec("x: [B, 4, 6, 6]", "{type: MaxPool2d, kernel_size: 2}")
    assert plain.graph.nodes[0].result.args == {"kernel_size": 2, "stride": None, "padding": 0, "dilation": 1,
                                                "ceil_mode": False}
    assert not plain.graph.nodes[0].result.outs


@pytest.mark.parametrize(("inputs", "layers", "code", "hint"), [
    # indices through a layer, even one that keeps them: only the pool's own are a pool's indices
    ("x: [B, 4, 6, 6]", [POOL, "{type: Identity, from: pool.indices, name: i}",
                         "{type: MaxUnpool2d, kernel_size: 2, from: [pool.values, i]}"], "S024", "straight from"),
    ("x: [B, 4, 6, 6]", [POOL, "{type: Cast, dtype: float32, from: pool.indices, name: i}",
                         "{type: MaxUnpool2d, kernel_size: 2, from: [pool.values, i]}"], "S024", "return_indices"),
    ("x: [B, 4, 1, 6, 6]", ["{type: MaxPool3d, kernel_size: [1, 2, 2], return_indices: true, name: pool}",
                            "{type: Squeeze, dim: 2, from: pool.values, name: v}",
                            "{type: Squeeze, dim: 2, from: pool.indices, name: i}",
                            "{type: MaxUnpool2d, kernel_size: 2, from: [v, i]}"], "S024", "return_indices"),
    ("x: [B, 4, 2, 6, 6]", ["{type: MaxPool3d, kernel_size: 2, return_indices: true, name: pool}",
                            "{type: MaxUnpool2d, kernel_size: 2, from: [pool.values, pool.indices]}"],
     "S003", "use MaxUnpool3d"),
    ("x: [B, 4, 6, 6]", [POOL, "{type: MaxUnpool2d, kernel_size: 2, from: [pool.indices, pool.indices]}"],
     "S007", "values first"),
    ("x: [B, 4, 6, 6]", [POOL, "{type: MaxUnpool2d, kernel_size: 2, from: pool.values}"], "G003", "from: [a, b]"),
    ("x: [B, 4, 6, 6]", [POOL, "{type: MaxUnpool2d, kernel_size: 2}"], "S017", "pool.values, pool.indices"),
    ("x: [B, 4, 6, 6]", [POOL, "{type: MaxUnpool2d, kernel_size: 2, output_size: [8, 6], "
                               "from: [pool.values, pool.indices]}"], "S026", "use 5 to 7 there"),
    ("x: [B, 4, 6, 6]", [POOL, "{type: MaxUnpool2d, kernel_size: 2, output_size: [6, 6], "
                               "from: [pool.values, pool.indices, x]}"], "V003", "keep one"),
    ("x: [B, 4, 6, 6]", [POOL, "{type: MaxUnpool2d, kernel_size: 2, output_size: [6, 6, 6], "
                               "from: [pool.values, pool.indices]}"], "V003", "give one number or 2"),
    ("x: [B, 4, H, 6]", [POOL, "{type: MaxUnpool2d, kernel_size: 2, output_size: [7, 6], "
                               "from: [pool.values, pool.indices]}"], "S005", "third input"),
    ("x: [B, 4, H, W]", ["{type: MaxPool2d, kernel_size: 3, stride: 2, padding: 1, return_indices: true, "
                         "name: pool}", "{type: MaxUnpool2d, kernel_size: 2, from: [pool.values, pool.indices, x]}"],
     "S026", "kernel_size: 3, stride: 2 and padding: 1"),
    ("x: [B, 4, 9, 9]", ["{type: MaxPool2d, kernel_size: 3, stride: 1, dilation: 2, return_indices: true, "
                         "name: pool}", "{type: MaxUnpool2d, kernel_size: 3, stride: 1, "
                                        "from: [pool.values, pool.indices]}"],
     "S026", "kernel_size: 5 (the span of the pool's dilated window)"),
    ("x: [B, 4, 6, 6]", ["{type: MaxPool2d, kernel_size: 2, return_indices: true, name: pool, repeat: 2}"],
     "V003", "write the MaxPool2d once per copy"),
])
def test_unpool_errors_are_located_with_the_fix(inputs: str, layers: list[str], code: str, hint: str) -> None:
    spec = _spec(inputs, *layers)
    errors = [e for e in spec.errors if e.code == code]
    assert errors, [render_text(e) for e in spec.errors]
    assert errors[0].loc is not None and hint in (errors[0].hint or ""), render_text(errors[0])


def test_symbolic_sizes_restored_by_the_third_input(tmp_path: Path) -> None:
    """An odd size after a pool by 2: the pool's input as the third input gives it back at every size,
    in the model PyTorch runs and in the exported ONNX model."""
    from specc.backends.onnx_export import export_spec
    spec = _spec("x: [B, 4, H, W]", POOL, "{type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, "
                 "from: pool.values, name: mid}", "{type: MaxUnpool2d, kernel_size: 2, from: [mid, pool.indices, x]}")
    assert spec.ok, [render_text(e) for e in spec.errors]
    assert [str(d) for d in spec.graph.nodes[-1].out.shape] == ["B", "4", "H", "W"]
    model = specc.build(spec).eval()
    for h, w in ((7, 9), (8, 6), (5, 11)):
        assert tuple(model(torch.randn(2, 4, h, w)).shape) == (2, 4, h, w)
    result = export_spec(spec, tmp_path / "unpool.onnx")  # verified against PyTorch at other sizes
    assert result.exporter == "dynamo"


def test_direct_target_writes_the_indices_and_the_unpool(tmp_path: Path) -> None:
    """Without torch in the export: ONNX numbers a pool's indices over the whole tensor, PyTorch per
    plane; the direct model returns PyTorch's, and its unpool equals PyTorch's at odd sizes too."""
    from specc.backends.direct_export import direct_problem, export_direct
    spec = _spec("x: [B, 3, H, W]", "{type: Tanh, name: enc}",
                 "{type: MaxPool2d, kernel_size: 3, stride: 2, padding: 1, return_indices: true, name: pool}",
                 "{type: ReLU, from: pool.values, name: mid}",
                 "{type: MaxUnpool2d, kernel_size: 3, stride: 2, padding: 1, from: [mid, pool.indices, enc], "
                 "name: up}")
    spec = specc.loads(spec.text + "outputs: [up, pool.indices]\n", "unpool.yaml")
    assert spec.ok and direct_problem(spec) is None, [render_text(e) for e in spec.errors]
    result = export_direct(spec, tmp_path / "unpool.onnx", compare="torch")
    report = result.verification
    assert report is not None and report.against == "PyTorch" and len(report.runs) >= 3


def test_a_default_size_of_zero_is_fine_where_the_third_input_sets_a_size_pytorch_takes() -> None:
    """Found by the 5,000-example differential run: input 1, kernel 2, stride 2, padding 1 gives a
    default of 0, and PyTorch unpools to the third input's 1 (within stride of it)."""
    spec = specc.loads("specc: 1\ninputs: {x: [B, 1, 3, 1]}\nlayers:\n"
                       "  - {type: MaxPool2d, kernel_size: 2, padding: [0, 1], return_indices: true, name: p}\n"
                       "  - {type: MaxUnpool2d, kernel_size: 2, padding: [0, 1], from: [p.values, p.indices, x]}\n")
    assert spec.ok, [d.message for d in spec.errors]
    x = torch.relu(torch.randn(2, 1, 3, 1))
    v, i = torch.nn.functional.max_pool2d(x, 2, 2, (0, 1), return_indices=True)
    out = torch.nn.functional.max_unpool2d(v, i, 2, 2, (0, 1), output_size=x.shape[2:])
    assert tuple(out.shape[1:]) == tuple(spec.graph.nodes[-1].out.shape[1:]) == (1, 3, 1)
