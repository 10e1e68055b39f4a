"""Layers that compute with positions and indices: ArgMax, ArgMin (where the largest or smallest value
is), CumSum (running sums), Compare (element-wise ==, !=, >, >=, <, <= against a constant or a second
input), Pick (one element per row, at an index tensor: ``x[arange(B), idx]``), MaskedFill (a value
written where a bool mask is true: ``x.masked_fill(mask, value)``) and CausalMask (the keys after each
query, from the input's lengths).

What published models compute from their token ids before the features: CLIP pools its text at the
end-of-text token (``x[arange(B), text.argmax(-1)]``), HF's sequence-classification heads at each row's
last non-padding token, and RoBERTa numbers its positions with ``cumsum(ids != pad)``.  Their outputs
are int64 (ArgMax, ArgMin, CumSum of integers or bools, as PyTorch gives them) or bool (Compare), so no
gradient flows through them: training refuses a model whose parameters reach the loss only that way
(V035), and a loss on such an output (V034).  Written inline; MACs per sample are the elements read.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, Field, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import Dim, product, same_size
from ..shapes.formulas import broadcast
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, axis, register
from .merge import INT_RANGE, check_constant, promote, scalar_dtype

_DIM = AliasChoices("dim", "axis")
_KEEP = AliasChoices("keepdim", "keepdims")

OPS = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _dropped(x: TensorType, d: int, keepdim: bool) -> TensorType:
    """``x`` without dim ``d`` (size 1 there with ``keepdim``), its notes kept on the dims that stay."""
    shape = (*x.shape[:d], 1, *x.shape[d + 1:]) if keepdim else (*x.shape[:d], *x.shape[d + 1:])
    notes = {i if keepdim or i < d else i - 1: why for i, why in x.notes.items() if i != d}
    return TensorType(shape, x.dtype, notes)


# -- ArgMax, ArgMin ---------------------------------------------------------------------------------------------

class ArgParams(LayerParams):
    dim: int = Field(validation_alias=_DIM, description="the dim searched; it is removed unless keepdim")
    keepdim: bool = Field(False, validation_alias=_KEEP)


class _Arg(LayerKind):
    Params = ArgParams
    accepts = "any"
    form = "inline"
    which = ""

    def infer(self, p: ArgParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.rank < 1:
            raise SpecError("S003", f"{self.type_name} searches along a dim, but its input {x} has none",
                            "remove the Reduce (or Squeeze) that took the last dim")
        if x.dtype == "bool":
            # torch.argmax: "does not support bool input"
            raise SpecError("S007", f"{self.type_name} cannot search bool values {x}",
                            f"add - {{type: Cast, dtype: int64}} before the {self.type_name}")
        d = axis(p.dim, x.rank)
        out = _dropped(x, d, p.keepdim)
        # ties go to the first index, in PyTorch and in ONNX (select_last_index: 0)
        return LayerResult(TensorType(out.shape, "int64", out.notes), {"dim": d, "keepdim": p.keepdim}, 0,
                           product(x.shape[1:]))


@register
class ArgMax(_Arg):
    type_name = "ArgMax"
    summary = "index of the largest value along dim (the first one on ties), int64; keepdim optional"


@register
class ArgMin(_Arg):
    type_name = "ArgMin"
    summary = "index of the smallest value along dim (the first one on ties), int64; keepdim optional"


# -- CumSum -----------------------------------------------------------------------------------------------------

class CumSumParams(LayerParams):
    dim: int = Field(validation_alias=_DIM)
    exclusive: bool = Field(False, description="each sum leaves out its own element (the first is 0)")
    reverse: bool = Field(False, description="sum from the end of dim towards its start")


@register
class CumSum(LayerKind):
    type_name, Params = "CumSum", CumSumParams
    accepts = "any"
    form = "inline"
    summary = ("running sum along dim: exclusive leaves each element out, reverse sums from the "
               "end; integers and bools give int64")

    def infer(self, p: CumSumParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.rank < 1:
            raise SpecError("S003", f"CumSum sums along a dim, but its input {x} has none",
                            "remove the Reduce (or Squeeze) that took the last dim")
        d = axis(p.dim, x.rank)
        # PyTorch sums integers and bools as int64, as Reduce's op: sum does
        dtype = x.dtype if x.is_float else "int64"
        # dtype: the type summed in where it is not the input's (narrow integers and bools), which the
        # PyTorch target writes out: traced, an int32 cumsum stays int32 in the exported model
        args = {"dim": d, "exclusive": p.exclusive, "reverse": p.reverse,
                "dtype": dtype if dtype != x.dtype else None}
        return LayerResult(TensorType(x.shape, dtype, x.notes), args, 0, product(x.shape[1:]))


# -- Compare ----------------------------------------------------------------------------------------------------

class CompareParams(LayerParams):
    op: Literal["eq", "ne", "gt", "ge", "lt", "le"] = Field(
        description="eq ==, ne !=, gt >, ge >=, lt <, le <= (input 1 on the left)")
    value: int | float | None = Field(None, description="the constant to compare with; omit it to compare with "
                                      "a second input (from: [a, b])")


def compared_dtype(dtypes: list[str], value: int | float | None) -> str:
    """The dtype PyTorch compares in: the inputs' promoted type, or the tensor's with a constant."""
    return promote(dtypes) if value is None else scalar_dtype(dtypes[0], value)


@register
class Compare(LayerKind):
    """One kind for the six comparisons rather than six kinds (Equal, Greater, …): they share the shape
    rule (broadcasting, or a constant), the dtype rule (bool out, the inputs promoted as PyTorch does),
    and the checks on the constant; ``op:`` picks the comparison as Reduce's ``op:`` picks the reduction."""

    type_name, Params = "Compare", CompareParams
    min_inputs, max_inputs = 1, 2
    accepts = "any"
    form = "inline"
    summary = ("element-wise ==, !=, >, >=, <, <= (op: eq, ne, gt, ge, lt, le) with a constant (value:) or a "
               "second input (broadcasting); bool")

    def infer(self, p: CompareParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if len(ins) == 1 and p.value is None:
            raise SpecError("V105", f"has nothing to compare {x} with ({OPS[p.op]})",
                            "set value: 0, or compare with a second input: from: [a, b]", field="op")
        if len(ins) == 2 and p.value is not None:
            raise SpecError("V105", f"has both a value ({p.value}) and a second input {ins[1]} to compare with",
                            "drop value:, or read one input (from: a)", field="value")
        shape = x.shape
        if len(ins) == 2:
            merged = broadcast(x.shape, ins[1].shape)
            if merged is None:
                symbolic = any(isinstance(d, Dim) for d in (*x.shape, *ins[1].shape))
                raise SpecError("S010" if symbolic and x.rank == ins[1].rank else "S006",
                                f"cannot compare input 1 {x} with input 2 {ins[1]}",
                                "shapes must match or broadcast (each dim equal, or 1), aligned from the last dim")
            shape = merged
        else:
            check_constant(x, p.value, "compares with")  # type: ignore[arg-type]
        work = compared_dtype([t.dtype for t in ins], p.value)
        args = {"op": p.op, "value": p.value, "dtype": work}
        return LayerResult(TensorType(shape, "bool"), args, 0, product(shape[1:]))


# -- Pick -------------------------------------------------------------------------------------------------------

class PickParams(LayerParams):
    dim: int = Field(1, validation_alias=_DIM, description="the dim picked from; the index has the dims before it")


@register
class Pick(LayerKind):
    """``x[arange(B), index]`` along dim 1, and its generalisation to any dim: the index tensor holds one
    position per row (its shape is the dims of ``x`` before ``dim``), and the output is ``x`` without
    ``dim``.  CLIP's end-of-text pooling (the index is ``text.argmax(-1)``) and HF's last-token heads
    (the index is where the count of real tokens peaks) read a (B, T, d) sequence with a (B,) index."""

    type_name = "Pick"
    Params = PickParams
    min_inputs, max_inputs = 2, 2
    accepts = "any"
    form = "inline"
    summary = ("x[arange(B), index]: from: [x, index] picks, in each row, the element of dim (default 1) the "
               "integer index names; the index has the dims before dim; dim is removed")

    def infer(self, p: PickParams, ins: list[TensorType]) -> LayerResult:
        x, idx = ins
        d = axis(p.dim, x.rank)
        if idx.is_float or idx.dtype == "bool":
            fix = ("a bool mask is not a position: find it with - {type: ArgMax, dim: -1} after a Cast to int64"
                   if idx.dtype == "bool" else
                   "make the positions with ArgMax or ArgMin (int64), or add - {type: Cast, dtype: int64} before "
                   "the index")
            raise SpecError("S007", f"its index (input 2) holds {idx.dtype} values {idx}; it must hold integer "
                            "positions", fix)
        want = x.shape[:d]
        if idx.rank != d or not all(same_size(a, b) for a, b in zip(idx.shape, want)):
            raise SpecError("S045", f"picking along dim {d} of {x} needs one position per row, an index of shape "
                            f"{TensorType(want)}, but the index is {idx}", _index_fix(x, idx, d), field="dim")
        out = _dropped(x, d, False)
        # the rank and the index's dtype decide how a target writes the gather (it takes int64 positions)
        return LayerResult(out, {"dim": d, "rank": x.rank, "index_dtype": idx.dtype}, 0, 0)


def _index_fix(x: TensorType, idx: TensorType, d: int) -> str:
    """The fix for an index whose shape is not the dims of ``x`` before ``d``."""
    want = x.shape[:d]
    if idx.rank == d + 1 and idx.shape[-1] == 1 and all(same_size(a, b) for a, b in zip(idx.shape, want)):
        return "drop the index's last dim of size 1: keepdim: false on its ArgMax, or - {type: Squeeze, dim: -1}"
    if 0 < idx.rank < x.rank and all(same_size(a, b) for a, b in zip(idx.shape, x.shape)):
        return f"pick along the dim after the index's dims: set dim: {idx.rank}"
    return (f"give the index the dims of x before dim {d}, {TensorType(want)}: an ArgMax over the same rows "
            "without keepdim")


# -- MaskedFill -------------------------------------------------------------------------------------------------

FLOAT16_MAX = 65504.0


class MaskedFillParams(LayerParams):
    # infinities are what masking writes (allow_inf_nan, refused for every other float, is lifted here);
    # a nan is refused by the shape rule (V176)
    value: Annotated[float, Field(allow_inf_nan=True)] | int = Field(
        description="what is written where the mask is true: -inf before a Softmax or a max over positions (-.inf "
        "in YAML, or \"-inf\"), 0 before a sum", examples=[float("-inf")])


@register
class MaskedFill(LayerKind):
    """``x.masked_fill(mask, value)``: attention scores hidden before their Softmax (GPT-2's causal mask,
    a pointer network's visited cities), ESIM's max over the real words only (the padding set to a
    large negative first), a masked mean's padding set to 0.  The mask is bool and broadcasts to x's
    shape, aligned from the last dim as PyTorch broadcasts it; the output has x's shape and dtype."""

    type_name, Params = "MaskedFill", MaskedFillParams
    min_inputs, max_inputs = 2, 2
    accepts = "any"
    form = "inline"
    summary = ("x.masked_fill(mask, value): from: [x, mask] writes value where the bool mask (broadcast to x's "
               "shape) is true, x elsewhere; -inf hides scores before a Softmax or positions before a max")

    def infer(self, p: MaskedFillParams, ins: list[TensorType]) -> LayerResult:
        x, mask = ins
        if mask.dtype != "bool":
            fix = ("make it bool, true where value is written: - {type: Compare, op: eq, value: 0} on a mask that is "
                   "1 at the positions kept (a tokenizer's attention_mask), op: ne on one that is 1 where to write")
            raise SpecError("S007", f"its mask (input 2) holds {mask.dtype} values {mask}; PyTorch's masked_fill "
                            "takes a bool mask, true where the value is written", fix)
        if broadcast(x.shape, mask.shape) != x.shape:
            raise SpecError("S010" if any(isinstance(d, Dim) for d in mask.shape) else "S006",
                            f"its mask {mask} does not broadcast to the input {x} (aligned from the last dim, each "
                            "dim equal or 1)", _mask_fix(x, mask), field="from")
        _check_fill(x, p.value)
        value = int(p.value) if x.dtype != "bool" and not x.is_float else float(p.value)
        if x.dtype == "bool":
            value = bool(p.value)  # type: ignore[assignment]
        return LayerResult(TensorType(x.shape, x.dtype, dict(x.notes)), {"value": value}, 0, product(x.shape[1:]))


def _check_fill(x: TensorType, value: float | int) -> None:
    """V176 for a value x's dtype cannot hold exactly: what PyTorch refuses or rounds."""
    import math

    why = fix = ""
    if isinstance(value, float) and math.isnan(value):
        why, fix = "nan, which spreads through every sum that reads it", "use -inf to hide, or 0 to drop"
    elif x.dtype == "bool":
        if value not in (0, 1):
            why, fix = f"{value!r} into bool values", "use value: 0 or value: 1"
    elif not x.is_float:
        if isinstance(value, float) and not value.is_integer():
            why, fix = (f"{value!r} into {x.dtype} values (PyTorch refuses it: they hold whole numbers)",
                        "use a whole number, or Cast the input to float32 first")
        else:
            lo, hi = INT_RANGE.get(x.dtype, (0, 255))
            if not (math.isfinite(value) and lo <= value <= hi):
                why, fix = (f"{value!r} into {x.dtype} values, which hold {lo} to {hi}",
                            f"use a value from {lo} to {hi}, or Cast the input to float32 first")
    elif x.dtype == "float16" and math.isfinite(value) and abs(value) > FLOAT16_MAX:
        why = (f"{value!r} into float16 values, whose largest is {FLOAT16_MAX:g} (PyTorch raises 'value cannot be "
               "converted to type at::Half without overflow')")
        end = ("lowest", -FLOAT16_MAX) if value < 0 else ("largest", FLOAT16_MAX)
        fix = f"write value: {end[1]:g} (float16's {end[0]}), or {'-' if value < 0 else ''}.inf"
    if why:
        raise SpecError("V176", f"cannot write {why}", fix, field="value")


def _mask_fix(x: TensorType, mask: TensorType) -> str:
    """Where the mask's dims sit in x, matched from the right: the mask given x's rank with 1
    elsewhere, as the Unsqueeze layers that make it."""
    place: list[int] = []
    j = x.rank - 1
    for d in reversed(mask.shape):
        while j >= 0 and not same_size(x.shape[j], d):
            j -= 1
        if j < 0:
            return f"give the mask x's dims or 1 in their place, aligned from the last dim: x is {x}"
        place.append(j)
        j -= 1
    want = tuple(x.shape[i] if i in place else 1 for i in range(x.rank))
    missing = [i for i in range(x.rank) if i not in place and i > min(place)] if place else []
    steps = ", then ".join(f"- {{type: Unsqueeze, dim: {i}}}" for i in missing)
    shown = TensorType(want, "bool")
    return (f"give the mask the shape {shown}: {steps} on the mask" if steps else
            f"give the mask the shape {shown}")


# -- CausalMask -------------------------------------------------------------------------------------------------

class CausalMaskParams(LayerParams):
    diagonal: int = Field(1, description="hide key j from query i where j - i >= diagonal (the upper triangle's diagonal): 1 "
                          "hides the keys after each query, 0 the query's own key too")
    window: PositiveInt | None = Field(None, description="also hide the keys more than window - 1 before each query "
                                       "(query i sees keys i - window + 1 .. i, Mistral's sliding window)",
                                       examples=[4096])
    dims: tuple[int, int] = Field((-2, -1), description="the dims of the input holding the queries and the keys: "
                                  "(T, S) of (B, heads, T, S) scores by default; [1, 1] of a (B, T, d) sequence")


@register
class CausalMask(LayerKind):
    """The (T, S) bool mask of the scores' own lengths, true where a key comes after its query:
    what GPT-2 and nanoGPT keep as a ``tril`` buffer and a hand-written attention fills with -inf
    (``scores.masked_fill(mask, -inf)``).  Computed from the input's run-time sizes, so it holds at
    every length, with no buffer sized for the longest."""

    type_name, Params = "CausalMask", CausalMaskParams
    accepts = "any"
    form = "inline"
    summary = ("(T, S) bool, true where key j comes after query i (the upper triangle from diagonal), T and S read "
               "from dims (default -2, -1) of the input at run time; window: also hides keys too far back")

    def infer(self, p: CausalMaskParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.rank < 2:
            raise SpecError("S003", f"reads the queries' and the keys' lengths from dims {list(p.dims)} of its "
                            f"input, but {x} has rank {x.rank}", "give it the scores (B, heads, T, S), or a "
                            "sequence (B, T, d) with dims: [1, 1]", field="dims")
        q, k = (axis(d, x.rank, "dims") for d in p.dims)
        shape = (x.shape[q], x.shape[k])
        return LayerResult(TensorType(shape, "bool"), {"q": q, "k": k, "diagonal": p.diagonal, "window": p.window},
                           0, 0)
