"""ONNX lowering of the padding layers, and the padding the convolutions' padding_mode needs.

ONNX's Pad has PyTorch's modes under other names: ``constant`` (ZeroPad, ConstantPad, a conv's
zeros), ``reflect`` (mirror without repeating the edge, as ReflectionPad) and ``edge``
(ReplicationPad).  PyTorch's ``circular`` is Pad's ``wrap`` from opset 19; before it, each dim
is wrapped by concatenating its last and first slices around it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import Layer, lowers

# PyTorch's padding_mode (and the pad layers' kinds) -> ONNX Pad's mode
_MODES = {"zeros": "constant", "constant": "constant", "reflect": "reflect", "replicate": "edge"}
# the pad layers' family (ZeroPad2d's is Zero) -> PyTorch's mode
_FAMILY_MODE = {"Zero": "constant", "Constant": "constant", "Reflection": "reflect", "Replication": "replicate"}
_INT64_MAX = 2**63 - 1


def pad(layer: Layer, x: str, rank: int, sides: Sequence[tuple[int, int]], mode: str, value: float = 0.0,
        dtype: str | None = None) -> str:
    """``x`` (of ``rank`` dims) padded on its last ``len(sides)`` dims by (before, after) each,
    the first padded dim first; ``mode`` is PyTorch's (zeros, constant, reflect, replicate,
    circular). A constant pad fills with ``value`` in ``dtype`` (the layer's float type by default)."""
    if mode == "circular":
        return _wrap(layer, x, rank, sides)
    onnx_mode = _MODES[mode]
    if layer.b.opset < 11:  # pads and value were attributes then
        return layer.op("Pad", [x], mode=onnx_mode, pads=_pads(rank, sides),
                        value=float(value) if onnx_mode == "constant" else None)
    if onnx_mode == "constant" and layer.b.opset >= 18:
        # A Pad naming its axes is one ONNX Runtime's PadFusion leaves alone; without them it folds a
        # zero pad into a MaxPool after it, which pads with -inf where PyTorch padded zeros.
        axes = list(range(rank - len(sides), rank))
        fill = layer.const(value, dtype or layer.float_dtype)
        return layer.op("Pad", [x, layer.const(_pads(len(sides), sides)), fill, layer.const(axes)], mode=onnx_mode)
    inputs = [x, layer.const(_pads(rank, sides))]
    if onnx_mode == "constant" and value:
        inputs.append(layer.const(value, dtype or layer.float_dtype))
    return layer.op("Pad", inputs, mode=onnx_mode)


def _wrap(layer: Layer, x: str, rank: int, sides: Sequence[tuple[int, int]]) -> str:
    """PyTorch's circular padding: the last ``before`` elements of a dim go before it, its first
    ``after`` elements after it (each at most the dim's size, as specc checks)."""
    if layer.b.opset >= 19:
        return layer.op("Pad", [x, layer.const(_pads(rank, sides))], mode="wrap")
    for i, (before, after) in enumerate(sides):
        axis = rank - len(sides) + i
        parts = [_slice(layer, x, -before, _INT64_MAX, axis)] if before else []
        parts.append(x)
        if after:
            parts.append(_slice(layer, x, 0, after, axis))
        x = layer.op("Concat", parts, axis=axis) if len(parts) > 1 else x
    return x


def _pads(rank: int, sides: Sequence[tuple[int, int]]) -> list[int]:
    """ONNX's pads: every dim's start, then every dim's end; the leading dims unpadded."""
    lead = [0] * (rank - len(sides))
    return [*lead, *(before for before, _ in sides), *lead, *(after for _, after in sides)]


def _slice(layer: Layer, x: str, start: int, end: int, axis: int) -> str:
    if layer.b.opset < 10:  # starts, ends and axes were attributes then
        return layer.op("Slice", [x], starts=[start], ends=[end], axes=[axis])
    return layer.op("Slice", [x, layer.const([start]), layer.const([end]), layer.const([axis])])


def pytorch_sides(padding: int | Sequence[int], n: int) -> list[tuple[int, int]]:
    """(before, after) per padded dim, the first first, from PyTorch's padding: one number for every
    side, or (left, right, top, bottom, front, back), the last dim first."""
    if isinstance(padding, int):
        return [(padding, padding)] * n
    pairs = [(padding[2 * i], padding[2 * i + 1]) for i in range(n)]
    return pairs[::-1]


@lowers(*(f"{family}Pad{n}d" for family in _FAMILY_MODE for n in (1, 2, 3)))
def pad_layer(layer: Layer) -> str:
    family, n = layer.kind.partition("Pad")[0], int(layer.kind[-2])
    # an integer input pads with the value in its own type (specc checks that value fits it)
    return pad(layer, layer.x, layer.in_type.rank, pytorch_sides(layer.args["padding"], n), _FAMILY_MODE[family],
               float(layer.args.get("value", 0.0)), dtype=layer.in_type.dtype)
