"""The direct ONNX target's pools against PyTorch at many input sizes, not only the three the
export verifier runs: ceil_mode's last window (kept when it starts inside the data, dropped when
it would start in the right padding), fixed sizes where ONNX's shape inference and PyTorch count
different windows, divisor_override, and adaptive windows that do not divide evenly, at fixed and
symbolic sizes and at the opsets where ONNX moved attributes to inputs.

Some of these configurations the torch exporters write wrongly (``export_limits``): ``specc check``
passes them because `specc export` takes the direct target, which writes them exactly
(specc/targets/verdict.py).  ``SPECC_FUZZ_EXAMPLES=N`` adds N random pool configurations.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable

import numpy as np
import onnx
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

import onnxruntime as ort
import torch
import torch.nn.functional as F

import specc
from specc.backends.direct_export import LayerShapes
from specc.targets.onnx.builder import Unsupported
from specc.targets.onnx.lower import lower_graph
from specc.targets.onnx.weights import Weights

SLIDING = [f"{op}Pool{r}d" for op in ("Max", "Avg") for r in (1, 2, 3)]


def _lowered(layer: str, shape: Iterable[object], opset: int = 18, dtype: str = "float32") -> onnx.ModelProto:
    dims = ", ".join(str(d) for d in shape)
    spec = specc.loads(f"specc: 1\ninputs:\n  x: {{shape: [{dims}], dtype: {dtype}}}\nlayers:\n  - {layer}\n",
                       "pool.yaml")
    assert spec.ok, [d.message for d in spec.errors]
    lowered = lower_graph(spec.graph, Weights(None, 0), opset=opset)
    onnx.checker.check_model(lowered.model, full_check=True)
    assert LayerShapes(lowered)(lowered.model) == []  # ONNX's inferred shapes are specc's
    return lowered.model


def _session(layer: str, shape: Iterable[object], opset: int = 18, dtype: str = "float32") -> ort.InferenceSession:
    return ort.InferenceSession(_lowered(layer, shape, opset, dtype).SerializeToString(),
                                providers=["CPUExecutionProvider"])


def _agree(session: ort.InferenceSession, x: torch.Tensor, oracle: Callable[[torch.Tensor], torch.Tensor]) -> None:
    got = session.run(None, {"x": x.numpy()})[0]
    want = oracle(x).numpy()
    assert got.shape == want.shape, f"input {tuple(x.shape)}: ONNX {got.shape}, PyTorch {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"input {tuple(x.shape)}")


def _sweep(layer: str, oracle: Callable[[torch.Tensor], torch.Tensor], shapes: list[tuple[int, ...]],
           symbolic: tuple[object, ...] | None, opset: int = 18, dtype: str = "float32") -> None:
    """The model with symbolic dims at every shape, and a model written for each fixed shape."""
    gen = torch.Generator().manual_seed(0)
    dynamic = _session(layer, symbolic, opset, dtype) if symbolic is not None else None
    for shape in shapes:
        x = torch.randn(shape, generator=gen, dtype=getattr(torch, dtype))
        if dynamic is not None:
            _agree(dynamic, x, oracle)
        _agree(_session(layer, shape, opset, dtype), x, oracle)


def _flag(b: bool) -> str:
    return "true" if b else "false"


# (kernel, stride, padding, dilation): each ceil_mode case has sizes where PyTorch keeps a partial
# last window and sizes where it drops the one starting in the right padding
CEIL = [(1, 2, 0, 1), (2, 2, 1, 1), (3, 2, 1, 1), (2, 3, 1, 1), (3, 3, 1, 2), (4, 3, 2, 1), (2, 2, 0, 3), (2, 1, 1, 2)]


@pytest.mark.parametrize("k,s,p,d", CEIL)
def test_max_pool_ceil_mode_windows_at_every_size(k: int, s: int, p: int, d: int) -> None:
    layer = f"{{type: MaxPool1d, kernel_size: {k}, stride: {s}, padding: {p}, dilation: {d}, ceil_mode: true}}"
    first = max(1, d * (k - 1) + 1 - 2 * p)  # dilated windows at the smallest sizes read padding alone: -inf
    _sweep(layer, lambda x: F.max_pool1d(x, k, s, p, d, ceil_mode=True),
           [(2, 3, n) for n in range(first, first + 6)], ("B", 3, "L"))


@pytest.mark.parametrize("k,s,p", [(k, s, p) for k, s, p, d in CEIL if d == 1])
@pytest.mark.parametrize("include_pad", [True, False])
def test_avg_pool_ceil_mode_windows_and_divisors_at_every_size(k: int, s: int, p: int, include_pad: bool) -> None:
    layer = (f"{{type: AvgPool1d, kernel_size: {k}, stride: {s}, padding: {p}, ceil_mode: true, "
             f"count_include_pad: {_flag(include_pad)}}}")
    _sweep(layer, lambda x: F.avg_pool1d(x, k, s, p, ceil_mode=True, count_include_pad=include_pad),
           [(2, 3, n) for n in range(max(1, k - 2 * p), k + 6)], ("B", 3, "L"))


@pytest.mark.parametrize("kind", ["MaxPool2d", "AvgPool2d"])
def test_ceil_mode_with_one_axis_keeping_and_one_dropping_the_last_window(kind: str) -> None:
    # kernel (2, 1), stride 2: H = 5 keeps a partial last window, W = 2 drops one starting past the data,
    # so one ceil_mode attribute cannot serve both axes without the W axis's pads being rewritten
    layer = f"{{type: {kind}, kernel_size: [2, 1], stride: 2, ceil_mode: true}}"
    pool = F.max_pool2d if kind == "MaxPool2d" else F.avg_pool2d
    _sweep(layer, lambda x: pool(x, (2, 1), 2, ceil_mode=True),
           [(1, 2, h, w) for h in (4, 5) for w in (1, 2, 3, 4)], ("B", 2, "H", "W"))


@pytest.mark.parametrize("ceil", [False, True])
@pytest.mark.parametrize("include_pad", [True, False])
def test_avg_pool_divisor_override(ceil: bool, include_pad: bool) -> None:
    layer = (f"{{type: AvgPool2d, kernel_size: [3, 2], stride: [2, 2], padding: [1, 1], ceil_mode: {_flag(ceil)}, "
             f"count_include_pad: {_flag(include_pad)}, divisor_override: 5}}")
    _sweep(layer, lambda x: F.avg_pool2d(x, (3, 2), 2, 1, ceil_mode=ceil, count_include_pad=include_pad,
                                         divisor_override=5),
           [(2, 2, h, h + 1) for h in range(1, 7)], ("B", 2, "H", "W"))


def test_avg_pool3d_divisor_override() -> None:
    layer = "{type: AvgPool3d, kernel_size: 2, stride: [1, 2, 2], divisor_override: 3}"
    _sweep(layer, lambda x: F.avg_pool3d(x, 2, (1, 2, 2), divisor_override=3),
           [(1, 2, 3, 4, 5), (2, 2, 2, 5, 4)], ("B", 2, "D", "H", "W"))


ADAPTIVE = {("Avg", 1): F.adaptive_avg_pool1d, ("Avg", 2): F.adaptive_avg_pool2d, ("Avg", 3): F.adaptive_avg_pool3d,
            ("Max", 1): F.adaptive_max_pool1d, ("Max", 2): F.adaptive_max_pool2d, ("Max", 3): F.adaptive_max_pool3d}


@pytest.mark.parametrize("op", ["Avg", "Max"])
@pytest.mark.parametrize("out", [(5,), (3,), (1, 4), (None, 3), (3, None), (2, 1, 3), (None, 1, 2)])
def test_adaptive_pool_uneven_windows_fixed_and_symbolic(op: str, out: tuple[int | None, ...]) -> None:
    r = len(out)
    size = out[0] if r == 1 else list(out)
    layer = f"{{type: Adaptive{op}Pool{r}d, output_size: {'null' if size is None else size}}}".replace("None", "null")
    fn = ADAPTIVE[op, r]
    spatial = [(n, n + 3, n + 1)[:r] for n in (1, 2, 5, 7, 11)]
    _sweep(layer, lambda x: fn(x, out[0] if r == 1 else out), [(2, 3, *sp) for sp in spatial],
           ("B", 3, *"DHW"[3 - r:]))


@pytest.mark.parametrize("opset", [11, 12, 13, 17])
def test_pools_at_older_opsets(opset: int) -> None:
    # axes moved from attributes to inputs (ReduceSum/Unsqueeze at 13, ReduceMean/ReduceMax at 18)
    shapes = [(2, 3, h, w) for h, w in ((4, 7), (5, 9), (9, 4))]
    _sweep("{type: AdaptiveAvgPool2d, output_size: [3, 1]}", lambda x: F.adaptive_avg_pool2d(x, (3, 1)), shapes,
           ("B", 3, "H", "W"), opset)
    _sweep("{type: AdaptiveMaxPool2d, output_size: [2, 3]}", lambda x: F.adaptive_max_pool2d(x, (2, 3)), shapes,
           ("B", 3, "H", "W"), opset)
    _sweep("{type: MaxPool2d, kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}",
           lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), shapes, ("B", 3, "H", "W"), opset)


@pytest.mark.parametrize("opset", [9, 10])
def test_fixed_size_pools_before_opset_11(opset: int) -> None:
    shapes = [(2, 3, 5, 7)]
    _sweep("{type: MaxPool2d, kernel_size: 3, stride: 2, padding: 1}", lambda x: F.max_pool2d(x, 3, 2, 1), shapes,
           None, opset)
    _sweep("{type: AvgPool2d, kernel_size: 2, padding: 1, count_include_pad: false}",
           lambda x: F.avg_pool2d(x, 2, padding=1, count_include_pad=False), shapes, None, opset)
    for op, fn in (("Avg", F.adaptive_avg_pool2d), ("Max", F.adaptive_max_pool2d)):
        _sweep(f"{{type: Adaptive{op}Pool2d, output_size: [3, 2]}}", lambda x, fn=fn: fn(x, (3, 2)), shapes, None,
               opset)
    _sweep("{type: GlobalAvgPool}", lambda x: x.mean(dim=(2, 3)), shapes, None, opset)
    if opset >= 10:  # dilation came in opset 10; windows of padding alone at H = 1
        _sweep("{type: MaxPool2d, kernel_size: 2, stride: 1, padding: 1, dilation: 2}",
               lambda x: F.max_pool2d(x, 2, 1, 1, 2), [(1, 2, 1, 3), *shapes], None, opset)


def test_ceil_mode_before_opset_10_is_unsupported_with_the_reason() -> None:
    spec = specc.loads("specc: 1\ninputs:\n  x: [B, 3, 8]\nlayers:\n"
                       "  - {type: MaxPool1d, kernel_size: 3, stride: 2, ceil_mode: true}\n", "pool.yaml")
    with pytest.raises(Unsupported, match="opset 10"):
        lower_graph(spec.graph, Weights(None, 0), opset=9)


@pytest.mark.parametrize("kind", ["GlobalAvgPool", "GlobalMaxPool"])
@pytest.mark.parametrize("keep", [False, True])
def test_global_pools_run_in_float64(kind: str, keep: bool) -> None:
    # ONNX Runtime has no double GlobalAveragePool/GlobalMaxPool on CPU: these reduce instead
    fn = torch.mean if kind == "GlobalAvgPool" else torch.amax
    _sweep(f"{{type: {kind}, keepdim: {_flag(keep)}}}", lambda x: fn(x, dim=(2, 3), keepdim=keep),
           [(2, 3, 4, 5), (1, 3, 1, 2)], ("B", 3, "H", "W"), dtype="float64")


@pytest.mark.parametrize("args", ["kernel_size: 3, stride: 2, padding: 1",
                                  "kernel_size: [3, 2], stride: 2, padding: 1, count_include_pad: false",
                                  "kernel_size: 3, stride: 2, padding: 1, ceil_mode: true",
                                  "kernel_size: [2, 3], stride: [2, 1], padding: [1, 1], ceil_mode: true, "
                                  "count_include_pad: false",
                                  "kernel_size: 3, stride: 2, padding: 1, ceil_mode: true, divisor_override: 4"])
def test_avg_pools_run_in_float64(args: str) -> None:
    # ONNX Runtime has no double AveragePool on CPU: the windows become masks, axis by axis
    layer = f"{{type: AvgPool2d, {args}}}"
    spec = specc.loads(f"specc: 1\ninputs:\n  x: [B, 2, 8, 8]\nlayers:\n  - {layer}\n", "pool.yaml")
    pool = torch.nn.AvgPool2d(**spec.graph.nodes[0].result.args)  # the resolved attributes are nn's
    _sweep(layer, pool, [(2, 2, h, h + 2) for h in (3, 4, 7)], ("B", 2, "H", "W"), dtype="float64")
    _sweep("{type: AdaptiveAvgPool2d, output_size: [2, 3]}", lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
           [(1, 2, 4, 6), (1, 2, 5, 7)], ("B", 2, "H", "W"), dtype="float64")


def _random_sliding(rng: random.Random) -> tuple[str, Callable[[torch.Tensor], torch.Tensor], int]:
    k, s = rng.randint(1, 4), rng.randint(1, 3)
    p, ceil = rng.randint(0, k // 2), rng.random() < 0.7
    if rng.random() < 0.5:
        d = rng.randint(1, 3)
        return (f"{{type: MaxPool1d, kernel_size: {k}, stride: {s}, padding: {p}, dilation: {d}, "
                f"ceil_mode: {_flag(ceil)}}}", lambda x: F.max_pool1d(x, k, s, p, d, ceil_mode=ceil),
                max(1, d * (k - 1) + 1 - 2 * p))
    cip = rng.random() < 0.5
    return (f"{{type: AvgPool1d, kernel_size: {k}, stride: {s}, padding: {p}, ceil_mode: {_flag(ceil)}, "
            f"count_include_pad: {_flag(cip)}}}",
            lambda x: F.avg_pool1d(x, k, s, p, ceil_mode=ceil, count_include_pad=cip), max(1, k - 2 * p))


@pytest.mark.skipif(not os.environ.get("SPECC_FUZZ_EXAMPLES"), reason="set SPECC_FUZZ_EXAMPLES=N to run")
def test_random_sliding_pools() -> None:
    rng = random.Random(0)
    for _ in range(int(os.environ["SPECC_FUZZ_EXAMPLES"])):
        layer, oracle, first = _random_sliding(rng)
        _sweep(layer, oracle, [(1, 2, n) for n in range(first, first + 10)], ("B", 2, "L"))
