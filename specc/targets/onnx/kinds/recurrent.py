"""ONNX lowering of RNN, LSTM, GRU and Select.

Each stacked layer is one of ONNX's own RNN, LSTM or GRU ops, which run time-major (T, B, F):
the ``layout`` attribute that would take (B, T, F) is missing from some runtimes, so a
batch-first input is transposed once and every layer above reads the layer below's (T, B, D·H).
PyTorch's tensors are packed into ONNX's layout when the model is written (gate blocks
reordered, the two biases side by side), so the initialisers are what a runtime or a
quantiser reads as the op's W, R and B.  ``output: last`` and ``final_hidden`` are the top
layer's final state Y_h: without padding the forward direction's last step and the backward
direction's first step are exactly the states each direction ends in; with lengths (the op's
``sequence_lens``, as PyTorch's packed sequences) the states at each sample's last real step.

ONNX's LSTM has no projection, so an LSTM with ``proj_size`` is written out: one MatMul over
every step for the input's share of the gates, then a Scan over time per direction with the
recurrent product, the cell and the projection.  Inter-layer dropout is for training only.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ....shapes.dims import DimLike
from ..builder import value_info
from ..weights import fan_in
from .base import Layer, lowers
from .opset import dims_of, slice_axis, split, squeeze, unsqueeze

# PyTorch's gate blocks in the order ONNX stacks them: LSTM (i, f, g, o) -> (i, o, f, c),
# GRU (r, z, n) -> (z, r, h).
_ORDER = {"RNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}
INT64_MAX = 2**63 - 1


def zeros(layer: Layer, shape: str) -> str:
    """Zeros of the layer's float type, of a run-time shape."""
    return layer.op("Expand", [layer.const(0.0, layer.float_dtype), shape])


def lstm_cell(layer: Layer, gates: str, c: str, h: int) -> tuple[str, str]:
    """PyTorch's LSTM cell on the (i, f, g, o) gate blocks of axis 1: o·tanh(c') and c' = f·c + i·g."""
    i, f, g, o = split(layer, gates, [h] * 4, 1)
    c_new = layer.op("Add", [layer.op("Mul", [layer.op("Sigmoid", [f]), c]),
                             layer.op("Mul", [layer.op("Sigmoid", [i]), layer.op("Tanh", [g])])])
    return layer.op("Mul", [layer.op("Sigmoid", [o]), layer.op("Tanh", [c_new])]), c_new


def state_name(layer: Layer, key: str) -> str:
    return f"{layer.prefix}.{key}" if layer.prefix else key


# -- RNN, LSTM, GRU ------------------------------------------------------------------------------

@lowers("RNN", "LSTM", "GRU")
def recurrent(layer: Layer) -> str:
    a = layer.args
    d = 2 if a["bidirectional"] else 1
    h_out = a.get("proj_size") or a["hidden_size"]
    x = layer.op("Transpose", [layer.x], perm=[1, 0, 2]) if a["batch_first"] else layer.x
    states = layer.inputs[1:]
    lengths = ""
    if a.get("lengths"):
        # ONNX's sequence_lens (int32): each sample's real steps; a length below 1 read as 1, as the
        # PyTorch target does (PyTorch refuses an empty sequence)
        given, one = layer.op("Cast", [states.pop(0)], to=6), layer.const(1, "int32")  # 6: INT32
        lengths = layer.op("Where", [layer.op("Less", [given, one]), one, given])  # Where: any opset ≥ 9
    step = _projected_layer if a.get("proj_size") else _native_layer
    seq = last = ""
    finals: list[tuple[str, str]] = []
    for k in range(a["num_layers"]):
        layer_states = [s if a["num_layers"] == 1 else slice_axis(layer, s, k * d, (k + 1) * d, 0) for s in states]
        in_size = a["input_size"] if k == 0 else d * h_out
        # the sequence (T, B, D·H) for the layer above or the output; the final states (B, D·H)
        # and, as PyTorch returns them, (D, B, H) (an LSTM's cell state too)
        seq, last, h_n, c_n = step(layer, x, k, d, in_size, layer_states, lengths)
        finals.append((h_n, c_n))
        x = seq
    if a["output"] in ("last", "final_hidden"):
        return last
    if a["output"] != "state":
        sequence = layer.op("Transpose", [seq], perm=[1, 0, 2]) if a["batch_first"] else seq
        if a["output"] == "sequence":
            return sequence
    # every layer's final state, (num_layers·D, B, H), and an LSTM's cell states
    state = [finals[0][i] if len(finals) == 1 else layer.op("Concat", [f[i] for f in finals], axis=0)
             for i in range(2 if layer.kind == "LSTM" else 1)]
    if a["output"] == "sequence_and_state":
        return [sequence, *state]
    return state if len(state) > 1 else state[0]


def _native_layer(layer: Layer, x: str, k: int, d: int, in_size: int, states: list[str],
                  lengths: str = "") -> tuple[str, str, str, str]:
    a, kind = layer.args, layer.kind
    h = a["hidden_size"]
    w, r, bias = _packed(layer, k, d, in_size)
    inputs = [x, w, r, bias, lengths, *states]
    while inputs[-1] == "":
        inputs.pop()
    attrs: dict[str, object] = {"hidden_size": h, "direction": "bidirectional" if d == 2 else "forward"}
    if kind == "GRU":
        attrs["linear_before_reset"] = 1  # PyTorch applies the reset gate after the recurrent product
    if kind == "RNN" and a["nonlinearity"] == "relu":
        attrs["activations"] = ["Relu"] * d
    if kind == "LSTM":
        y, y_h, y_c = layer.op(kind, inputs, outputs=3, **attrs)
    else:
        (y, y_h), y_c = layer.op(kind, inputs, outputs=2, **attrs), ""
    # Y is (T, D, B, H), Y_h (D, B, H); PyTorch's are (T, B, D·H) and (B, D·H), and h_n (D, B, H)
    if d == 1:
        return squeeze(layer, y, [1]), squeeze(layer, y_h, [0]), y_h, y_c
    seq = layer.op("Reshape", [layer.op("Transpose", [y], perm=[0, 2, 1, 3]), layer.const([0, 0, -1])])
    last = layer.op("Reshape", [layer.op("Transpose", [y_h], perm=[1, 0, 2]), layer.const([0, -1])])
    return seq, last, y_h, y_c


def _weights(layer: Layer, k: int, direction: int, in_size: int) -> dict[str, np.ndarray]:
    """One layer and direction's PyTorch tensors, by their key without the suffix."""
    a = layer.args
    g, h, proj = len(_ORDER[layer.kind]), a["hidden_size"], a.get("proj_size", 0)
    h_out = proj or h
    suffix = f"_l{k}" + ("_reverse" if direction else "")
    # nn.RNNBase.reset_parameters draws every tensor from U(±1/sqrt(hidden_size))
    init, t = fan_in(h), layer.float_dtype
    shapes = {"weight_ih": (g * h, in_size), "weight_hh": (g * h, h_out)}
    if a["bias"]:
        shapes |= {"bias_ih": (g * h,), "bias_hh": (g * h,)}
    if proj:
        shapes["weight_hr"] = (proj, h)
    return {key: layer.weights.tensor(state_name(layer, key + suffix), shape, init, t)
            for key, shape in shapes.items()}


def _onnx_gates(layer: Layer, arr: np.ndarray) -> np.ndarray:
    order = _ORDER[layer.kind]
    return arr.reshape(len(order), -1, *arr.shape[1:])[order].reshape(arr.shape)


def _packed(layer: Layer, k: int, d: int, in_size: int) -> tuple[str, str, str]:
    """The W, R and B initialisers of layer ``k`` (B empty without bias), in ONNX's gate order.
    Named after the module's state-dict prefix, so a layer applied again (use:) reads them once."""
    names = [state_name(layer, f"onnx_{m}_l{k}") for m in "WRB"]
    if names[0] not in layer.b.initializers:
        per_dir = [_weights(layer, k, i, in_size) for i in range(d)]
        layer.b.initializer(names[0], np.stack([_onnx_gates(layer, p["weight_ih"]) for p in per_dir]))
        layer.b.initializer(names[1], np.stack([_onnx_gates(layer, p["weight_hh"]) for p in per_dir]))
        if layer.args["bias"]:
            layer.b.initializer(names[2], np.stack([np.concatenate([_onnx_gates(layer, p["bias_ih"]),
                                                                    _onnx_gates(layer, p["bias_hh"])])
                                                    for p in per_dir]))
    return names[0], names[1], names[2] if layer.args["bias"] else ""


def _projected_layer(layer: Layer, x: str, k: int, d: int, in_size: int, states: list[str],
                     lengths: str = "") -> tuple[str, str, str, str]:
    """One LSTM layer with a projection (PyTorch's proj_size), both directions: a Scan each."""
    seqs, finals, cells = [], [], []
    for direction in range(d):
        # this direction's (1, B, ·) of the given (D, B, ·) states, as the (B, ·) a step reads
        own = [squeeze(layer, slice_axis(layer, s, direction, direction + 1, 0) if d == 2 else s, [0])
               for s in states]
        h0, c0 = own if own else ("", "")
        seq, final, cell = _projected_direction(layer, x, k, direction, in_size, h0, c0)
        seqs.append(seq)
        finals.append(final)
        cells.append(cell)
    # the final states as PyTorch returns them: (D, B, proj_size) and the cells (D, B, hidden_size)
    h_n, c_n = (layer.op("Concat", [unsqueeze(layer, v) for v in vs], axis=0) if d == 2 else unsqueeze(layer, vs[0])
                for vs in (finals, cells))
    if d == 1:
        return seqs[0], finals[0], h_n, c_n
    return layer.op("Concat", seqs, axis=2), layer.op("Concat", finals, axis=1), h_n, c_n


def _projected_direction(layer: Layer, x: str, k: int, direction: int, in_size: int, h0: str,
                         c0: str) -> tuple[str, str, str]:
    a, t = layer.args, layer.float_dtype
    h, p = a["hidden_size"], a["proj_size"]
    suffix = f"_l{k}" + ("_reverse" if direction else "")
    names = [state_name(layer, f"onnx_{m}{suffix}") for m in ("Wt", "Rt", "Pt", "B")]
    if names[0] not in layer.b.initializers:
        w = _weights(layer, k, direction, in_size)
        layer.b.initializer(names[0], np.ascontiguousarray(w["weight_ih"].T))
        layer.b.initializer(names[1], np.ascontiguousarray(w["weight_hh"].T))
        layer.b.initializer(names[2], np.ascontiguousarray(w["weight_hr"].T))
        if a["bias"]:
            layer.b.initializer(names[3], w["bias_ih"] + w["bias_hh"])
    # the input's share of the gates at every step, in one product: (T, B, 4H)
    xw = layer.op("MatMul", [x, names[0]])
    if a["bias"]:
        xw = layer.op("Add", [xw, names[3]])
    batch = dims_of(layer, x, 1, 2)
    h0 = h0 or zeros(layer, layer.op("Concat", [batch, layer.const([p])], axis=0))
    c0 = c0 or zeros(layer, layer.op("Concat", [batch, layer.const([h])], axis=0))

    sb = layer.b.subgraph()
    body = dataclasses.replace(layer, b=sb)
    b_dim: DimLike = layer.in_type.shape[0 if a["batch_first"] else 1]
    h_in, c_in, g_in = (sb.fresh(f"{layer.path}/{n}") for n in ("h", "c", "gates_x"))
    cell, c_new = lstm_cell(body, body.op("Add", [g_in, body.op("MatMul", [h_in, names[1]])]), c_in, h)
    h_new = body.op("MatMul", [cell, names[2]])
    h_step = body.op("Identity", [h_new])  # listed twice, ONNX Runtime loses the final state
    graph = sb.body(f"{layer.path}/step{suffix}",
                    [value_info(h_in, t, (b_dim, p)), value_info(c_in, t, (b_dim, h)),
                     value_info(g_in, t, (b_dim, 4 * h))],
                    [value_info(h_new, t, (b_dim, p)), value_info(c_new, t, (b_dim, h)),
                     value_info(h_step, t, (b_dim, p))])
    h_n, c_n, seq = layer.op("Scan", [h0, c0, xw], outputs=3, body=graph, num_scan_inputs=1,
                           scan_input_directions=[direction], scan_output_directions=[direction])
    return seq, h_n, c_n


# -- Select --------------------------------------------------------------------------------------

@lowers("Select")
def select(layer: Layer) -> str:
    dim, index = layer.args["dim"], layer.args["index"]
    if layer.b.opset >= 11:  # Gather reads negative indices from opset 11 on
        return layer.op("Gather", [layer.x, layer.const(index)], axis=dim)
    end = INT64_MAX if index == -1 else index + 1
    return squeeze(layer, slice_axis(layer, layer.x, index, end, dim), [dim])

