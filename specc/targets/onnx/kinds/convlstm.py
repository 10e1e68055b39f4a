"""ONNX lowering of ConvLSTM2d (specc's own module: ``targets/torch/support/conv_lstm.py``).

Each layer is a Scan over the time axis of (B, T, C, H, W), so T stays dynamic: the body is
that module's step, one Conv over concat(x_t, h) giving the (i, f, g, o) gates with 'same'
padding, then the LSTM cell.  The states start at zeros of (B, hidden, H, W) read from the
input's shape.  Without ``return_sequences`` the top layer's final h is the last step.
"""

from __future__ import annotations

import dataclasses

from ..builder import value_info
from ..weights import fan_in
from .base import Layer, lowers
from .opset import dims_of
from .recurrent import lstm_cell, zeros


@lowers("ConvLSTM2d")
def conv_lstm(layer: Layer) -> str:
    a = layer.args
    hidden = a["hidden_channels"]
    hidden = [hidden] * a["num_layers"] if isinstance(hidden, int) else list(hidden)
    hidden += [hidden[-1]] * (a["num_layers"] - len(hidden))
    k = a["kernel_size"]
    kh, kw = (k, k) if isinstance(k, int) else k
    x = layer.x
    c_in = a["in_channels"]
    for i, h in enumerate(hidden):
        top = i == len(hidden) - 1
        x = _layer(layer, x, i, c_in, h, (kh, kw), sequences=not top or a["return_sequences"])
        c_in = h
    return x


def _layer(layer: Layer, x: str, i: int, c_in: int, h: int, kernel: tuple[int, int], sequences: bool) -> str:
    kh, kw = kernel
    fan = (c_in + h) * kh * kw  # nn.Conv2d's default: U(±1/sqrt(fan_in)) for the weight and the bias
    w = layer.param(f"cells.{i}.weight", (4 * h, c_in + h, kh, kw), fan_in(fan))
    b = layer.param(f"cells.{i}.bias", (4 * h,), fan_in(fan)) if layer.args["bias"] else ""
    # padding='same' as PyTorch splits it: the odd one out goes after
    pads = [(kh - 1) // 2, (kw - 1) // 2, kh - 1 - (kh - 1) // 2, kw - 1 - (kw - 1) // 2]
    state_shape = layer.op("Concat", [dims_of(layer, x, 0, 1), layer.const([h]), dims_of(layer, x, 3, 5)], axis=0)
    h0 = zeros(layer, state_shape)
    c0 = zeros(layer, state_shape)

    t = layer.float_dtype
    batch, _, _, height, width = layer.in_type.shape
    sb = layer.b.subgraph()
    body = dataclasses.replace(layer, b=sb)
    h_in, c_in_, x_t = (sb.fresh(f"{layer.path}/{n}") for n in (f"h{i}", f"c{i}", f"x{i}"))
    conv = [body.op("Concat", [x_t, h_in], axis=1), w, *([b] if b else [])]
    h_new, c_new = lstm_cell(body, body.op("Conv", conv, kernel_shape=[kh, kw], pads=pads), c_in_, h)
    state = (batch, h, height, width)
    outputs = [value_info(h_new, t, state), value_info(c_new, t, state)]
    if sequences:
        h_step = body.op("Identity", [h_new])  # listed twice, ONNX Runtime loses the final state
        outputs.append(value_info(h_step, t, state))
    graph = sb.body(f"{layer.path}/step{i}", [value_info(h_in, t, state), value_info(c_in_, t, state),
                                              value_info(x_t, t, (batch, c_in, height, width))], outputs)
    scan = layer.op("Scan", [h0, c0, x], outputs=len(outputs), body=graph, num_scan_inputs=1,
                    scan_input_axes=[1], scan_output_axes=[1] if sequences else None)
    return scan[2] if sequences else scan[0]
