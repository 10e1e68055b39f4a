"""ConvLSTM2d (Shi et al., 2015), which PyTorch lacks: an LSTM whose gates are convolutions.

Input (B, T, C, H, W); output (B, T, hidden, H, W) with ``return_sequences: true``, else the
last step (B, hidden, H, W) (Keras' default).  Each layer is one conv over
``cat([x_t, h])`` giving the four gates, with 'same' padding so H and W are kept.

Parameters: Σ_layers 4·h·(c + h)·kh·kw (+ 4·h bias), c the layer's input channels.
MACs per sample: T·H·W · Σ_layers 4·h·(c + h)·kh·kw (the gate convs at every step).
"""

import math
from typing import Any

from pydantic import AliasChoices, Field, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import mul, product
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, check_given, ntuple, register, sizes


class ConvLSTMParams(LayerParams):
    hidden_channels: PositiveInt | tuple[PositiveInt, ...] = Field(
        validation_alias=AliasChoices("hidden_channels", "filters"))
    kernel_size: PositiveInt | tuple[PositiveInt, PositiveInt] = 3
    num_layers: PositiveInt | None = None
    bias: bool = Field(True, validation_alias=AliasChoices("bias", "use_bias"))
    return_sequences: bool = False
    in_channels: PositiveInt | None = None


@register
class ConvLSTM2d(LayerKind):
    type_name = "ConvLSTM2d"
    aliases = ("ConvLSTM2D",)
    Params = ConvLSTMParams
    ranks = (5,)
    layout = "(B, T, C, H, W)"
    summary = "convolutional LSTM over (B, T, C, H, W) frames; return_sequences or the last step"

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        n = int(args["num_layers"])
        hidden, k = sizes(args["hidden_channels"], n), sizes(args["kernel_size"], 2)
        out: dict[str, tuple[int, ...]] = {}
        for i, h in enumerate(hidden):
            c_in = int(args["in_channels"]) if i == 0 else hidden[i - 1]
            out[f"cells.{i}.weight"] = (4 * h, c_in + h, *k)
            if args["bias"]:
                out[f"cells.{i}.bias"] = (4 * h,)
        return out

    def infer(self, p: ConvLSTMParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        hidden, n_layers = self._hidden(p)
        k = ntuple(p.kernel_size, 2, "kernel_size")
        c = check_given(p.in_channels, x.shape[2], "in_channels", x, 2, "channels per frame")
        # (in, out, how many such layers): equal layers are counted, not listed, since
        # num_layers is whatever the spec says (2**63 - 1 once exhausted memory).
        stack = [(c_in, h, 1) for c_in, h in zip((c, *hidden[:-1]), hidden)]
        if n_layers > len(hidden):
            stack.append((hidden[-1], hidden[-1], n_layers - len(hidden)))
        params = 0
        per_pixel = 0
        for c_in, h, times in stack:
            weights = 4 * h * (c_in + h) * math.prod(k)
            params += times * (weights + (4 * h if p.bias else 0))
            per_pixel += times * weights
        b, t, _, height, width = x.shape
        top = hidden[-1]
        if p.return_sequences:
            out = TensorType((b, t, top, height, width), x.dtype, {2: "hidden channels of the top layer"})
        else:
            out = TensorType((b, top, height, width), x.dtype, {1: "hidden channels of the top layer"})
        args = {"in_channels": c, "hidden_channels": hidden[0] if len(set(hidden)) == 1 else hidden,
                "kernel_size": k[0] if k[0] == k[1] else k, "num_layers": n_layers, "bias": p.bias,
                "return_sequences": p.return_sequences}
        return LayerResult(out, args, params, mul(product((t, height, width)), per_pixel))

    @staticmethod
    def _hidden(p: ConvLSTMParams) -> tuple[tuple[int, ...], int]:
        """The layers' hidden channels (the last one repeats to fill num_layers), and num_layers."""
        if isinstance(p.hidden_channels, int):
            return (p.hidden_channels,), p.num_layers or 1
        if not p.hidden_channels:
            raise SpecError("V003", "hidden_channels is an empty list", "give one number per layer, e.g. [32, 32]",
                            field="hidden_channels")
        if p.num_layers is not None and p.num_layers != len(p.hidden_channels):
            n = len(p.hidden_channels)
            raise SpecError("V003", f"num_layers is {p.num_layers} but hidden_channels lists {n} layers",
                            f"set num_layers: {n}, or omit it", field="num_layers")
        return tuple(p.hidden_channels), len(p.hidden_channels)
