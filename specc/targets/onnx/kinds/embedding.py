"""ONNX lowering of Embedding (Gather of the table's rows by id) and SinusoidalEmbedding.

The table is drawn from N(0, 1), with the padding_idx row zero, as nn.Embedding initialises it.
With max_norm, PyTorch rescales each row it looks up whose norm exceeds max_norm to
max_norm / (norm + 1e-7) of itself (in place, in the table): the rows gathered are rescaled
the same way, so every lookup returns what PyTorch's does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from onnx import numpy_helper

from ..builder import ELEM
from ..weights import Init
from .base import Layer, lowers
from .opset import unsqueeze
from .reduce import reduce
from .reparam import weight


@dataclass(frozen=True)
class _PaddedNormal(Init):
    """N(0, 1) with one row zero (nn.Embedding's reset_parameters with a padding_idx)."""

    row: int = 0

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        table = super().draw(rng, shape)
        table[self.row] = 0.0
        return table


@lowers("Embedding")
def embedding(layer: Layer) -> str:
    n, dim, pad = int(layer.args["num_embeddings"]), int(layer.args["embedding_dim"]), layer.args["padding_idx"]
    init = Init("normal", 1.0) if pad is None else _PaddedNormal("normal", 1.0, row=int(pad) % n)
    rows = layer.op("Gather", [weight(layer, (n, dim), init, layer.out.dtype), layer.x], axis=0)
    max_norm = layer.args["max_norm"]
    if max_norm is None:
        return rows
    t = layer.out.dtype
    norm = _norm(layer, rows, float(layer.args["norm_type"]))
    over = layer.op("Greater", [norm, layer.const(float(max_norm), t)])
    shrink = layer.op("Div", [layer.const(float(max_norm), t), layer.op("Add", [norm, layer.const(1e-7, t)])])
    return layer.op("Mul", [rows, layer.op("Where", [over, shrink, layer.const(1.0, t)])])


def _norm(layer: Layer, rows: str, p: float) -> str:
    """The p-norm of each row (the last axis, kept)."""
    last = [layer.out.rank - 1]
    if p == 1:
        return reduce(layer, "ReduceL1", rows, last, True)
    if p == 2:
        return reduce(layer, "ReduceL2", rows, last, True)
    magnitude = layer.op("Abs", [rows])
    if math.isinf(p):
        return reduce(layer, "ReduceMax", magnitude, last, True)
    t = layer.out.dtype
    total = reduce(layer, "ReduceSum", layer.op("Pow", [magnitude, layer.const(p, t)]), last, True)
    return layer.op("Pow", [total, layer.const(1.0 / p, t)])


@lowers("SinusoidalEmbedding")
def sinusoidal_embedding(layer: Layer) -> str:
    # diffusers' get_timestep_embedding step by step, in float32: the frequencies from the indices
    # 0..half-1 (a constant of whole numbers, exact), the timesteps cast to float32
    a = layer.args
    dim, half = int(a["dim"]), int(a["dim"]) // 2
    f32 = "float32"
    k = layer.const(np.arange(half, dtype=np.float32), f32)
    exponent = layer.op("Mul", [layer.const(-math.log(a["max_period"]), f32), k])
    exponent = layer.op("Div", [exponent, layer.const(half - a["downscale_freq_shift"], f32)])
    freqs = layer.op("Exp", [exponent])
    t = layer.x if layer.in_type.dtype == f32 else layer.op("Cast", [layer.x], to=ELEM[f32])
    args = layer.op("Mul", [unsqueeze(layer, t, [1]), freqs])
    if a["scale"] != 1.0:
        args = layer.op("Mul", [layer.const(a["scale"], f32), args])
    sin, cos = layer.op("Sin", [args]), layer.op("Cos", [args])
    parts = [cos, sin] if a["flip_sin_to_cos"] else [sin, cos]
    if dim % 2:
        # the zero an odd dim is padded with, one per sample
        parts.append(layer.op("ConstantOfShape", [layer.shape([layer.in_type.shape[0], 1])],
                              value=numpy_helper.from_array(np.zeros(1, dtype=np.float32))))
    return layer.op("Concat", parts, axis=1)


@dataclass(frozen=True)
class _Copy(Init):
    """The values another tensor was drawn with (the codebook's moving average starts as the codebook)."""

    layer: Layer | None = None
    of: str = ""

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        assert self.layer is not None
        return np.array(self.layer.b.initializers[self.of], dtype=np.float32).reshape(shape)


@lowers("VectorQuantizer")
def vector_quantizer(layer: Layer) -> list[str]:
    # the features moved last and flattened; the nearest vector by ||x||² - 2 x·e + ||e||², the first of
    # equals (ArgMin, as the reference's max of the negated distances); its row of the codebook gathered
    a, t, rank = layer.args, layer.float_dtype, layer.in_type.rank
    k, dim, d = int(a["num_embeddings"]), int(a["embedding_dim"]), int(a["dim"]) % rank
    embed = layer.param("embed", (dim, k), Init("normal", 1.0), t)
    layer.param("cluster_size", (k,), Init("constant", value=0.0), t)
    layer.param("embed_avg", (dim, k), _Copy("derived", layer=layer, of=embed), t)
    order = [i for i in range(rank) if i != d] + [d]
    moved = layer.x if d == rank - 1 else layer.op("Transpose", [layer.x], perm=order)
    flat = layer.op("Reshape", [moved, layer.const([-1, dim])])
    dist = layer.op("Sub", [reduce(layer, "ReduceSum", layer.op("Mul", [flat, flat]), [1], True),
                            layer.op("Mul", [layer.const(2.0, t), layer.op("MatMul", [flat, embed])])])
    dist = layer.op("Add", [dist, reduce(layer, "ReduceSum", layer.op("Mul", [embed, embed]), [0], True)])
    codes = layer.op("ArgMin", [dist], axis=1, keepdims=0)  # the first of equals at every opset (the default)
    quantized = layer.op("Gather", [layer.op("Transpose", [embed], perm=[1, 0]), codes], axis=0)
    kept = layer.shape(layer.out.shape) if d == rank - 1 else None
    moved_shape = layer.shape([layer.in_type.shape[i] for i in order])
    quantized = layer.op("Reshape", [quantized, moved_shape if kept is None else kept])
    if d != rank - 1:
        back = [order.index(i) for i in range(rank)]
        quantized = layer.op("Transpose", [quantized], perm=back)
    codes = layer.op("Reshape", [codes, layer.shape([layer.in_type.shape[i] for i in order[:-1]])])
    return [quantized, codes]
