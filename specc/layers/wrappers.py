"""TimeDistributed: apply one layer to every step of a (B, T, ...) sequence.

``{type: TimeDistributed, layer: {type: Conv2d, out_channels: 16, kernel_size: 3}}`` folds T
into the batch, (B·T, ...), applies the wrapped layer, and unfolds: what people write by hand
with ``x.flatten(0, 1)`` and ``y.reshape(B, T, ...)``.  The wrapped layer is any registered
single-input kind, checked with its own parameter model (errors point inside the nested
mapping) and its own shape rule, fed the folded batch.  The steps share one set of weights, so
the parameters are the wrapped layer's and the MACs per sample are T times its MACs per
folded sample.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import field_validator, model_validator

from ..diagnostics import SpecError, yaml_flow
from ..shapes.dims import mul
from ..shapes.tensor import TensorType
from .base import Form, LayerKind, LayerParams, LayerResult, lookup, register, suggest
from .check import check_layer

META = ("name", "from", "repeat", "trainable")  # belong on the wrapper, not the wrapped layer


@dataclass(frozen=True)
class Wrapped:
    """The wrapped layer: its kind, validated parameters and the mapping it came from (for locations)."""

    kind: LayerKind
    params: LayerParams
    raw: Any


class TimeDistributedParams(LayerParams):
    layer: Any

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        # Keras' TimeDistributed(Conv2D(4, 3)) read as one mapping: the kind under layer:, its
        # arguments beside it, where each would be an unknown key of the wrapper
        if isinstance(data, dict) and isinstance(data.get("layer"), str):
            inner = {"type": data["layer"], **{k: v for k, v in data.items() if k != "layer"}}
            raise ValueError("layer must be the wrapped layer as a mapping, its parameters inside it; "
                             f"write layer: {yaml_flow(inner)}")
        return data

    @field_validator("layer", mode="before")
    @classmethod
    def _wrapped(cls, v: Any) -> Wrapped:
        if not isinstance(v, dict):
            raise ValueError("layer must be a mapping such as {type: Conv2d, out_channels: 16, kernel_size: 3}")
        ltype = v.get("type")
        if not isinstance(ltype, str):
            raise ValueError("the wrapped layer needs a type, e.g. layer: {type: Linear, out_features: 64}")
        kind = lookup(ltype)
        if kind is None:
            guess = suggest(ltype)
            raise ValueError(f"unknown layer type '{ltype}'" + (f"; did you mean '{guess}'?" if guess else
                             "; wrap one layer kind listed by `specc layers` (a block cannot be wrapped)"))
        misplaced = [k for k in META if k in v]
        if misplaced:
            raise ValueError(f"{', '.join(misplaced)} belong{'s' if len(misplaced) == 1 else ''} on the "
                             f"TimeDistributed item, not inside layer:; move {', '.join(misplaced)} next to "
                             "type: TimeDistributed")
        # Add, Mul, Sub and Div read one input only beside a constant (value:)
        constant = "value" in kind.Params.model_fields
        if kind.min_inputs != 1 or (constant and v.get("value") is None):
            raise ValueError(f"{kind.type_name} merges several inputs; TimeDistributed wraps a one-input layer"
                             + (f" (or {kind.type_name} with a constant, value:)" if constant else ""))
        if kind.type_name == "TimeDistributed":
            raise ValueError("TimeDistributed cannot wrap another TimeDistributed; fold the extra dim into the "
                             "batch with a Reshape first")
        # A ValidationError raised here keeps its locations under ('layer', ...).
        params = kind.Params.model_validate({k: x for k, x in v.items() if k != "type"})
        return Wrapped(kind, params, v)


@register
class TimeDistributed(LayerKind):
    type_name = "TimeDistributed"
    Params = TimeDistributedParams
    accepts = "any"  # the wrapped layer's own dtype rule applies
    summary = "apply a layer to every step of (B, T, ...) by folding T into the batch"

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        inner = lookup(str(args["layer"]))  # the module is the wrapped layer itself, under the wrapper's name
        return inner.weights({k: v for k, v in args.items() if k != "layer"}) if inner is not None else {}

    def infer(self, p: TimeDistributedParams, ins: list[TensorType]) -> LayerResult:
        x, inner = ins[0], p.layer
        kind = inner.kind
        if x.rank < 3:
            raise SpecError("S003", f"TimeDistributed needs (B, T, ...) with at least one dim per step, got {x}",
                            f"apply {kind.type_name} directly, or reshape to (B, T, ...) first", field="layer")
        b, t = x.shape[0], x.shape[1]
        folded = TensorType((mul(b, t), *x.shape[2:]), x.dtype,
                            {i - 1: why for i, why in x.notes.items() if i >= 2})
        try:
            res = check_layer(kind, inner.params, [folded], steps=True)
        except SpecError as err:
            raise self._inside(err, inner) from None
        if res.outs:
            raise SpecError("S017", f"{kind.type_name} gives {len(res.outs)} outputs, and TimeDistributed returns "
                            "one", f"apply the {kind.type_name} directly: it splits (B, T, ...) as well (a dim "
                            "after T is one further along)", field="layer")
        y = res.out
        if y.rank == 0 or y.shape[0] != folded.shape[0]:
            raise SpecError("S003", f"{kind.type_name} does not keep the batch dim ({folded} -> {y}), so the "
                            "steps cannot be unfolded", "wrap a layer that works per sample", field="layer")
        out = TensorType((b, t, *y.shape[1:]), y.dtype, {i + 1: why for i, why in y.notes.items() if i >= 1})
        # Flat, so that generated block classes can turn any wrapped size into a parameter.
        args = {"layer": kind.type_name, **res.args}
        return LayerResult(out, args, res.params, mul(t, res.macs), res.buffers, requires=res.requires)

    @staticmethod
    def _inside(err: SpecError, inner: Wrapped) -> SpecError:
        """Re-raise a rule of the wrapped layer, located at its field inside layer:."""
        raw = inner.raw
        loc = err.loc
        if loc is None and hasattr(raw, "value_loc"):
            loc = raw.value_loc(err.field) if err.field and err.field in raw else getattr(raw, "loc", None)
        out = SpecError(err.code, f"in the wrapped {inner.kind.type_name} (steps folded into the batch): "
                        f"{err.message}", err.hint, loc=loc, field="layer")
        return out

    def applied(self, args: dict[str, Any]) -> Form:
        """Called around the wrapped layer, which folds and unfolds the steps: never plain f(x)."""
        inner = lookup(args["layer"]) if isinstance(args["layer"], str) else None
        return "inline" if inner is not None and inner.applied(inner_args(args)) == "inline" else "call"


def inner_args(args: dict[str, Any]) -> dict[str, Any]:
    """The wrapped layer's attributes, out of TimeDistributed's flat ones."""
    return {k: v for k, v in args.items() if k != "layer"}
