"""ONNX lowering of Mamba (specc's own module: ``targets/torch/support/mamba.py``).

The projections and the causal conv run over the whole sequence (a depthwise Conv padded by
d_conv - 1 before the first step only); the selective scan is a Scan over T, so T and B stay
dynamic.  Its state is (B, d_inner, d_state), zeros of the input's batch; each step reads that
step's dt (B, d_inner), x (B, d_inner), B and C (B, d_state), and A = -exp(A_log) from the outer
graph: h = exp(dt·A)·h + (dt·x)·B, y = Σ h·C over the state.  D·x and the SiLU gate follow the scan.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..builder import value_info
from ..weights import Init, fan_in
from .base import Layer, lowers
from .linear import _linear
from .opset import dims_of, split, unsqueeze
from .recurrent import zeros


@dataclasses.dataclass(frozen=True)
class _LogArange(Init):
    """A_log: log(1..d_state) on every channel (mamba_ssm's S4D-real initialisation)."""

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        row = np.log(np.arange(1, shape[-1] + 1, dtype=np.float32))
        return np.broadcast_to(row, shape).copy()


@dataclasses.dataclass(frozen=True)
class _InverseSoftplusDt(Init):
    """dt_proj's bias: softplus⁻¹ of steps drawn log-uniformly in [dt_min, dt_max], at least the floor."""

    low: float = 0.001
    high: float = 0.1
    floor: float = 1e-4

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        lo, hi = math.log(self.low), math.log(self.high)
        dt = np.maximum(np.exp(rng.random(shape) * (hi - lo) + lo), self.floor)
        return (dt + np.log(-np.expm1(-dt))).astype(np.float32)


def _silu(layer: Layer, v: str) -> str:
    return layer.op("Mul", [v, layer.op("Sigmoid", [v])])


@lowers("Mamba")
def mamba(layer: Layer) -> str:
    a = layer.args
    d, inner, n, r, k = int(a["d_model"]), int(a["d_inner"]), int(a["d_state"]), int(a["dt_rank"]), int(a["d_conv"])
    t = layer.float_dtype
    xz = _linear(layer, layer.x, "in_proj", d, 2 * inner, bool(a["bias"]))
    u, z = split(layer, xz, [inner, inner], axis=2)

    # the causal depthwise conv: nn.Conv1d pads k - 1 on both sides and the module keeps the first T
    # outputs, which are those of k - 1 zeros before the first step alone
    w = layer.param("conv1d.weight", (inner, 1, k), fan_in(k))
    conv = [layer.op("Transpose", [u], perm=[0, 2, 1]), w]
    if a["conv_bias"]:
        conv.append(layer.param("conv1d.bias", (inner,), fan_in(k)))
    u = layer.op("Conv", conv, kernel_shape=[k], pads=[k - 1, 0], group=inner)
    u = _silu(layer, layer.op("Transpose", [u], perm=[0, 2, 1]))  # (B, T, d_inner)

    dt_in, b_in, c_in = split(layer, _linear(layer, u, "x_proj", inner, r + 2 * n, False), [r, n, n], axis=2)
    std = r**-0.5 * float(a["dt_scale"])
    layer.param("dt_proj.weight", (inner, r), Init("uniform", std) if a["dt_init"] == "random"
                else Init("const", value=std))
    layer.param("dt_proj.bias", (inner,), _InverseSoftplusDt("inverse-softplus", low=float(a["dt_min"]),
                                                              high=float(a["dt_max"]),
                                                              floor=float(a["dt_init_floor"])))
    dt = _linear(layer, dt_in, "dt_proj", r, inner, True)
    # F.softplus: x itself past 20, where log(1 + exp(x)) would overflow
    dt = layer.op("Where", [layer.op("Greater", [dt, layer.const(20.0, t)]), dt, layer.op("Softplus", [dt])])
    a_neg = layer.op("Neg", [layer.op("Exp", [layer.param("A_log", (inner, n), _LogArange("log-arange"))])])

    state_shape = layer.op("Concat", [dims_of(layer, layer.x, 0, 1), layer.const([inner, n])], axis=0)
    y = _scan(layer, zeros(layer, state_shape), a_neg, dt, u, b_in, c_in, inner, n)

    skip = layer.op("Mul", [u, layer.param("D", (inner,), Init("const", value=1.0))])
    y = layer.op("Mul", [layer.op("Add", [y, skip]), _silu(layer, z)])
    return _linear(layer, y, "out_proj", inner, d, bool(a["bias"]))


def _scan(layer: Layer, h0: str, a_neg: str, dt: str, u: str, b_in: str, c_in: str, inner: int, n: int) -> str:
    """The selective scan over axis 1 of dt, u (B, T, d_inner) and B, C (B, T, d_state): y (B, T, d_inner)."""
    t = layer.float_dtype
    batch = layer.in_type.shape[0]
    sb = layer.b.subgraph()
    body = dataclasses.replace(layer, b=sb)
    h, dt_t, u_t, b_t, c_t = (sb.fresh(f"{layer.path}/{v}") for v in ("h", "dt", "x", "B", "C"))
    dt_col = unsqueeze(body, dt_t, [2])  # (B, d_inner, 1)
    decay = body.op("Exp", [body.op("Mul", [dt_col, a_neg])])  # (B, d_inner, d_state)
    push = body.op("Mul", [unsqueeze(body, body.op("Mul", [dt_t, u_t]), [2]), unsqueeze(body, b_t, [1])])
    h_new = body.op("Add", [body.op("Mul", [decay, h]), push])
    read = body.op("Mul", [h_new, unsqueeze(body, c_t, [1])])
    if body.b.opset >= 13:
        y_t = body.op("ReduceSum", [read, body.const([2])], keepdims=0)
    else:
        y_t = body.op("ReduceSum", [read], axes=[2], keepdims=0)
    graph = sb.body(f"{layer.path}/step",
                    [value_info(h, t, (batch, inner, n)), value_info(dt_t, t, (batch, inner)),
                     value_info(u_t, t, (batch, inner)), value_info(b_t, t, (batch, n)),
                     value_info(c_t, t, (batch, n))],
                    [value_info(h_new, t, (batch, inner, n)), value_info(y_t, t, (batch, inner))])
    scan = layer.op("Scan", [h0, dt, u, b_in, c_in], outputs=2, body=graph, num_scan_inputs=4,
                    scan_input_axes=[1, 1, 1, 1], scan_output_axes=[1])
    return scan[1]
