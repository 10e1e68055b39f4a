"""ONNX lowering of TimeDistributed: (B, T, ...) reshaped to (B·T, ...), the wrapped layer's own
lowering applied to that, and its (B·T, ...) reshaped back to (B, T, ...).

The wrapped layer is the TimeDistributed module's only child in the PyTorch target, so its
parameters carry the wrapper's state-dict prefix, as here.  B and T are read from the input's
shape at run time; the per-step sizes are constants where specc knows them.
"""

from __future__ import annotations

from ....layers.wrappers import inner_args
from ....shapes.dims import mul
from ....shapes.tensor import TensorType
from .base import Layer, lower, lowers
from .opset import dims_of


@lowers("TimeDistributed")
def time_distributed(layer: Layer) -> str:
    kind = layer.args["layer"]
    x, t, out = layer.x, layer.in_type, layer.out
    steps = mul(t.shape[0], t.shape[1])
    folded = TensorType((steps, *t.shape[2:]), t.dtype)
    y_type = TensorType((steps, *out.shape[2:]), out.dtype)
    inner = Layer(layer.b, layer.weights, kind, layer.path, layer.prefix, inner_args(layer.args),
                  [layer.op("Reshape", [x, _sizes(layer, [-1], x, t, 2)])], [folded], [y_type], tie=layer.tie)
    y = lower(inner)  # lower_graph has refused a wrapped kind with no lowering (kinds_used)
    assert isinstance(y, str), "TimeDistributed's rule admits a layer of one output only"
    return layer.op("Reshape", [y, _sizes(layer, dims_of(layer, x, 0, 2), y, y_type, 1)])


def _sizes(layer: Layer, head: list[int] | str, v: str, t: TensorType, start: int) -> str:
    """A shape: ``head`` (constants, or a run-time shape), then ``v``'s sizes from axis ``start``."""
    tail = t.shape[start:]
    fixed = all(isinstance(d, int) for d in tail)
    if isinstance(head, list) and fixed:
        return layer.const([*head, *tail])
    parts = [layer.const(head) if isinstance(head, list) else head]
    if tail:
        parts.append(layer.const(list(tail)) if fixed else dims_of(layer, v, start, t.rank))
    return layer.op("Concat", parts, axis=0) if len(parts) > 1 else parts[0]
