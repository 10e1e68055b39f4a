"""ONNX lowering of the layers that move elements around: Identity, Flatten, Unflatten, Reshape,
Permute, Transpose, Squeeze, Unsqueeze, Slice, Split, Chunk, Cast, PixelShuffle, PixelUnshuffle,
Repeat, RepeatVector.

A new shape is written so that it holds at every size of the symbols: fixed sizes as numbers, a
dim kept in place as Reshape's 0, the one inferred size as -1, and any other symbolic size read
from the layer's input at run time (``Shape``), never the size it had at export.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..builder import ELEM
from . import opset
from .base import Layer, lowers

_END = 2**63 - 1  # Slice's "to the end" (INT64_MAX)
_NATIVE_DEPTH_TO_SPACE = ("float32", "float64")  # DepthToSpace's element types in ONNX Runtime's CPU kernel


@dataclass(frozen=True)
class Axis:
    """A size read from the layer's input at run time: its dim ``axis``, times ``times``, over ``by``
    (``of``: the index of the input it is read from)."""

    axis: int
    times: int = 1
    by: int = 1
    of: int = 0


Piece = int | Axis


def _at(layer: Layer, axis: int, times: int = 1, by: int = 1) -> Piece:
    """Dim ``axis`` of the input (scaled): a number when specc knows it, else read at run time."""
    d = layer.in_type.shape[axis]
    if isinstance(d, int):
        return d * times // by
    return Axis(axis, times, by)


def _kept(layer: Layer, axis: int) -> Piece:
    """Dim ``axis`` of the input at the same place of the output: Reshape's 0 when it is symbolic."""
    d = layer.in_type.shape[axis]
    return d if isinstance(d, int) else 0


def _shape(layer: Layer, pieces: Sequence[Piece]) -> str:
    """The 1-D shape tensor of ``pieces``: one constant when none is read at run time."""
    if all(isinstance(p, int) for p in pieces):
        return layer.const(list(pieces))
    parts: list[str] = []
    run: list[int] = []
    for p in pieces:
        if isinstance(p, int):
            run.append(p)
            continue
        if run:
            parts.append(layer.const(run))
            run = []
        v = opset.dims_of(layer, layer.inputs[p.of], p.axis, p.axis + 1)
        if p.times != 1:
            v = layer.op("Mul", [v, layer.const([p.times])])
        if p.by != 1:
            v = layer.op("Div", [v, layer.const([p.by])])  # sizes are non-negative: Div's truncation floors
        parts.append(v)
    if run:
        parts.append(layer.const(run))
    return layer.op("Concat", parts, axis=0)


def _reshape(layer: Layer, x: str, pieces: Sequence[Piece]) -> str:
    return layer.op("Reshape", [x, _shape(layer, pieces)])


@lowers("Identity")
def identity(layer: Layer) -> str:
    return layer.op("Identity", [layer.x])


@lowers("Flatten")
def flatten(layer: Layer) -> str:
    rank = layer.in_type.rank
    if rank == 0:  # PyTorch flattens a 0-d tensor into one element
        return _reshape(layer, layer.x, [1])
    start, end = int(layer.args["start_dim"]) % rank, int(layer.args["end_dim"]) % rank
    if start == 1 and end == rank - 1:
        return layer.op("Flatten", [layer.x], axis=1)
    pieces = [_kept(layer, i) for i in range(start)] + [-1] + [_at(layer, i) for i in range(end + 1, rank)]
    return _reshape(layer, layer.x, pieces)


@lowers("Unflatten")
def unflatten(layer: Layer) -> str:
    rank = layer.in_type.rank
    d = int(layer.args["dim"]) % rank
    reads = layer.args.get("reads") or [None] * len(layer.args["unflattened_size"])
    sizes = [int(e) if read is None else _read(layer, read) for e, read in zip(layer.args["unflattened_size"], reads)]
    pieces = [_kept(layer, i) for i in range(d)] + sizes + [_at(layer, i) for i in range(d + 1, rank)]
    return _reshape(layer, layer.x, pieces)


@lowers("Reshape")
def reshape(layer: Layer) -> str:
    pieces: list[Piece] = []
    for i, (e, read) in enumerate(zip(layer.args["shape"], layer.args["reads"])):
        if read is None:
            pieces.append(int(e))
            continue
        pieces.append(0 if read[0] == 0 and read[1] == i and not isinstance(layer.in_type.shape[i], int)
                      else _read(layer, read))  # Reshape's 0 keeps a symbolic dim in place
    return _reshape(layer, layer.x, pieces)


def _read(layer: Layer, read: Sequence[int]) -> Piece:
    """Dim ``read[1]`` of input ``read[0]``: a number when specc knows it, else read at run time
    (Shape, sliced to the dim, into the Concat that feeds Reshape)."""
    which, a = int(read[0]), int(read[1])
    d = layer.in_types[which].shape[a]
    return d if isinstance(d, int) else Axis(a, of=which)


@lowers("Permute")
def permute(layer: Layer) -> str:
    rank = layer.in_type.rank
    return layer.op("Transpose", [layer.x], perm=[int(d) % rank for d in layer.args["dims"]])


@lowers("Transpose")
def transpose(layer: Layer) -> str:
    rank = layer.in_type.rank
    perm = list(range(rank))
    a, b = int(layer.args["dim0"]) % rank, int(layer.args["dim1"]) % rank
    perm[a], perm[b] = perm[b], perm[a]
    return layer.op("Transpose", [layer.x], perm=perm)


@lowers("Squeeze")
def squeeze(layer: Layer) -> str:
    dim = layer.args["dim"]
    rank = layer.in_type.rank
    axes = sorted({int(d) % rank for d in ((dim,) if isinstance(dim, int) else dim)})
    return opset.squeeze(layer, layer.x, axes)


@lowers("Unsqueeze")
def unsqueeze(layer: Layer) -> str:
    return opset.unsqueeze(layer, layer.x, [int(layer.args["dim"]) % (layer.in_type.rank + 1)])


@lowers("Repeat")
def repeat(layer: Layer) -> str:
    repeats = [int(r) for r in layer.args["repeats"]]
    extra = len(repeats) - layer.in_type.rank
    x = opset.unsqueeze(layer, layer.x, list(range(extra))) if extra else layer.x  # PyTorch's new leading dims
    return layer.op("Tile", [x, layer.const(repeats)])


@lowers("RepeatVector")
def repeat_vector(layer: Layer) -> str:
    x = opset.unsqueeze(layer, layer.x, [1])
    return layer.op("Tile", [x, layer.const([1, int(layer.args["n"]), 1])])


@lowers("Slice")
def slice_(layer: Layer) -> str:
    # specc has checked every index against the dim at every size, so ONNX's clamping never acts
    d, start, stop, step = (layer.args[k] for k in ("dim", "start", "stop", "step"))
    end = _END if stop is None else int(stop)
    if layer.b.opset >= 10:
        return layer.op("Slice", [layer.x, layer.const([start]), layer.const([end]), layer.const([d]),
                                  layer.const([step])])
    if step == 1:
        return layer.op("Slice", [layer.x], starts=[start], ends=[end], axes=[d])
    size = layer.in_type.shape[d]
    assert isinstance(size, int), "limits.py refuses a stepped slice of a symbolic size below opset 10"
    return layer.op("Gather", [layer.x, layer.const(list(range(size))[start:stop:step])], axis=d)


@lowers("Roll")
def roll(layer: Layer) -> str:
    # torch.roll by s along d is cat(x[-s:], x[:-s]) along d (s > 0), cat(x[|s|:], x[:|s|]) (s < 0):
    # check has made s at most the dim's size at every size of a symbolic one
    x = layer.x
    for shift, d in zip(layer.args["shifts"], layer.args["dims"]):
        if shift == 0:
            continue
        cut = -shift  # x[-s:] then x[:-s]; for s < 0, x[|s|:] then x[:|s|]
        tail = _slice(layer, x, cut, _END, d)
        head = _slice(layer, x, 0, cut, d)
        x = layer.op("Concat", [tail, head], axis=d)
    return x


def _slice(layer: Layer, x: str, start: int, end: int, d: int) -> str:
    if layer.b.opset >= 10:
        return layer.op("Slice", [x, layer.const([start]), layer.const([end]), layer.const([d])])
    return layer.op("Slice", [x], starts=[start], ends=[end], axes=[d])


@lowers("Split", "Chunk")
def split(layer: Layer) -> list[str]:
    d = int(layer.args["dim"]) % layer.in_type.rank
    sizes = [int(t.shape[d]) for t in layer.outs]
    if layer.b.opset >= 13:
        parts = layer.op("Split", [layer.x, layer.const(sizes)], outputs=len(sizes), axis=d)
    else:
        parts = layer.op("Split", [layer.x], outputs=len(sizes), axis=d, split=sizes)
    return parts if isinstance(parts, list) else [parts]


@lowers("Cast")
def cast(layer: Layer) -> str:
    return layer.op("Cast", [layer.x], to=ELEM[layer.args["dtype"]])


@lowers("PixelShuffle")
def pixel_shuffle(layer: Layer) -> str:
    r = int(layer.args["upscale_factor"])
    if layer.in_type.dtype in _NATIVE_DEPTH_TO_SPACE and layer.b.opset >= 11:  # DepthToSpace has modes from 11
        # DepthToSpace's CRD order is PyTorch's: channel c·r² + i·r + j goes to pixel (h·r + i, w·r + j)
        return layer.op("DepthToSpace", [layer.x], blocksize=r, mode="CRD")
    c = layer.out.shape[1]
    blocks = _reshape(layer, layer.x, [_kept(layer, 0), c if isinstance(c, int) else -1, r, r, _at(layer, 2),
                                       _at(layer, 3)])
    moved = layer.op("Transpose", [blocks], perm=[0, 1, 4, 2, 5, 3])
    return _reshape(layer, moved, [_kept(layer, 0), -1, _at(layer, 2, times=r), _at(layer, 3, times=r)])


@lowers("PixelUnshuffle")
def pixel_unshuffle(layer: Layer) -> str:
    # ONNX's SpaceToDepth orders the new channels block-first (DCR); PyTorch's pixel_unshuffle
    # orders them channel-first: channel c·r² + i·r + j holds pixel (h·r + i, w·r + j) of channel c
    r = int(layer.args["downscale_factor"])
    h, w = _at(layer, 2, by=r), _at(layer, 3, by=r)
    blocks = _reshape(layer, layer.x, [_kept(layer, 0), _kept(layer, 1), h, r, w, r])
    moved = layer.op("Transpose", [blocks], perm=[0, 1, 3, 5, 2, 4])
    return _reshape(layer, moved, [_kept(layer, 0), -1, h, w])


@lowers("Triangle")
def triangle(layer: Layer) -> str:
    # the matrix flattened (its leading dims read at run time), then one Gather of the positions
    # torch.tril_indices names, as numbers in the flattened rows
    rows, cols, offset = int(layer.args["rows"]), int(layer.args["cols"]), int(layer.args["offset"])
    rank = layer.in_type.rank
    flat = layer.op("Reshape", [layer.x, layer.shape([*layer.in_type.shape[:-2], rows * cols])])
    index = [i * cols + j for i in range(rows) for j in range(cols) if j <= i + offset]
    return layer.op("Gather", [flat, layer.const(index)], axis=rank - 2)
