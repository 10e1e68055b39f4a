"""ONNX lowering of the normalisations, as PyTorch computes them in eval mode.

BatchNorm, and InstanceNorm that tracks running statistics, normalise with those statistics:
ONNX's BatchNormalization in inference mode.  Without running statistics PyTorch normalises
with the statistics of the input itself, also in eval: over the batch and the spatial dims for
BatchNorm (written as means), per sample for InstanceNorm (InstanceNormalization).
LayerNorm is LayerNormalization from opset 17 and means before; RMSNorm is RMSNormalization from
opset 23 and x / sqrt(mean(x²) + eps) before.  GroupNorm is
InstanceNormalization over the (N, groups, -1) view, then the per-channel scale and shift: the
GroupNormalization of opsets 18 to 20 scales per group, not per channel as PyTorch does, and
ONNX's shape inference cannot type the output of opset 21's.  The tensors are PyTorch's
defaults: weight 1, bias 0, running mean 0 and running variance 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..builder import ELEM
from ..weights import ONES, ZEROS, Init
from .base import Layer, lowers
from .reduce import reduce

# torch.finfo(dtype).eps: RMSNorm's eps when the spec leaves it out
MACHINE_EPS = {"float32": 1.1920928955078125e-07, "float16": 0.0009765625, "bfloat16": 0.0078125,
               "float64": 2.220446049250313e-16}


def _affine(layer: Layer, channels: int | Sequence[int], bias: bool = True) -> tuple[str, str]:
    """The scale and shift: the layer's weight and bias, or 1 and 0 (``""`` when there is no
    shift and the op can go without one)."""
    shape = (channels,) if isinstance(channels, int) else tuple(channels)
    if layer.args.get("affine", layer.args.get("elementwise_affine", True)):
        return layer.param("weight", shape, ONES), layer.param("bias", shape, ZEROS) if bias else ""
    t = layer.float_dtype
    return layer.const(np.ones(shape), t), layer.const(np.zeros(shape), t) if bias else ""


def _per_channel(layer: Layer, v: str, c: int) -> str:
    """A (C,) tensor as (C, 1, …), to broadcast against the (N, C, …) input."""
    rank = layer.in_type.rank
    return v if rank == 2 else layer.op("Reshape", [v, layer.const([c] + [1] * (rank - 2))])


def _standardise(layer: Layer, x: str, axes: Sequence[int]) -> str:
    """(x - mean) / sqrt(var + eps) over ``axes``, with the biased variance PyTorch normalises by.

    Half precision data is standardised in float32, as PyTorch's kernels do: in float16 an eps
    under 2⁻²⁵ is 0 and a constant input gives 0 / 0, and a variance under 6e-8 is lost."""
    t = layer.float_dtype
    wide = t in ("float16", "bfloat16")
    if wide:
        x = layer.op("Cast", [x], to=ELEM["float32"])
    mean = reduce(layer, "ReduceMean", x, axes, True)
    d = layer.op("Sub", [x, mean])
    var = reduce(layer, "ReduceMean", layer.op("Mul", [d, d]), axes, True)
    eps = layer.const(float(layer.args["eps"]), "float32" if wide else t)
    y = layer.op("Div", [d, layer.op("Sqrt", [layer.op("Add", [var, eps])])])
    return layer.op("Cast", [y], to=ELEM[t]) if wide else y


@lowers("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def channel_norm(layer: Layer) -> str:
    c, eps = int(layer.args["num_features"]), float(layer.args["eps"])
    scale, shift = _affine(layer, c)
    if layer.args["track_running_stats"]:
        mean = layer.param("running_mean", (c,), ZEROS)
        var = layer.param("running_var", (c,), ONES)
        return layer.op("BatchNormalization", [layer.x, scale, shift, mean, var], epsilon=eps)
    if layer.kind.startswith("Instance"):
        return layer.op("InstanceNormalization", [layer.x, scale, shift], epsilon=eps)
    # eval without running statistics: the batch's own, per channel
    rank = layer.in_type.rank
    y = _standardise(layer, layer.x, [0, *range(2, rank)])
    return layer.op("Add", [layer.op("Mul", [y, _per_channel(layer, scale, c)]), _per_channel(layer, shift, c)])


@lowers("LayerNorm")
def layer_norm(layer: Layer) -> str:
    given = layer.args["normalized_shape"]
    shape = (given,) if isinstance(given, int) else tuple(given)
    scale, shift = _affine(layer, shape, bool(layer.args["bias"]))
    eps = float(layer.args["eps"])
    if layer.b.opset >= 17:
        return layer.op("LayerNormalization", [layer.x, scale, shift] if shift else [layer.x, scale],
                        axis=-len(shape), epsilon=eps)
    rank = layer.in_type.rank
    y = layer.op("Mul", [_standardise(layer, layer.x, range(rank - len(shape), rank)), scale])
    return layer.op("Add", [y, shift]) if shift else y


@lowers("RMSNorm")
def rms_norm(layer: Layer) -> str:
    given = layer.args["normalized_shape"]
    shape = (given,) if isinstance(given, int) else tuple(given)
    t = layer.float_dtype
    eps = float(layer.args["eps"] if layer.args["eps"] is not None else MACHINE_EPS[t])
    scale = ""
    if layer.args["elementwise_affine"] and layer.args.get("add_unit_offset"):  # Gemma's 1 + weight
        scale = layer.op("Add", [layer.param("weight", shape, ZEROS), layer.const(1.0, t)])
    elif layer.args["elementwise_affine"]:
        scale = layer.param("weight", shape, ONES)
    if layer.b.opset >= 23:
        return layer.op("RMSNormalization", [layer.x, scale or layer.const(np.ones(shape), t)], axis=-len(shape),
                        epsilon=eps)
    rank = layer.in_type.rank
    square = layer.op("Mul", [layer.x, layer.x])
    mean = reduce(layer, "ReduceMean", square, list(range(rank - len(shape), rank)), keepdims=True)
    root = layer.op("Sqrt", [layer.op("Add", [mean, layer.const(eps, t)])])
    y = layer.op("Div", [layer.x, root])
    return layer.op("Mul", [y, scale]) if scale else y


@lowers("LayerScale")
def layer_scale(layer: Layer) -> str:
    # x · gamma (+ beta), the (C,) parameters viewed as (C, 1, ..., 1) to broadcast from dim on
    c, trailing = int(layer.args["num_features"]), -int(layer.args["dim"]) - 1
    shape = layer.const([c] + [1] * trailing)
    gamma = layer.param("gamma", (c,), Init("const", value=float(layer.args["init_values"])))
    y = layer.op("Mul", [layer.x, layer.op("Reshape", [gamma, shape]) if trailing else gamma])
    if not layer.args["bias"]:
        return y
    beta = layer.param("beta", (c,), ZEROS)
    return layer.op("Add", [y, layer.op("Reshape", [beta, shape]) if trailing else beta])


@lowers("GroupNorm")
def group_norm(layer: Layer) -> str:
    g, c, eps = int(layer.args["num_groups"]), int(layer.args["num_channels"]), float(layer.args["eps"])
    scale, shift = _affine(layer, c)
    t = layer.float_dtype
    grouped = layer.op("Reshape", [layer.x, layer.const([0, g, -1])])
    normed = layer.op("InstanceNormalization", [grouped, layer.const(np.ones(g), t), layer.const(np.zeros(g), t)],
                      epsilon=eps)
    y = layer.op("Reshape", [normed, layer.op("Shape", [layer.x])])
    if not layer.args["affine"]:
        return y
    return layer.op("Add", [layer.op("Mul", [y, _per_channel(layer, scale, c)]), _per_channel(layer, shift, c)])


@lowers("Normalize")
def normalize(layer: Layer) -> str:
    # F.normalize: x / clamp_min(‖x‖_p, eps), the norm kept as a dim of 1 to broadcast
    d = int(layer.args["dim"]) % layer.in_type.rank
    norm = reduce(layer, "ReduceL2" if int(layer.args["p"]) == 2 else "ReduceL1", layer.x, [d], True)
    norm = layer.op("Max", [norm, layer.const(float(layer.args["eps"]), layer.float_dtype)])
    return layer.op("Div", [layer.x, norm])
