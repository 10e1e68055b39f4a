"""ONNX ops whose form changed between opsets (a model's opset may be 9 to 23), written once for
every family: Squeeze and Unsqueeze take their axes as an input from opset 13, Split its sizes
from 13, Slice its bounds from 10, and Shape its own start and end from 15."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Layer


def squeeze(layer: Layer, v: str, axes: Sequence[int]) -> str:
    if layer.b.opset >= 13:
        return layer.op("Squeeze", [v, layer.const(list(axes))])
    return layer.op("Squeeze", [v], axes=list(axes))


def unsqueeze(layer: Layer, v: str, axes: Sequence[int] = (0,)) -> str:
    if layer.b.opset >= 13:
        return layer.op("Unsqueeze", [v, layer.const(list(axes))])
    return layer.op("Unsqueeze", [v], axes=list(axes))


def slice_axis(layer: Layer, v: str, start: int, end: int, axis: int) -> str:
    if layer.b.opset >= 10:
        return layer.op("Slice", [v, layer.const([start]), layer.const([end]), layer.const([axis])])
    return layer.op("Slice", [v], starts=[start], ends=[end], axes=[axis])


def split(layer: Layer, v: str, sizes: Sequence[int], axis: int) -> list[str]:
    if len(sizes) == 1:
        return [v]
    if layer.b.opset >= 13:
        return list(layer.op("Split", [v, layer.const(list(sizes))], outputs=len(sizes), axis=axis))
    return list(layer.op("Split", [v], outputs=len(sizes), axis=axis, split=list(sizes)))


def dims_of(layer: Layer, v: str, start: int, end: int) -> str:
    """The sizes of axes start..end-1 of ``v`` at run time (a 1-D int64 tensor)."""
    if layer.b.opset >= 15:
        return layer.op("Shape", [v], start=start, end=end)
    return slice_axis(layer, layer.op("Shape", [v]), start, end, 0)
