"""Layers that merge several inputs: Add, Mul, Sub, Div, Max, Min (broadcasting) and Concat."""

from typing import Any, Literal

from pydantic import Field, PositiveFloat

from ..diagnostics import SpecError
from ..shapes.dims import Dim, DimLike, add, agreement, evaluate, mul, product, same_size
from ..shapes.formulas import broadcast
from ..shapes.tensor import FLOAT_DTYPES, INT_DTYPES, TensorType
from .base import LINEAR_OVER_WIDTH, LayerKind, LayerParams, LayerResult, NoParams, axis, register
from .hints import CAST_INPUT, FLOAT_INPUT


class ConcatParams(LayerParams):
    dim: int = 1


class ArithParams(LayerParams):
    # RoBERTa's position ids add the padding id to a count, HF's older heads take 1 from a position:
    # a constant operand, which no layer with weights gives without training it away
    value: int | float | None = Field(None, description="a constant as the second operand, in place of a second "
                                      "input (one input)")


# The values an integer dtype holds: a constant outside them is not the number PyTorch computes with.
INT_RANGE = {"int64": (-2**63, 2**63 - 1), "int32": (-2**31, 2**31 - 1), "int16": (-2**15, 2**15 - 1),
             "int8": (-128, 127), "uint8": (0, 255), "bool": (0, 1)}


def scalar_dtype(have: str, value: int | float) -> str:
    """The dtype PyTorch computes a tensor of dtype ``have`` with a Python number in: the tensor's own,
    except that a float makes integers and bools float32, and an int makes bools int64."""
    if isinstance(value, float) and have not in FLOAT_DTYPES:
        return "float32"
    return "int64" if have == "bool" else have


def check_constant(x: TensorType, value: int | float, what: str) -> None:
    """V105 for an int ``value`` that the integer dtype of ``x`` cannot hold."""
    if isinstance(value, int) and not x.is_float and x.dtype != "bool":
        lo, hi = INT_RANGE[x.dtype]
        if not lo <= value <= hi:
            raise SpecError("V105", f"value {value} is outside what {x.dtype} holds ({lo} to {hi}), so PyTorch "
                            f"{what} another number", f"use a value from {lo} to {hi}, or add - {{type: Cast, "
                            "dtype: int64}} before this layer", field="value")


class _Broadcasting(LayerKind):
    Params: type[LayerParams] = ArithParams
    # one input with value:, else two or more (the engine's count allows one; infer refuses it alone)
    min_inputs, max_inputs = 1, None
    form = "inline"
    gates = False  # a product: one input scales the other, so a narrower input is a gate, not a shortcut
    # Add and Mul: integers with integers (counts, positions) or a constant, never with floats: token
    # ids or a bool mask added to features is the mistake, which PyTorch would promote without a word
    accepts = "any"
    mixes = False

    def infer(self, p: LayerParams, ins: list[TensorType]) -> LayerResult:
        if not self.mixes and any(t.is_float for t in ins):
            t = next((t for t in ins if not t.is_float), None)
            if t is not None:
                raise SpecError("S007", f"receives {t.dtype} data {t}, but {self.type_name} works on floats",
                                CAST_INPUT if t.dtype in ("uint8", "bool") else FLOAT_INPUT)
        value = getattr(p, "value", None)
        if value is not None:
            return self._with_constant(value, ins)
        if len(ins) < 2:
            raise SpecError("G003", f"takes {'2' if self.max_inputs == 2 else 'at least 2'} inputs, got 1",
                            "list the inputs with from: [a, b]")
        shape = ins[0].shape
        for i, t in enumerate(ins[1:], start=1):
            merged = broadcast(shape, t.shape)
            if merged is None:
                symbolic = any(isinstance(d, Dim) for d in (*shape, *t.shape))
                raise SpecError(
                    "S010" if symbolic and len(shape) == len(t.shape) and _only_symbolic_differ(shape, t.shape)
                    else "S006",
                    f"{self.type_name} cannot combine input 1 {TensorType(shape)} with input {i + 1} {t}",
                    "shapes must match or broadcast (each dim equal, or 1); "
                    + (_unpooled_linear(ins[0], t, i + 1, self.gates) or _first_agreement(shape, t.shape)
                       or _merge_fix(shape, t.shape, i + 1, self.gates)))
            shape = merged
        return LayerResult(TensorType(shape, self.dtype([t.dtype for t in ins])), {}, 0, 0)

    def dtype(self, dtypes: list[str]) -> str:
        return promote(dtypes)  # float16 + float32 is float32 in PyTorch

    def _with_constant(self, value: int | float, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if len(ins) > 1:
            raise SpecError("V105", f"has both a value ({value}) and {len(ins)} inputs to combine",
                            "drop value:, or read one input (from: a)", field="value")
        if value == 0 and self.type_name == "Div":
            raise SpecError("V105", "divides by value 0: every output is inf or nan",
                            "use the divisor you mean, e.g. value: 2", field="value")
        check_constant(x, value, "computes with")
        self.dtype([x.dtype])  # the bool check of Sub
        out = scalar_dtype(x.dtype, value)
        if self.type_name == "Div" and out not in FLOAT_DTYPES:
            out = "float32"
        return LayerResult(TensorType(x.shape, out, x.notes), {"value": value}, 0, 0)


def _unpooled_linear(a: TensorType, b: TensorType, j: int, gates: bool) -> str:
    """The fix when one input's last dim is what a Linear made of a map's width: the branch meant to
    work per channel (a squeeze-excitation gate, a channel attention) ran its Linears over W."""
    k = next((n for n, t in ((1, a), (j, b)) if t.rank == 4 and t.note(3) == LINEAR_OVER_WIDTH), None)
    if k is None:
        return ""
    other = b if k == 1 else a
    what = "gate" if gates else "branch"
    return (f"input {k}'s last dim is {LINEAR_OVER_WIDTH}: Linear acts on the last dim, so the {what} mixed the "
            f"{other.shape[-1]} columns of each row instead of the {other.shape[1]} channels; pool the map first, as "
            "squeeze-excitation does: - {type: GlobalAvgPool, keepdim: true} before the first Linear, whose "
            f"(B, {other.shape[1]}, 1, 1) result then needs 1x1 Conv2d layers in place of the Linears (out_channels "
            "as their out_features), and broadcasts over the map")


def where_equal(x: DimLike, y: DimLike) -> str:
    """For two sizes of one symbol that differ, at which of its values they agree, with a value
    where they do not and the fix: a U-Net whose pooled sizes round down agrees with its skip only
    at multiples of 2 per level."""
    found = agreement(x, y)
    if found is None or found.everywhere:
        return ""
    s = found.symbol
    bad, good = found.example(8, False, x, y), found.example(32, True, x, y)
    if not found.residues or bad is None or good is None:
        return ""
    at = f"at {s} = {bad} they are {evaluate(x, {s: bad})} and {evaluate(y, {s: bad})}"
    return (f"{x} and {y} are equal only when {found.text()} ({at}); give the input a fixed size where "
            f"{found.text()} (such as {good}), or resize one branch to the other's size at run time: "
            "- {type: Upsample, from: [branch, skip]}")


def _first_agreement(a: tuple, b: tuple) -> str:
    """:func:`where_equal` of the first dims, aligned from the right as broadcasting aligns them,
    that agree only at some sizes; "" when none does."""
    n = min(len(a), len(b))
    return next((w for x, y in zip(a[len(a) - n:], b[len(b) - n:]) if (w := where_equal(x, y))), "")


def _only_symbolic_differ(a: tuple, b: tuple) -> bool:
    return all(x == y or isinstance(x, Dim) or isinstance(y, Dim) for x, y in zip(a, b))


def _constant_offset(a: tuple, b: tuple) -> str:
    """The hint for symbolic sizes that differ by the same number at every size (T + 11 and T):
    a layer on one branch pads more than its kernel trims, which no projection fixes."""
    n = min(len(a), len(b))
    for x, y in zip(a[len(a) - n:], b[len(b) - n:]):
        if x == y or not (isinstance(x, Dim) or isinstance(y, Dim)):
            continue
        gap = add(x, mul(y, -1))
        if isinstance(gap, int) and gap:
            return (f"{x} and {y} differ by {abs(gap)} at every size: a layer on one branch pads more or less than "
                    "its kernel trims; a convolution keeps the size with padding: same (or (kernel_size - 1) // 2 "
                    "x dilation on each side at stride 1)")
    return ""


def _independent_lengths(a: tuple, b: tuple, j: int) -> str:
    """The hint for inputs that differ in one dim only, where each has a length of its own (T and U,
    no symbol in common): broadcasting pairs them only from dims of their own, as an RNN-T joint
    network adds (B, T, 1, H) and (B, 1, U, H)."""
    if len(a) != len(b):
        return ""
    differ = [p for p, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(differ) != 1 or differ[0] == 0:
        return ""
    p = differ[0]
    x, y = a[p], b[p]
    if not (isinstance(x, Dim) and isinstance(y, Dim)) or x.symbols() & y.symbols():
        return ""
    paired = TensorType((*a[:p], x, y, *a[p + 1:]))
    return (f"{x} and {y} are independent lengths; to combine every {x} with every {y} (an RNN-T joint network, "
            f"pairwise scores), give each a dim of its own: - {{type: Unsqueeze, dim: {p + 1}}} on input 1 and "
            f"- {{type: Unsqueeze, dim: {p}}} on input {j} broadcast to {paired}; if they are one length, the two "
            "branches read inputs declared with different symbols")


def _vector_misplaced(a: tuple, b: tuple, j: int) -> str:
    """The fix for a per-sample vector unsqueezed to the wrong place: a time embedding (B, C) made
    (B, C, 1) or (B, 1, 1, C) for a (B, C, H, W) map, where broadcasting, which lines dims up from
    the right, pairs C with a spatial dim (FiLM, a diffusion ResBlock's time embedding)."""
    for vec, full, k in ((b, a, j), (a, b, 1)):
        if not 3 <= len(vec) <= len(full) or not same_size(vec[0], full[0]):
            continue
        sized = [p for p in range(1, len(vec)) if vec[p] != 1]
        if len(sized) != 1:
            continue
        f = vec[sized[0]]
        at = [d for d in range(1, len(full)) if same_size(full[d], f)]
        if len(at) != 1:
            continue
        want = tuple(full[0] if i == 0 else f if i == at[0] else 1 for i in range(len(full)))
        return (f"input {k} {TensorType(vec)} is one vector of {f} per sample, but broadcasting lines dims up from "
                f"the right, so its {f} meets dim {len(full) - len(vec) + sized[0]} of {TensorType(full)}, not dim "
                f"{at[0]}; make it {TensorType(want)}: - {{type: Reshape, shape: [{', '.join(map(str, want))}]}} "
                f"on input {k} (to scale and shift with such vectors, Modulate lays them along dim: itself)")
    return ""


def _merge_fix(a: tuple, b: tuple, j: int, gates: bool = False) -> str:
    """The fix, with its numbers, for the usual mismatches of (N, C, *spatial) maps: a residual
    shortcut that was not projected, a per-channel gate (N, C) that lost its spatial dims of size 1
    (squeeze-excitation), and a spatial gate of neither 1 channel nor the map's (an attention
    gate's psi)."""
    generic = ("on a residual path, project the shortcut with a 1x1 conv (stride and out_channels of the main "
               "path)")
    offset = _constant_offset(a, b)
    if offset:
        return offset
    placed = _vector_misplaced(a, b, j)
    if placed:
        return placed
    pairs = _independent_lengths(a, b, j)
    if pairs:
        return pairs
    if a[:-1] == b[:-1] and isinstance(a[-1], int) and isinstance(b[-1], int) and (
            len(a) == 2 or (len(a) == 3 and isinstance(a[1], Dim))):
        # features last, (B, F) or (B, T, F): token and segment embeddings, a sequence's residual;
        # a conv map (N, C, L), whose dim 1 is fixed, differing in its length has its own hints below
        big, k = (a[-1], j) if a[-1] > b[-1] else (b[-1], 1)
        return (f"the features (last dim) are {a[-1]} and {b[-1]}: give the layer that makes input {k} {big} "
                f"(out_features, embedding_dim, hidden_size), or project it with - {{type: Linear, out_features: "
                f"{big}}}")
    for gate, full, k in ((a, b, 1), (b, a, j)):
        if 2 <= len(gate) < len(full) and gate == full[:len(gate)]:
            want = TensorType((*gate, *(1,) * (len(full) - len(gate))))
            return (f"input {k} {TensorType(gate)} has no spatial dims; to scale each channel make it {want} "
                    "(- {type: Unsqueeze, dim: -1} for one dim, GlobalAvgPool keepdim: true, or a Reshape)")
    for part, full, k in ((a, b, 1), (b, a, j)):
        # one dim short of the other, not at the end (a (B, F) vector beside a (B, T, F) sequence):
        # broadcasting aligns the last dims, so the missing one must be put back with size 1
        dims = [p for p in range(len(full) - 1) if len(part) == len(full) - 1 and part == full[:p] + full[p + 1:]]
        if dims:
            return (f"input {k} {TensorType(part)} lacks dim {dims[0]} ({full[dims[0]]}) of {TensorType(full)}; to "
                    f"apply it at every {full[dims[0]]}, insert that dim with size 1: - {{type: Unsqueeze, dim: "
                    f"{dims[0]}}} on input {k}")
    if len(a) == len(b) >= 3 and a[2:] == b[2:] and a[1] != b[1] and all(isinstance(d, int) for d in (a[1], b[1])):
        # the same positions, other channels (at any size): only the channel count is to fix
        narrow, wide, k = (a, b, 1) if a[1] < b[1] else (b, a, j)
        if gates:
            return (f"input {k} {TensorType(narrow)} gates a map of {wide[1]} channels: a gate has 1 channel "
                    f"(one weight per position, as an attention gate's psi) or {wide[1]}; give the layer that "
                    f"makes it out_channels: 1 or {wide[1]}")
        if not all(isinstance(d, int) for d in a[2:]):  # fixed sizes: the stride-aware rule below
            return (f"on a residual path, project input {k} {TensorType(narrow)} to {wide[1]} channels with a 1x1 "
                    f"conv (out_channels: {wide[1]}), or give both branches out_channels: {wide[1]}")
    if len(a) != len(b) or len(a) < 3 or not all(isinstance(d, int) for d in (*a[1:], *b[1:])):
        return generic
    for gate, full, k in ((a, b, 1), (b, a, j)):
        if all(d == 1 for d in gate[2:]) and any(d != 1 for d in full[2:]):
            return (f"input {k} {TensorType(gate)} gates {gate[1]} channels but the map has {full[1]}; give the "
                    f"layer that makes the gate out_channels: {full[1]}")
    # The smaller map is the main path (it was downsampled); the other input is the shortcut.
    main, short, k = (a, b, j) if (a[2:], -a[1]) <= (b[2:], -b[1]) else (b, a, 1)
    strides = {s // m for s, m in zip(short[2:], main[2:]) if m and s % m == 0}
    exact = all(m and s % m == 0 for s, m in zip(short[2:], main[2:])) and len(strides) == 1
    stride = f", stride: {strides.pop()}" if exact and strides != {1} else ""
    if not exact:
        # An upsampled map one pixel off its skip (an odd size halved and doubled): the pad that fixes it.
        pad = _pad_to_match(TensorType(a), TensorType(b), j, 1) if a[1] == b[1] else ""
        return (f"the spatial sizes differ ({'x'.join(map(str, main[2:]))} vs {'x'.join(map(str, short[2:]))}); "
                "give both branches the same stride, kernel and padding (a k x k conv at stride 1 keeps the size "
                f"with padding: (k - 1) // 2: 0 for 1x1, 1 for 3x3, 2 for 5x5){pad}")
    also = "" if stride else f", or give both branches out_channels: {main[1]}"
    return (f"on a residual path, project input {k} {TensorType(short)} to {TensorType(main)} with a 1x1 conv "
            f"(out_channels: {main[1]}{stride}){also}")


@register
class Add(_Broadcasting):
    type_name, aliases = "Add", ()
    summary = "element-wise sum of two or more inputs (residual connections), or of one and a constant (value: 1)"


@register
class Mul(_Broadcasting):
    type_name, aliases = "Mul", ("Multiply",)
    summary = ("element-wise product of two or more inputs (gating, squeeze-excitation), or of one and a constant "
               "(value:)")
    gates = True


def promote(dtypes: list[str]) -> str:
    """The dtype PyTorch gives an element-wise op of tensors of these dtypes (its type promotion
    between tensors of one category: bool < integers < floats, and the wider within one)."""
    floats = [d for d in dtypes if d in FLOAT_DTYPES]
    if floats:
        if len(set(floats)) > 1 and set(floats) <= {"float16", "bfloat16"}:
            return "float32"  # neither holds the other
        return max(floats, key=("bfloat16", "float16", "float32", "float64").index)
    ints = [d for d in dtypes if d in INT_DTYPES]
    if not ints:
        return "bool"
    if set(ints) == {"int8", "uint8"}:
        return "int16"
    return max(ints, key=("uint8", "int8", "int16", "int32", "int64").index)


class _Arithmetic(_Broadcasting):
    """Two inputs of any number dtype, broadcast by PyTorch's rule, in the dtype PyTorch promotes
    them to (or one and a constant, value:)."""

    min_inputs, max_inputs = 1, 2
    mixes = True
    bool_ok = False

    def dtype(self, dtypes: list[str]) -> str:
        if not self.bool_ok and "bool" in dtypes:
            i = dtypes.index("bool") + 1
            raise SpecError("S007", f"input {i} is bool, but {self.type_name} works on numbers",
                            f"add - {{type: Cast, dtype: float32}} before the {self.type_name} (or int64)")
        return promote(dtypes)


@register
class Sub(_Arithmetic):
    type_name, aliases = "Sub", ("Subtract",)
    summary = "element-wise difference of two inputs, input 1 minus input 2 (broadcasting), or minus value:"


@register
class Div(_Arithmetic):
    type_name, aliases = "Div", ("Divide",)
    summary = "element-wise true division, input 1 by input 2 or by value: (integers give float32)"
    bool_ok = True

    def dtype(self, dtypes: list[str]) -> str:
        out = promote(dtypes)
        return out if out in FLOAT_DTYPES else "float32"


@register
class Max(_Arithmetic):
    Params = NoParams
    min_inputs = 2
    type_name, aliases = "Max", ("Maximum",)
    summary = "element-wise maximum of two inputs (broadcasting)"


@register
class Min(_Arithmetic):
    Params = NoParams
    min_inputs = 2
    type_name, aliases = "Min", ("Minimum",)
    summary = "element-wise minimum of two inputs (broadcasting)"


def _rank_fix(a: TensorType, b: TensorType, b_index: int) -> str:
    """The fix for Concat inputs of two ranks: joined as one feature vector per sample (a
    TabTransformer's column tokens (B, 5, 32) beside its numeric features (B, 6)), the one with
    more dims is flattened."""
    (hi, k), lo = ((a, 1), b) if a.rank > b.rank else ((b, b_index), a)
    if lo.rank == 2:
        flat = TensorType((hi.shape[0], product(hi.shape[1:])))
        return (f"to join them as one feature vector per sample, flatten input {k} {hi} to {flat} first "
                "(- {type: Flatten} after it); else give both the same dims (Unsqueeze, Reshape)")
    return "give both the same number of dims first (Flatten, Unsqueeze or Reshape the one that differs)"


def _pad_to_match(a: TensorType, b: TensorType, b_index: int, cat_dim: int) -> str:
    """A zero pad that makes the smaller of two (N, C, *spatial) maps the size of the other, when
    one is no larger in every spatial dim: what U-Net implementations do to the upsampled map
    when a pooled size was odd."""
    n = a.rank - 2
    if not 1 <= n <= 3 or cat_dim >= 2:
        return ""
    sa, sb = a.shape[2:], b.shape[2:]
    if not all(isinstance(v, int) for v in (*sa, *sb)):
        return ""
    diffs = [x - y for x, y in zip(sa, sb)]  # type: ignore[operator]
    if all(v >= 0 for v in diffs):
        small, grow = b_index, diffs
    elif all(v <= 0 for v in diffs):
        small, grow = 1, [-v for v in diffs]
    else:
        return ""
    # ZeroPad order: last dim first, (before, after); split as the implementations do (milesial's
    # F.pad(x1, [diffX // 2, diffX - diffX // 2, ...])), centring the smaller map: all of it after
    # would shift a valid U-Net's crop by pixels
    pads = [p for g in reversed(grow) for p in (g // 2, g - g // 2)]
    return (f"; or pad input {small} to the other's size, as U-Net implementations pad the upsampled map: "
            f"- {{type: ZeroPad{n}d, padding: {pads}}} on it")


@register
class MatMul(LayerKind):
    """torch.matmul of two inputs of rank 2 or more: (..., n, k) @ (..., k, m) -> (..., n, m),
    the leading dims broadcast.  Attention written out (scores q·kᵀ after a Transpose, then the
    weights times v), a non-local block's affinities, a graph convolution's A·X."""

    type_name = "MatMul"
    Params = NoParams
    min_inputs, max_inputs = 2, 2
    form = "inline"
    summary = "matrix product of two inputs: (..., n, k) @ (..., k, m) -> (..., n, m), leading dims broadcast"

    def infer(self, p: NoParams, ins: list[TensorType]) -> LayerResult:
        a, b = ins
        for i, t in enumerate(ins, start=1):
            if t.rank < 2:
                raise SpecError("S003", f"MatMul multiplies matrices, but input {i} {t} has rank {t.rank}",
                                "add - {type: Unsqueeze, dim: -1} before it to make a column")
        if a.dtype != b.dtype:
            # torch.matmul, unlike the element-wise ops, promotes nothing: "expected m1 and m2 to have
            # the same dtype" (a float16 adjacency times float32 features)
            want = promote([a.dtype, b.dtype])
            cast = 1 if a.dtype != want else 2
            raise SpecError("S007", f"multiplies input 1 of {a.dtype} by input 2 of {b.dtype}, but a matrix "
                            "product takes two inputs of one dtype (PyTorch's matmul and ONNX's MatMul promote "
                            "neither, unlike element-wise ops)",
                            f"cast input {cast} to {want} first (- {{type: Cast, dtype: {want}}} on it), or declare "
                            "both inputs with one dtype")
        k, k2 = a.shape[-1], b.shape[-2]
        if not same_size(k, k2):
            fix = (f"input 2 has the {k} in its last dim: transpose it first, - {{type: Transpose, dim0: -1, "
                   "dim1: -2} (q·kᵀ)" if same_size(k, b.shape[-1]) else
                   f"make input 1's last dim ({k}) equal input 2's second-to-last ({k2})")
            raise SpecError("S010" if isinstance(k, Dim) or isinstance(k2, Dim) else "S006",
                            f"cannot multiply input 1 {a} by input 2 {b}: {k} columns against {k2} rows", fix)
        batch = broadcast(a.shape[:-2], b.shape[:-2])
        if batch is None:
            raise SpecError("S006", f"MatMul's leading dims do not broadcast: {TensorType(a.shape[:-2])} and "
                            f"{TensorType(b.shape[:-2])}", "make them equal (or 1) dim by dim, batch first")
        out = TensorType((*batch, a.shape[-2], b.shape[-1]), promote([a.dtype, b.dtype]))
        return LayerResult(out, {}, 0, mul(product(out.shape[1:]), k))


@register
class Concat(LayerKind):
    type_name, aliases = "Concat", ("Concatenate", "Cat")
    Params = ConcatParams
    min_inputs, max_inputs = 2, None
    accepts = "any"
    form = "inline"
    summary = "concatenate inputs along dim (default 1, the channel dim)"

    def infer(self, p: ConcatParams, ins: list[TensorType]) -> LayerResult:
        first = ins[0]
        d = axis(p.dim, first.rank)
        total = first.shape[d]
        for i, t in enumerate(ins[1:], start=1):
            if t.rank != first.rank:
                raise SpecError("S006", f"Concat inputs have different ranks: {first} and input {i + 1} {t}",
                                _rank_fix(first, t, i + 1))
            differ = [j for j, (x, y) in enumerate(zip(first.shape, t.shape)) if j != d and not same_size(x, y)]
            if differ:
                j = differ[0]
                x, y = first.shape[j], t.shape[j]
                # Another dim is a fix only when it is the one place the inputs differ.
                agree = where_equal(x, y)
                # T and T + 1 at every size: a branch that pads more than its kernel trims (an even
                # kernel with padding k // 2), not a wrong dim
                offset = _constant_offset((x,), (y,))
                fix = (offset if offset else
                       f"did you mean dim: {j}?" if first.shape[d] == t.shape[d] and len(differ) == 1 else
                       f"at dim {j}, {agree}" if agree else
                       f"here they are {x} and {y} at dim {j}; make the branches agree there (same stride, kernel "
                       "and padding for conv branches)")
                if j >= 2 and isinstance(x, int) and isinstance(y, int) and (x - y) % 2 == 0:
                    fix += (f"; a difference of {abs(x - y)} is what padding: {abs(x - y) // 2} on the smaller "
                            "branch's conv makes up at stride 1")
                fix += _pad_to_match(first, t, i + 1, d)
                raise SpecError(
                    "S010" if isinstance(x, Dim) or isinstance(y, Dim) else "S006",
                    f"Concat along dim {p.dim}: input 1 {first} and input {i + 1} {t} differ at dim {j}",
                    f"all dims except dim {p.dim} must match; {fix}", field="dim")
            total = add(total, t.shape[d])
        shape = list(first.shape)
        shape[d] = total
        # torch.cat promotes mixed inputs as arithmetic does (int64 with float32 is float32)
        dtype = promote([t.dtype for t in ins])
        # where the joined size comes from, for the next layer's S001 (a U-Net decoder conv written
        # with the upsampled map's channels, forgetting the skip's)
        notes = {k: v for k, v in first.notes.items() if k != d}
        if len(ins) > 1 and all(isinstance(t.shape[d], int) for t in ins):
            notes[d] = " + ".join(str(t.shape[d]) for t in ins) + " from the Concat's inputs"
        return LayerResult(TensorType(tuple(shape), dtype, notes), {"dim": p.dim}, 0, 0)


# -- adaptive modulation: adaLN, FiLM ---------------------------------------------------------------

class ModulateParams(LayerParams):
    dim: int = Field(-1, description="the dim of x that shift and scale run along: -1 for the features of a "
                     "(B, N, D) sequence, 1 for the channels of a (B, C, H, W) map")


@register
class Modulate(LayerKind):
    """``x · (1 + scale) + shift`` with one shift and one scale vector per sample, ``from: [x, shift,
    scale]``: DiT's ``modulate`` (adaLN, ``x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)``) and the
    scale-shift of diffusers' ResnetBlock2D (``h * (1 + scale) + shift`` on a (B, C, H, W) map).  shift
    and scale are (B, F), F the size of ``dim`` of x; each is placed along that dim and repeated over
    the others, so the broadcasting a hand-written Unsqueeze gets wrong cannot be."""

    type_name = "Modulate"
    Params = ModulateParams
    min_inputs, max_inputs = 3, 3
    form = "inline"
    summary = "x * (1 + scale) + shift with (B, F) shift and scale along one dim of x (DiT's adaLN, FiLM)"

    def infer(self, p: ModulateParams, ins: list[TensorType]) -> LayerResult:
        x, shift, scale = ins
        if x.rank < 2:
            raise SpecError("S003", f"modulates a dim of the input, but {x} has none beside the batch",
                            "give Modulate a (B, N, D) sequence or a (B, C, H, W) map as its first input")
        d = axis(p.dim, x.rank)
        if d == 0:
            raise SpecError("S063", "dim 0 is the batch, which shift and scale give one vector for",
                            f"set dim: {x.rank - 1 if x.rank == 3 else 1}", field="dim")
        width = x.shape[d]
        for k, (name, v) in enumerate((("shift", shift), ("scale", scale)), start=2):
            if v.rank != 2:
                unsqueezed = v.rank == x.rank and sum(s == 1 for s in v.shape) == x.rank - 2
                raise SpecError("S063", f"{name} (input {k}) {v} is not one vector per sample (B, F)",
                                "give Modulate the (B, F) vector itself, before any Unsqueeze or Reshape: it puts "
                                "it along dim: itself" if unsqueezed else
                                "make it (B, F) with a Linear on the conditioning vector, split with Chunk dim: 1")
            if not (same_size(v.shape[0], x.shape[0]) or v.shape[0] == 1):
                raise SpecError("S063", f"{name} (input {k}) {v} has batch {v.shape[0]} but the input {x} has "
                                f"{x.shape[0]}", "compute shift and scale from the same samples as x")
            if not same_size(v.shape[1], width):
                raise SpecError("S063", f"{name} (input {k}) {v} has {v.shape[1]} features but dim {p.dim} of the "
                                f"input {x} has {width}", _modulate_fix(x, v, d), field="dim")
        dtype = promote([x.dtype, shift.dtype, scale.dtype])
        # the dims shift and scale get, of size 1, to line up with x: all but the batch and dim
        axes = [i for i in range(1, x.rank) if i != d]
        return LayerResult(TensorType(x.shape, dtype, x.notes), {"dim": d, "axes": axes}, 0, 0)


def _modulate_fix(x: TensorType, v: TensorType, d: int) -> str:
    """The fix when a (B, F) modulation's F is not x's size at ``d``: the dim of x that has F, a
    modulation not yet split into its parts, or a Linear of the wrong width."""
    f, width = v.shape[1], x.shape[d]
    other = [i for i in range(1, x.rank) if i != d and same_size(x.shape[i], f)]
    if len(other) == 1:
        i = other[0]
        return f"set dim: {i - x.rank if i == x.rank - 1 else i}"
    if isinstance(f, int) and isinstance(width, int) and width and f % width == 0 and f > width:
        return (f"{f} is {f // width} vectors of {width}: split it first with - {{type: Chunk, chunks: {f // width}, "
                "dim: 1} and give Modulate one part as shift and another as scale")
    return (f"give the Linear that makes it {width} features (times the number of parts it is split into), or "
            "point dim: at the dim of x it modulates")


# -- learned weighted sums: BiFPN's fusion --------------------------------------------------------------

class WeightedSumParams(LayerParams):
    normalize: Literal["fast", "softmax", "none"] = Field(
        "fast", description="fast: relu(w) / (sum relu(w) + eps), EfficientDet's fast normalised fusion; softmax: "
        "softmax(w); none: w as learned")
    eps: PositiveFloat = 1e-4
    init: float = 1.0


@register
class WeightedSum(LayerKind):
    """``Σ w_i · x_i`` with one learned weight per input, ``from: [a, b, ...]``: EfficientDet's BiFPN
    fusion (Tan et al. 2020). ``normalize: fast`` is its fast normalised fusion, ``w_i = relu(v_i) /
    (Σ_j relu(v_j) + eps)`` (eps 1e-4, each v started at 1, as google/automl and zylo117's
    Yet-Another-EfficientDet-Pytorch write it), which keeps every weight non-negative and their sum
    below 1; ``softmax`` is its softmax fusion, ``none`` the raw weights. The inputs have one shape
    (resize them to one level first); the weights are one parameter ``weight`` of length n."""

    type_name, Params = "WeightedSum", WeightedSumParams
    min_inputs, max_inputs = 2, None
    form = "call"
    summary = ("Σ w_i·x_i, one learned weight per input: normalize fast (relu(w) / (Σ relu(w) + eps), BiFPN's "
               "fusion), softmax or none")

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        return {"weight": (int(args["n"]),)}

    def infer(self, p: WeightedSumParams, ins: list[TensorType]) -> LayerResult:
        first = ins[0]
        for i, t in enumerate(ins[1:], start=2):
            if t.rank != first.rank or not all(same_size(a, b) for a, b in zip(first.shape, t.shape)):
                raise SpecError("S006", f"WeightedSum cannot combine input 1 {first} with input {i} {t}: it weighs "
                                "inputs of one shape", "resize every input to the same level first (Upsample, "
                                "MaxPool2d) and give them the same channels (a 1x1 Conv2d)")
        n = len(ins)
        args = {"n": n, "normalize": p.normalize, "eps": p.eps, "init": p.init}
        return LayerResult(TensorType(first.shape, promote([t.dtype for t in ins]), first.notes), args, n,
                           mul(product(first.shape[1:]), n))
