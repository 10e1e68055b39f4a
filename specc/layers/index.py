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

import math
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, PositiveFloat, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import Dim, add, product, same_size
from ..shapes.formulas import broadcast
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, axis, register
from .merge import INT_RANGE, check_constant, promote, scalar_dtype
from .values import RelativeIds

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
        # the value as the target writes it into x's dtype (checked above to be exact)
        value: float | int | bool = float(p.value) if x.is_float else bool(p.value) if x.dtype == "bool" else \
            int(p.value)
        return LayerResult(TensorType(x.shape, x.dtype, dict(x.notes)), {"value": value}, 0, product(x.shape[1:]))


def _check_fill(x: TensorType, value: float | int) -> None:
    """V176 for a value x's dtype cannot hold exactly: what PyTorch refuses or rounds."""
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
    missing = [i for i in range(x.rank) if i not in place and i > min(place)]  # a scalar mask always broadcasts
    steps = ", then ".join(f"- {{type: Unsqueeze, dim: {i}}}" for i in missing)
    shown = TensorType(want, "bool")
    return (f"give the mask the shape {shown}: {steps} on the mask" if steps else
            f"give the mask the shape {shown}")


# -- CausalMask -------------------------------------------------------------------------------------------------

class CausalMaskParams(LayerParams):
    diagonal: int = Field(1, description="hide key j from query i where j - i >= diagonal (the upper triangle's "
                          "diagonal): 1 hides the keys after each query, 0 the query's own key too")
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


# -- relative positions: T5's buckets, Swin's and BEiT's window index -----------------------------------------


class RelativePositionBucketParams(LayerParams):
    num_buckets: PositiveInt = Field(32, description="the ids it gives run from 0 to num_buckets - 1 (T5: 32)")
    max_distance: PositiveInt = Field(128, description="offsets this far apart or more share the last bucket "
                                      "(T5: 128)")
    bidirectional: bool = Field(True, description="keys before and after a query get buckets of their own (an "
                                "encoder); false: one bucket for every later key (a decoder's self-attention)")
    dim: int = Field(1, validation_alias=_DIM, description="the sequence dim of the inputs (1: (B, T, d))")


def bucket_halves(num_buckets: int, bidirectional: bool) -> tuple[int, int]:
    """T5's buckets for one direction and how many of them are exact offsets: (n, max_exact)."""
    n = num_buckets // 2 if bidirectional else num_buckets
    return n, n // 2


@register
class RelativePositionBucket(LayerKind):
    """T5's ``_relative_position_bucket`` of every (query, key) pair, ``key - query``, from the lengths of
    its inputs: offsets below ``max_exact`` (a quarter of the buckets when bidirectional) each a bucket,
    longer ones log-spaced up to ``max_distance``, past it the last bucket; bidirectional gives later keys
    the upper half.  The ids feed an ``Embedding(num_buckets, heads)``, whose rows they are proven to
    stay within, then a ``Permute`` to the (heads, T, S) bias MultiheadAttention adds as its ``attn`` mask.
    No weights; the (T, S) result has no batch dim (the same for every sample, as in HF's T5)."""

    type_name = "RelativePositionBucket"
    Params = RelativePositionBucketParams
    min_inputs, max_inputs = 1, 2
    accepts = "any"
    form = "inline"
    layout = "(B, T, ...): the queries' sequence, and the keys' if they differ (from: [query, key])"
    summary = ("T5's relative position buckets (T, S) of key - query from the lengths of its inputs (from: x, or "
               "[query, key]), int64 ids below num_buckets for an Embedding of the per-head bias")

    def infer(self, p: RelativePositionBucketParams, ins: list[TensorType]) -> LayerResult:
        _, max_exact = bucket_halves(p.num_buckets, p.bidirectional)
        if max_exact < 1:
            least = 4 if p.bidirectional else 2
            raise SpecError("V150", f"{p.num_buckets} bucket{'s' if p.num_buckets != 1 else ''} leave no exact "
                            "offset (max_exact = 0): T5's log spacing then divides by zero and the ids are garbage",
                            f"set num_buckets: {max(least, 32)} (T5's), at least {least}", field="num_buckets")
        if p.max_distance <= max_exact:
            raise SpecError("V150", f"max_distance {p.max_distance} is not past the {max_exact} exact offsets "
                            f"{p.num_buckets} buckets give: the log spacing divides by log({p.max_distance}/"
                            f"{max_exact}) = {'0' if p.max_distance == max_exact else 'a negative number'}",
                            f"set max_distance: {max(4 * max_exact, 128)} (T5 uses 128 with 32 buckets)",
                            field="max_distance")
        lengths = []
        for t, what in zip(ins, ("query", "key")):
            if t.rank < 2:
                raise SpecError("S003", f"reads the length of the {what} sequence along dim {p.dim}, but its input "
                                f"{t} has no such dim", "read a (B, T, d) sequence (the attention's input)")
            lengths.append(t.shape[axis(p.dim, t.rank)])
        t_len = lengths[0]
        s_len = lengths[1] if len(lengths) > 1 else t_len
        args = {"num_buckets": p.num_buckets, "max_distance": p.max_distance, "bidirectional": p.bidirectional,
                "dims": [axis(p.dim, t.rank) for t in ins]}
        out = RelativeIds((t_len, s_len), "int64", {0: "query steps", 1: "key steps"}, high=p.num_buckets - 1,
                          made_by=f"T5's relative position buckets (num_buckets: {p.num_buckets})")
        return LayerResult(out, args, 0, 0)


class RelativePositionIndexParams(LayerParams):
    window: PositiveInt | tuple[PositiveInt, PositiveInt] = Field(
        validation_alias=AliasChoices("window", "window_size"), examples=[7],
        description="the window's height and width (one number: square), Swin's window_size")
    class_token: bool = Field(False, description="a class token leads the window's tokens (BEiT): 3 more ids, "
                              "token to class, class to token, class to class")
    absolute: bool = Field(False, description="the offset's size, not its sign (LeViT's attention_bias_idxs): "
                           "|dy|·Ww + |dx|, Wh·Ww ids, for a table of Wh·Ww rows")


def relative_position_index(wh: int, ww: int, class_token: bool = False, absolute: bool = False) -> list[list[int]]:
    """timm's get_relative_position_index (Swin) and gen_relative_position_index (BEiT): the id of the
    offset between tokens i and j of a window, ((dy + Wh - 1)·(2Ww - 1) + dx + Ww - 1), the three
    class-token ids after the (2Wh - 1)(2Ww - 1) offsets; with ``absolute``, LeViT's |dy|·Ww + |dx|."""
    coords = [(y, x) for y in range(wh) for x in range(ww)]
    if absolute:
        return [[abs(yi - yj) * ww + abs(xi - xj) for yj, xj in coords] for yi, xi in coords]
    grid = [[(yi - yj + wh - 1) * (2 * ww - 1) + (xi - xj + ww - 1) for yj, xj in coords] for yi, xi in coords]
    if not class_token:
        return grid
    offsets = (2 * wh - 1) * (2 * ww - 1)
    top = [offsets + 2] + [offsets] * len(coords)
    return [top] + [[offsets + 1, *row] for row in grid]


@register
class RelativePositionIndex(LayerKind):
    """The constant ``relative_position_index`` of a window of Wh × Ww tokens (timm's Swin, BEiT): for
    each pair of tokens the id of their (dy, dx) offset, one of (2Wh - 1)(2Ww - 1) (+ 3 with a class
    token), for an ``Embedding`` of that many rows (the relative position bias table) and a
    ``Permute`` to the (heads, N, N) bias MultiheadAttention adds as its ``attn`` mask.  It reads the
    windows (B·nW, N, C) to prove N is the window's Wh·Ww tokens; the index is a buffer, not a weight."""

    type_name = "RelativePositionIndex"
    Params = RelativePositionIndexParams
    accepts = "any"
    layout = "(B·nW, N, C): the windows attention reads, N = Wh·Ww (+1 with class_token)"
    summary = ("Swin's and BEiT's constant relative_position_index (N, N) of a window's tokens (window: Wh×Ww), "
               "int64 ids below (2Wh-1)(2Ww-1) (+3 with class_token; Wh·Ww with absolute, LeViT's) for an "
               "Embedding, the bias table")

    def infer(self, p: RelativePositionIndexParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        wh, ww = (p.window, p.window) if isinstance(p.window, int) else p.window
        tokens = wh * ww + int(p.class_token)
        if x.rank != 3:
            raise SpecError("S003", f"reads windows of tokens (B·nW, N, C), got rank {x.rank} {x}",
                            "read the windows MultiheadAttention attends within (after the Reshape to (-1, N, C))")
        if x.shape[1] != tokens:
            n, ct = x.shape[1], int(p.class_token)
            side = math.isqrt(n - ct) if isinstance(n, int) and n > ct else 0
            fix = (f"set window: {side}" if side and side * side + ct == n else
                   "read the windows (B·nW, Wh·Ww, C) the attention reads, after the Reshape to (-1, Wh·Ww, C)")
            raise SpecError("S045", f"a {wh}×{ww} window{' with a class token' if p.class_token else ''} has "
                            f"{wh}·{ww}{' + 1' if ct else ''} = {tokens} tokens, but the windows it reads have {n}: "
                            f"{x}", fix, field="window")
        if p.absolute and p.class_token:
            raise SpecError("V168", "absolute offsets (LeViT) have no ids for a class token: LeViT's attention "
                            "biases only the map's tokens", "remove class_token, and attend to the map's Wh·Ww "
                            "tokens alone (LeViT pools them for its head)", field="class_token")
        if p.absolute:
            rows, made_by = wh * ww, f"the {wh * ww} offset sizes (|dy|, |dx|) of a {wh}×{ww} map"
        else:
            rows = (2 * wh - 1) * (2 * ww - 1) + (3 if p.class_token else 0)
            made_by = (f"the {(2 * wh - 1) * (2 * ww - 1)} offsets of a {wh}×{ww} window"
                       + (" and a class token's 3" if p.class_token else ""))
        args = {"window": [wh, ww], "class_token": p.class_token, "absolute": p.absolute}
        out = RelativeIds((tokens, tokens), "int64", {0: "query tokens", 1: "key tokens"}, high=rows - 1,
                          made_by=made_by)
        # an int64 buffer of N² ids, as timm registers it (not saved with the weights: persistent=False)
        return LayerResult(out, args, 0, 0, tokens * tokens)



# -- ALiBi ------------------------------------------------------------------------------------------------------


class ALiBiParams(LayerParams):
    num_heads: PositiveInt = Field(validation_alias=AliasChoices("num_heads", "heads", "n_heads"),
                                   description="one slope per head, as many as the attention's heads")
    max_bias: PositiveFloat = Field(8.0, validation_alias=AliasChoices("max_bias", "alibi_bias_max"),
                                    description="the slopes are 2^(-max_bias·h / n) for h = 1..n (n the heads "
                                    "rounded up to a power of 2): BLOOM's and MPT's 8")
    symmetric: bool = Field(False, description="-slope·|key - query| (MPT without causal attention); else "
                            "slope·(key - query), for causal attention (BLOOM, MPT)")
    dim: int = Field(1, validation_alias=_DIM, description="the sequence dim of the inputs (1: (B, T, d))")


def alibi_slopes(num_heads: int, max_bias: float = 8.0) -> list[float]:
    """Press et al.'s slopes, as MPT's gen_slopes computes them: 2^(-max_bias·k / n) for k = 1..n, n the
    heads rounded up to a power of 2, and for other head counts the odd-numbered ones first (the same
    slopes as BLOOM's build_alibi_tensor, whose max_bias is 8)."""
    n = 2 ** math.ceil(math.log2(num_heads))
    slopes = [1.0 / 2 ** (k * max_bias / n) for k in range(1, n + 1)]
    if n != num_heads:
        slopes = (slopes[1::2] + slopes[::2])[:num_heads]
    return slopes


@register
class ALiBi(LayerKind):
    """Attention with linear biases (Press et al. 2022; BLOOM, MPT): each head's scores get its slope times
    the offset ``key - query`` (``-|key - query|`` with ``symmetric``), (heads, T, S) from the lengths of its
    inputs, the attn mask of a MultiheadAttention (with ``causal: true`` for a decoder: the causal mask is
    added to it).  BLOOM adds slope·key, which differs from slope·(key - query) by a constant along each row of
    scores: the softmax, and the attention's output, are the same.  No weights."""

    type_name = "ALiBi"
    Params = ALiBiParams
    min_inputs, max_inputs = 1, 2
    accepts = "any"
    form = "inline"
    layout = "(B, T, ...): the queries' sequence, and the keys' if they differ (from: [query, key])"
    summary = ("ALiBi's per-head linear bias slope·(key - query) (heads, T, S) from the lengths of its inputs, "
               "for a MultiheadAttention's attn mask (BLOOM, MPT); symmetric: -slope·|key - query|")

    def infer(self, p: ALiBiParams, ins: list[TensorType]) -> LayerResult:
        lengths = []
        for t, what in zip(ins, ("query", "key")):
            if t.rank < 2:
                raise SpecError("S003", f"reads the length of the {what} sequence along dim {p.dim}, but its input "
                                f"{t} has no such dim", "read a (B, T, d) sequence (the attention's input)")
            lengths.append(t.shape[axis(p.dim, t.rank)])
        t_len = lengths[0]
        s_len = lengths[1] if len(lengths) > 1 else t_len
        args = {"num_heads": p.num_heads, "max_bias": float(p.max_bias), "symmetric": p.symmetric,
                "dims": [axis(p.dim, t.rank) for t in ins]}
        out = TensorType((p.num_heads, t_len, s_len), "float32", {0: f"num_heads {p.num_heads}"})
        return LayerResult(out, args, 0, 0)


# -- AnchorPoints: a detector's grid of cell centres ---------------------------------------------------------------


class AnchorPointsParams(LayerParams):
    strides: list[PositiveInt] = Field(description="each map's stride in input pixels, in the order of from: "
                                       "(YOLOv8's P3, P4, P5: [8, 16, 32])")
    offset: float = Field(0.5, ge=0.0, le=1.0, validation_alias=AliasChoices("offset", "grid_cell_offset"),
                          description="where in its cell each point lies, in cells: 0.5 the centre")


@register
class AnchorPoints(LayerKind):
    """The anchor points of an anchor-free detector's maps (ultralytics' make_anchors, as its Detect head
    reads them: transposed): for every cell of every map, in the maps' order and row-major within each,
    its (x, y) in cells, ``(col + offset, row + offset)``, as a (2, A) tensor, and its map's stride as a
    (1, A) one, A the cells of all the maps. With SoftArgmax's distances, dist2bbox is arithmetic:
    ``(points ± distances) · strides``. The maps give only their sizes, read at run time."""

    type_name, Params = "AnchorPoints", AnchorPointsParams
    accepts = "any"
    form = "inline"
    min_inputs, max_inputs = 1, None
    ranks = (4,)
    layout = "(B, C, H, W) per map"
    summary = ("ultralytics' make_anchors: each cell's (x + offset, y + offset) of every map (2, A) and its "
               "map's stride (1, A), for dist2bbox")

    def infer(self, p: AnchorPointsParams, ins: list[TensorType]) -> LayerResult:
        if len(p.strides) != len(ins):
            raise SpecError("S001", f"{len(p.strides)} strides for {len(ins)} maps: each map needs its own",
                            f"give one stride per map in from: (strides: [{', '.join(['8'] * len(ins))}] for "
                            "maps at 1/8 of the input, each next level usually twice the last)", field="strides")
        cells: Dim = product(ins[0].shape[2:])
        for t in ins[1:]:
            cells = add(cells, product(t.shape[2:]))
        dtype = ins[0].dtype if ins[0].is_float else "float32"
        points = TensorType((2, cells), dtype, {0: "x, y in cells", 1: "anchors"})
        strides = TensorType((1, cells), dtype, {1: "anchors"})
        args = {"strides": list(p.strides), "offset": p.offset}
        return LayerResult(points, args, 0, 0, outs=(points, strides), out_names=("points", "strides"))
