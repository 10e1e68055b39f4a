"""Layers that move elements around without computing: Identity, Flatten, Unflatten, Reshape,
Permute, Transpose, Squeeze, Unsqueeze, Slice, Roll, Split, Chunk, PixelShuffle, PixelUnshuffle, and
Cast, which changes only the dtype.  No parameters, 0 MACs.

Reshape names symbolic dims by the input axis they come from (its ``reads``: input and axis of
each symbolic entry), so a target can write the new shape for any size of the symbols.
"""

import re
from typing import Any, Literal

from pydantic import AliasChoices, Field, PositiveInt, model_validator

from ..diagnostics import SpecError
from ..shapes.dims import Dim, DimLike, add, ceildiv, mul, product, sym
from ..shapes.formulas import divisors, exact_div
from ..shapes.tensor import DTYPES, TensorType
from .base import Form, LayerKind, LayerParams, LayerResult, NoParams, Requirement, axis, register, require, static


def factor(d: DimLike) -> str:
    """A dim as one factor of a product: ``64``, ``T``, ``(T - 2)``."""
    s = str(d)
    return s if isinstance(d, int) or s.isidentifier() else f"({s})"


def _written(v: tuple[Any, ...]) -> str:
    return "[" + ", ".join(str(e) for e in v) + "]"


# A dim read by position, as PyTorch code reads it: ``like.size(2)`` (needs no quotes in a YAML
# flow list) or ``like.shape[2]``; ``x`` is the input reshaped, ``like`` the second input.
_READ = re.compile(r"^\s*(\w+)\s*\.\s*(?:size\s*\(\s*([-+]?\d+)\s*\)|shape\s*\[\s*([-+]?\d+)\s*\])\s*$")
_READ_FROM = {"x": 0, "like": 1}


def _read(e: str) -> tuple[str, int] | None:
    """``(tensor, axis)`` of an entry that reads a dim by position (``like.size(2)``)."""
    m = _READ.match(e)
    return (m[1], int(m[2] if m[2] is not None else m[3])) if m else None


def _check_sizes(v: tuple[Any, ...], field: str, names: bool) -> None:
    """Reshape and Unflatten entries are positive sizes, one -1, and dims read by position
    (``like.size(2)``); Reshape's also input dim names."""
    also = (", the name of an input dim such as B, or a dim read by position: x.size(i) of the input, "
            "like.size(i) of a second input (from: [x, like])") if names else \
        ", or a dim read by position: like.size(i) of a second input (from: [x, like])"
    if not v:
        raise SpecError("V003", f"{field} is empty", "list the sizes, e.g. " +
                        (f"{field}: [B, -1]" if names else f"{field}: [-1, 4]"), field=field)
    for e in v:
        if isinstance(e, str) and (read := _read(e)) is not None and read[0] not in _READ_FROM:
            which, i = read
            raise SpecError("V003", f"{field} entry '{e}' reads a dim of '{which}', which is not one of the "
                            "layer's inputs by the names shape knows (x, the input reshaped, and like, the second "
                            "input)", f"read the first input's dims as x.size({i}) and a second input's as "
                            f"like.size({i}), with that tensor in from: [x, like] (from: [previous_layer, {which}])",
                            field=field)
        if isinstance(e, str) and not ((names and e.isidentifier()) or _read(e) is not None):
            raise SpecError("V003", f"{field} entry '{e}' is not a size",
                            f"use positive whole numbers, -1 once to infer a size{also}", field=field)
        if isinstance(e, int) and (e == 0 or e < -1):
            keep = " (PyTorch has no 0 = keep this dim)" if e == 0 else ""
            raise SpecError("V003", f"{field} entry {e} is not a size{keep}",
                            f"use a positive whole number, -1 once to infer a size{also}", field=field)
    if sum(1 for e in v if e == -1) > 1:
        raise SpecError("V003", f"{field} {_written(v)} has more than one -1", "keep -1 for the one size inferred "
                        "from the others and write the rest out", field=field)


class FlattenParams(LayerParams):
    start_dim: int = 1
    end_dim: int = -1


class UnflattenParams(LayerParams):
    dim: int
    # torch.Tensor.unflatten(dim, sizes) names it sizes
    unflattened_size: tuple[int | str, ...] = Field(
        validation_alias=AliasChoices("unflattened_size", "sizes"),
        description="the sizes dim splits into: whole numbers, -1 once, or a dim read by position, like.size(i) "
                    "of a second input")


class ReshapeParams(LayerParams):
    shape: tuple[int | str, ...] = Field(
        description="a list of sizes: whole numbers, -1 once, input dim names such as B, or a dim read by "
                    "position: x.size(i) of the input, like.size(i) of a second input")


class PermuteParams(LayerParams):
    dims: tuple[int, ...] = Field(min_length=1)


class TransposeParams(LayerParams):
    dim0: int
    dim1: int


class SqueezeParams(LayerParams):
    dim: int | tuple[int, ...] | None = None


class UnsqueezeParams(LayerParams):
    dim: int


def _fill(total: DimLike, sizes: list[DimLike | None], written: tuple[Any, ...], what: str,
          where: str, field: str, source: tuple[DimLike, ...] = ()) -> tuple[DimLike, ...]:
    """Sizes with the -1 (None here) inferred; their product must be ``total``, the product of
    ``source`` when the dims reshaped are given."""
    known = product([s for s in sizes if s is not None])
    if None in sizes:
        rest = exact_div(total, known)
        if rest is None or (isinstance(rest, int) and rest <= 0):
            if isinstance(total, int) and isinstance(known, int):
                raise SpecError("S009", f"{what} {_written(written)} cannot hold {where}: {total} is not a multiple "
                                f"of {known}", f"the sizes besides -1 must multiply to a divisor of {total} "
                                f"({_near_divisors(total, known)})", field=field)
            raise SpecError("S009", f"{what} {_written(written)} cannot hold {where}: {total} cannot be proven a "
                            f"multiple of {known}", _per_sample(total, sizes, written, source) or
                            "name the symbolic dims in the shape so they cancel (a size derived from them by the "
                            "position it has in the input or a second input: x.size(i), like.size(i)), or give "
                            "them fixed sizes",
                            field=field)
        return tuple(rest if s is None else s for s in sizes)
    if known != total:
        hint = f"the sizes must multiply to {total}; use -1 for one of them to let specc infer it"
        unnamed = sorted(total.symbols() - set(e for e in written if isinstance(e, str))) \
            if isinstance(total, Dim) else []
        restored = _restore(source, sizes, written)
        batch = source[0] if source else None
        if (batch is not None and not isinstance(batch, int) and exact_div(total, known) == batch
                and batch not in written):
            # a sample's shape, written as Keras' Reshape takes it: the whole shape has the batch dim
            entries = ", ".join(str(e) for e in (batch, *written))
            hint = (f"the shape is the whole tensor's, batch dim first (Keras' Reshape leaves the batch out): "
                    f"write {field}: [{entries}]")
        elif restored:
            hint = restored
        else:
            for j in reversed([i for i, e in enumerate(written) if isinstance(e, int)]):
                fit = exact_div(total, product([s for i, s in enumerate(sizes) if i != j and s is not None]))
                if (isinstance(fit, int) and fit > 0) or (isinstance(fit, Dim) and str(fit).isidentifier()):
                    hint = f"use {fit} for entry {j} (or -1 there to let specc infer it)"
                    break
            else:
                bare = {str(d) for d in source if isinstance(d, Dim) and str(d).isidentifier()}
                if unnamed and (not source or set(unnamed) <= bare):
                    hint = (f"write the symbolic dims by name ({', '.join(unnamed)}) so the shape fits every "
                            "size; use -1 for one entry to let specc infer it")
                elif unnamed:
                    # sizes derived from the symbols (floor((H + 3)/4)) have no name to write
                    hint = (f"the sizes must multiply to {total}: read a derived size by its position, "
                            "x.size(i) of the input or like.size(i) of a second input, and use -1 for one entry "
                            "to let specc infer it")
        raise SpecError("S009", f"{what} {_written(written)} holds {known} elements but {where} has {total}", hint,
                        field=field)
    return tuple(s for s in sizes if s is not None)


def _per_sample(total: DimLike, sizes: list[DimLike | None], written: tuple[Any, ...],
                source: tuple[DimLike, ...]) -> str:
    """The shape meant by PyTorch's ``x.view(-1, N)`` with N computed for another input size: the
    batch by name, then the values each sample really has (a -1 hides the batch, so no fixed N
    can be proven to divide it)."""
    batch = source[0] if source and isinstance(source[0], Dim) and str(source[0]).isidentifier() else None
    if batch is None or written.count(-1) != 1:
        return ""
    per = exact_div(total, batch)
    if not isinstance(per, int):
        return ""
    if len(written) == 2:
        fixed = [per]
    elif len(written) == len(source) and all(isinstance(d, int) for d in source[1:]):
        fixed = list(source[1:])  # type: ignore[arg-type]
    else:
        return ""
    known = product([s for s in sizes if s is not None])
    return (f"write {_written((str(batch), *fixed))} to keep the batch {batch} and the {per} values each sample "
            f"has here ({known} per sample is what another input size gives; a Flatten does the same)")


def _restore(source: tuple[DimLike, ...], sizes: list[DimLike | None], written: tuple[Any, ...]) -> str:
    """When the shape is the input's dims with some left out, the fix that writes them back:
    a shape that drops the 768 of (B, 128, 768) means to keep it, not to fold it into a 98304."""
    full: list[object] = []
    k = 0
    for d in source:
        if k < len(sizes) and sizes[k] == d:
            full.append(written[k])
            k += 1
        elif isinstance(d, int) or (isinstance(d, Dim) and str(d).isidentifier()):
            full.append(d)
        else:
            return ""
    if k < len(sizes) or len(full) == len(sizes):
        return ""
    left = [str(d) for d in full[len(sizes):]] if full[:len(sizes)] == list(written) else []
    gone = len(full) - len(sizes)
    what = f"the input's {', '.join(left)}" if left else f"{gone} dim{'s' if gone > 1 else ''} of the input"
    return f"the shape leaves out {what}: write [{', '.join(map(str, full))}] to keep {'them' if gone > 1 else 'it'}"


def _near_divisors(n: int, near: int, most: int = 10) -> str:
    """The divisors of ``n`` closest to ``near``, for a hint."""
    found = divisors(n, near)
    shown = sorted(sorted(found, key=lambda d: abs(d - near))[:most])
    return ", ".join(str(d) for d in shown) + (", …" if len(found) > most else "")


@register
class Identity(LayerKind):
    may_alias = True
    type_name, Params = "Identity", NoParams
    accepts = "any"
    summary = "passes its input through unchanged (a placeholder or a named tap)"

    def infer(self, p: NoParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), {}, 0, 0)


@register
class Flatten(LayerKind):
    may_alias = True
    type_name, Params = "Flatten", FlattenParams
    accepts = "any"
    summary = "merge dims start_dim..end_dim into one (default: all but the batch dim)"

    def infer(self, p: FlattenParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        rank = max(x.rank, 1)  # PyTorch treats a 0-d tensor as rank 1 here
        start, end = axis(p.start_dim, rank, "start_dim"), axis(p.end_dim, rank, "end_dim")
        if start > end:
            raise SpecError("S008", f"start_dim={p.start_dim} comes after end_dim={p.end_dim} for the input {x}",
                            f"swap them: start_dim: {end}, end_dim: {start}", field="start_dim")
        merged = x.shape[start:end + 1]
        shape = (*x.shape[:start], product(merged), *x.shape[end + 1:])
        notes = {i: n for i, n in x.notes.items() if i < start}
        notes.update({i - (end - start): n for i, n in x.notes.items() if i > end})
        if len(merged) > 1:
            notes[start] = "·".join(factor(d) for d in merged)
        elif start in x.notes:
            notes[start] = x.notes[start]
        return LayerResult(TensorType(shape, x.dtype, notes), {"start_dim": p.start_dim, "end_dim": p.end_dim},
                           0, 0)


@register
class Unflatten(LayerKind):
    may_alias = True
    type_name, Params = "Unflatten", UnflattenParams
    min_inputs, max_inputs = 1, 2
    accepts = "any"
    summary = ("split dim into unflattened_size (one entry may be -1, and like.size(i) reads a size of a second "
               "input: from: [x, like])")

    def infer(self, p: UnflattenParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        _check_sizes(p.unflattened_size, "unflattened_size", names=False)
        d = axis(p.dim, x.rank)
        sizes: list[DimLike | None] = []
        reads: list[tuple[int, int] | None] = []
        for e in p.unflattened_size:
            size, read = _entry_read(e, ins, "unflattened_size") or (None if e == -1 else e, None)
            sizes.append(size)
            reads.append(read)
        why = x.note(d)
        where = f"dim {p.dim} of the input {x} (size {x.shape[d]}{f' = {why}' if why else ''})"
        parts = _fill(x.shape[d], sizes, p.unflattened_size, "unflattened_size", where, "unflattened_size")
        shape = (*x.shape[:d], *parts, *x.shape[d + 1:])
        args: dict[str, Any] = {"dim": p.dim, "unflattened_size": p.unflattened_size}
        if any(reads):  # sizes read at run time: x.unflatten(dim, (like.shape[2], ...)) inline
            args["reads"] = reads
        return LayerResult(TensorType(shape, x.dtype), args, 0, 0)

    def applied(self, args: dict[str, Any]) -> Form:
        return "inline" if "reads" in args else self.form


def _named_axes(x: TensorType) -> dict[str, int]:
    """Each symbol that is exactly one of ``x``'s dims, and the first such axis."""
    named: dict[str, int] = {}
    for i, d in enumerate(x.shape):
        if isinstance(d, Dim) and str(d).isidentifier() and str(d) not in named:
            named[str(d)] = i
    return named


@register
class Reshape(LayerKind):
    may_alias = True
    form = "inline"
    type_name, Params = "Reshape", ReshapeParams
    min_inputs, max_inputs = 1, 2
    accepts = "any"
    summary = ("view as shape (batch dim included): sizes, -1 once, dim names such as B, or dims read by position, "
               "x.size(i) of the input or like.size(i) of a second one (from: [x, like])")

    def infer(self, p: ReshapeParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        _check_sizes(p.shape, "shape", names=True)
        named = _named_axes(x)  # symbol -> the input axis that is exactly that symbol
        # a second input lends the sizes the first has lost (a map flattened to (B, C, H·W) for
        # attention, viewed back as (B, C, H, W) with H and W read from the map it came from)
        like = _named_axes(ins[1]) if len(ins) > 1 else {}
        sizes: list[DimLike | None] = []
        reads: list[tuple[int, int] | None] = []  # per entry: (input, axis) a target reads it from
        for e in p.shape:
            entry = _entry_read(e, ins, "shape")
            if entry is not None:
                sizes.append(entry[0])
                reads.append(entry[1])
            elif isinstance(e, str):
                if e not in named and e not in like:
                    raise SpecError("S009", f"'{e}' in shape is not a dim of the input {x}" +
                                    (f" or of the second input {ins[1]}" if len(ins) > 1 else ""),
                                    _unnamed_hint(e, p.shape, ins, named, like), field="shape")
                sizes.append(sym(e))
                reads.append((0, named[e]) if e in named else (1, like[e]))
            else:
                sizes.append(None if e == -1 else e)
                reads.append(None)
        try:
            out = _fill(product(x.shape), sizes, p.shape, "shape", f"the input {x}", "shape", x.shape)
        except SpecError as exc:
            _untiled_window(x, sizes, p.shape)
            raise exc from None
        return LayerResult(TensorType(out, x.dtype), {"shape": p.shape, "reads": reads}, 0, 0)


def _untiled_window(x: TensorType, sizes: list[DimLike | None], written: tuple[Any, ...]) -> None:
    """Raise the window's own S009 when a Reshape that failed partitions a map into windows the
    map's size is no multiple of: Swin's (B, H, W, C) -> (B, H/w, w, W/w, w, C) at a window w that
    does not divide H or W.  The generic count of elements says nothing of the window; the sizes
    that would tile the map do."""
    if len(sizes) != x.rank + 2:
        return
    for i in range(x.rank - 1):
        h, w = x.shape[i], x.shape[i + 1]
        wh, ww = sizes[i + 1], sizes[i + 3]
        if (sizes[:i] != list(x.shape[:i]) or sizes[i + 4:] != list(x.shape[i + 2:])
                or not all(isinstance(d, int) and not isinstance(d, bool) for d in (h, w, wh, ww))):
            continue
        assert isinstance(h, int) and isinstance(w, int) and isinstance(wh, int) and isinstance(ww, int)
        counts = (sizes[i], sizes[i + 2])
        if wh < 2 or ww < 2 or not all(c is None or isinstance(c, int) for c in counts) or (h % wh == 0
                                                                                          and w % ww == 0):
            continue
        off = list(dict.fromkeys(f"{n} is not a multiple of {k}" for n, k in ((h, wh), (w, ww)) if n % k))
        tiles = [d for d in divisors(h, wh) if w % d == 0 and d > 1] if wh == ww else []
        which = f"a window that divides both ({', '.join(map(str, tiles))})" if tiles else \
            f"windows that divide each side ({_near_divisors(h, wh, 4)} for {h}; {_near_divisors(w, ww, 4)} for {w})"
        raise SpecError("S009", f"shape {_written(written)} partitions the {h} x {w} map of the input {x} into "
                        f"{wh} x {ww} windows, which do not tile it: {' and '.join(off)}",
                        f"use {which}, or pad the map up to multiples of the window first (Swin pads H and W to "
                        f"{-(-h // wh) * wh} x {-(-w // ww) * ww} before partitioning)", field="shape")


def _entry_read(e: Any, ins: list[TensorType], field: str) -> tuple[DimLike, tuple[int, int]] | None:
    """For an entry that reads a dim by position (``like.size(2)``): its size and where a target
    reads it at run time, (input, axis); None for any other entry."""
    read = _read(e) if isinstance(e, str) else None
    if read is None:
        return None
    which, i = _READ_FROM[read[0]], read[1]
    return _read_dim(e, which, i, ins, field), (which, i % ins[which].rank)


def _read_dim(e: str, which: int, i: int, ins: list[TensorType], field: str) -> DimLike:
    """The size an entry such as ``like.size(2)`` reads: dim ``i`` of input ``which``."""
    if which >= len(ins):
        raise SpecError("S050", f"{field} entry '{e}' reads a dim of a second input, but the layer has one input "
                        f"{ins[0]}", "give the tensor to read the size from as the second input: from: "
                        "[this_value, that_tensor] (x.size(i) reads the input itself)", field=field)
    t = ins[which]
    if not -t.rank <= i < t.rank:
        what = "the input" if which == 0 else "the second input"
        raise SpecError("S008", f"{field} entry '{e}' reads dim {i} of {what} {t}, which has {t.rank} dims",
                        f"read a dim from {-t.rank} to {t.rank - 1}", field=field)
    return t.shape[i % t.rank]


def _unnamed_hint(e: str, written: tuple[Any, ...], ins: list[TensorType], named: dict[str, int],
                  like: dict[str, int]) -> str:
    """The fix for a name that is no dim of the inputs: when a derived size holds it (H in
    floor((H + 3)/4) after a stride-4 patch embedding), the shape that reads those dims by
    position from the second input, or the advice to give one."""
    x = ins[0]
    known = ", ".join([*named, *(k for k in like if k not in named)])
    base = f"name one of the dims ({known}) or use -1" if known else "use -1 or a number: no input here has named dims"
    if len(ins) == 1:
        inside = next((d for d in x.shape if isinstance(d, Dim) and e in d.symbols()), None)
        if inside is None:
            return base
        return (f"{base}; {e} is inside {inside} here: read it from a tensor that has {e} as a dim, as a second "
                "input (from: [this_value, that_tensor]), or a size derived from it by position there (like.size(i))")
    # each unknown name in turn takes the next dim of the second input that holds its symbol
    fixed: list[Any] = []
    used: set[int] = set()
    for w in written:
        if isinstance(w, str) and _read(w) is None and w not in named and w not in like:
            i = next((i for i, d in enumerate(ins[1].shape) if i not in used and isinstance(d, Dim)
                      and w in d.symbols()), None)
            if i is None:
                return base
            used.add(i)
            fixed.append(f"like.size({i})")
        else:
            fixed.append(w)
    sizes: list[DimLike | None] = []
    for f in fixed:
        entry = _entry_read(f, ins, "shape")
        sizes.append(entry[0] if entry is not None else None if f == -1 else sym(f) if isinstance(f, str) else f)
    try:
        _fill(product(x.shape), sizes, tuple(fixed), "shape", "", "shape", x.shape)
    except SpecError:
        return base
    return f"{e} is inside the second input's dims, not one of them: write shape: [{', '.join(map(str, fixed))}]"


@register
class Permute(LayerKind):
    may_alias = True
    form = "inline"
    type_name, Params = "Permute", PermuteParams
    accepts = "any"
    summary = "reorder dims (batch dim included), e.g. dims: [0, 2, 1]"

    def infer(self, p: PermuteParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        dims = [d % x.rank if -x.rank <= d < x.rank else None for d in p.dims]
        if len(dims) != x.rank or sorted(d for d in dims if d is not None) != list(range(x.rank)):
            example = ", ".join(str(i) for i in [0, *range(x.rank - 1, 0, -1)])
            raise SpecError("S008", f"dims {list(p.dims)} is not a permutation of the {x.rank} dims of {x}",
                            f"list each of 0..{x.rank - 1} exactly once, e.g. dims: [{example}]", field="dims")
        shape = tuple(x.shape[d] for d in dims if d is not None)
        notes = {i: x.notes[d] for i, d in enumerate(dims) if d in x.notes}
        # written non-negative: the TorchScript exporter copies a negative dim into ONNX's perm,
        # which ONNX Runtime refuses to load
        return LayerResult(TensorType(shape, x.dtype, notes), {"dims": tuple(d % x.rank for d in p.dims)}, 0, 0)



@register
class Transpose(LayerKind):
    may_alias = True
    form = "inline"
    type_name, Params = "Transpose", TransposeParams
    accepts = "any"
    summary = "swap two dims, e.g. dim0: 1, dim1: 2"

    def infer(self, p: TransposeParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        a, b = axis(p.dim0, x.rank, "dim0"), axis(p.dim1, x.rank, "dim1")
        shape = list(x.shape)
        shape[a], shape[b] = shape[b], shape[a]
        swap = {a: b, b: a}
        notes = {swap.get(i, i): n for i, n in x.notes.items()}
        return LayerResult(TensorType(tuple(shape), x.dtype, notes), {"dim0": p.dim0, "dim1": p.dim1}, 0, 0)



@register
class Squeeze(LayerKind):
    may_alias = True
    form = "inline"
    """Remove size-1 dims.

    PyTorch silently keeps a dim whose size is not 1, which would leave the rank unknown
    to every later layer; specc requires each squeezed dim to be a fixed 1, and without
    ``dim`` squeezes exactly the dims that are 1 in the spec (never a batch dim that
    happens to be 1 at run time).
    """

    type_name, Params = "Squeeze", SqueezeParams
    accepts = "any"
    summary = "remove size-1 dims (dim: one dim or a list; default every fixed size-1 dim)"

    def infer(self, p: SqueezeParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        ones = [i for i, d in enumerate(x.shape) if d == 1]
        if p.dim is None:
            if not ones:
                raise SpecError("S008", f"the input {x} has no dim of size 1 to squeeze",
                                "remove the Squeeze, or Reshape instead")
            dims = tuple(ones)
        else:
            given = (p.dim,) if isinstance(p.dim, int) else p.dim
            dims = tuple(sorted({axis(d, x.rank) for d in given}))
            for d in dims:
                if x.shape[d] != 1:
                    size = x.shape[d]
                    raise SpecError("S008", f"dim {d} of the input {x} has size {size}, not 1"
                                    + ("" if isinstance(size, int) else " (specc cannot know it is 1)"),
                                    f"squeeze a size-1 dim: dim: {ones[0] if len(ones) == 1 else ones}"
                                    if ones else "the input has no size-1 dim; remove the Squeeze", field="dim")
        shape = tuple(d for i, d in enumerate(x.shape) if i not in dims)
        out_dim: int | tuple[int, ...] = dims[0] if len(dims) == 1 else dims
        return LayerResult(TensorType(shape, x.dtype), {"dim": out_dim}, 0, 0)



@register
class Unsqueeze(LayerKind):
    may_alias = True
    form = "inline"
    type_name, Params = "Unsqueeze", UnsqueezeParams
    accepts = "any"
    summary = "insert a size-1 dim at dim"

    def infer(self, p: UnsqueezeParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        d = axis(p.dim, x.rank + 1)
        shape = (*x.shape[:d], 1, *x.shape[d:])
        notes = {(i + 1 if i >= d else i): n for i, n in x.notes.items()}
        return LayerResult(TensorType(shape, x.dtype, notes), {"dim": p.dim}, 0, 0)




class SliceParams(LayerParams):
    dim: int = Field(validation_alias=AliasChoices("dim", "axis"))
    start: int = 0
    stop: int | None = Field(None, description="null: to the end of the dim")
    step: PositiveInt = 1


def _slice_length(size: DimLike, p: SliceParams, x: TensorType) -> DimLike:
    """Elements ``x[start:stop:step]`` keeps along a dim of ``size``, checked like an index.

    Unlike Python, an index beyond the dim is an error rather than clamped, so that the
    length is what the spec says for every size a symbolic dim takes.
    """
    where = f"dim {p.dim} of {x}"
    if isinstance(size, int):
        if not -size <= p.start < size:
            raise SpecError("S008", f"start {p.start} is out of range for {where} (size {size})",
                            f"use a start from {-size} to {size - 1}", field="start")
        if p.stop is not None and not -size <= p.stop <= size:
            raise SpecError("S008", f"stop {p.stop} is beyond {where} (size {size})",
                            f"use a stop from {-size} to {size}, or stop: null to slice to the end", field="stop")
        first = p.start % size
        end = size if p.stop is None else p.stop % size if p.stop < 0 else p.stop
        if end <= first:
            raise SpecError("S002", f"the slice {p.start}:{'' if p.stop is None else p.stop} of {where} (size "
                            f"{size}) would be empty: it starts at {first} and stops at {end}",
                            f"use a stop after {first} (up to {size}, or null for the end), or a smaller start",
                            field="stop")
        return -(-(end - first) // p.step)
    # A symbolic size (assumed at least as long as the indices reach): the length is a
    # formula in it, x[:, 1:-1] is T - 2 and x[:, -3:] is 3.
    if p.stop is None:
        span: DimLike = add(size, -p.start) if p.start >= 0 else -p.start
    elif p.start >= 0 > p.stop:
        span = add(size, p.stop - p.start)
    elif (p.start >= 0) == (p.stop >= 0):
        span = p.stop - p.start
        if span <= 0:
            hint = (f"use a stop of {p.start + 1} or more, or stop: null for the end" if p.start >= 0 else
                    f"use a stop from {p.start + 1} to -1, or stop: null for the end" if p.start < -1 else
                    "use stop: null (start -1 is the last element)")
            raise SpecError("S002", f"the slice {p.start}:{p.stop} of {where} would be empty", hint, field="stop")
    else:
        # From the end to the front: longer dims give shorter slices, and most give none.
        syms = ", ".join(sorted(size.symbols()))
        raise SpecError("S005", f"start {p.start} counts from the end and stop {p.stop} from the front of {where}, "
                        f"whose size {size} is not fixed, so the slice's length would depend on {syms}",
                        "count both from the same end (both ≥ 0 or both negative), use stop: null for the end, "
                        f"or give {syms} a fixed size in inputs:", field="stop")
    return ceildiv(span, p.step) if p.step > 1 else span


def _slice_requires(size: DimLike, p: SliceParams) -> list[Requirement]:
    """A symbolic dim must reach every index the slice names (the formula for its length
    assumes so; PyTorch would clamp and return a different length)."""
    reach = max((i + 1 if i >= 0 else -i) for i in (p.start, p.stop if p.stop is not None else 0))
    if p.stop is not None and p.stop >= 0:
        reach = max(reach, p.stop)
    return require(size, reach, f"the slice {p.start}:{'' if p.stop is None else p.stop} along dim {p.dim}",
                   "stop" if p.stop is not None else "start") if not isinstance(size, int) else []


@register
class Slice(LayerKind):
    may_alias = True
    form = "inline"
    """``x[:, start:stop:step]`` along ``dim`` (the dim stays, shortened).  A node has one
    output, so a split into halves is two Slices reading the same tensor: GLU's
    ``Slice stop: H`` and ``Slice start: H``, or ShuffleNetV2's channel split."""

    type_name, Params = "Slice", SliceParams
    accepts = "any"
    summary = "x[:, start:stop:step] along dim; negative indices count from the end, stop: null is the end"

    def infer(self, p: SliceParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        d = axis(p.dim, x.rank)
        length = _slice_length(x.shape[d], p, x)
        shape = (*x.shape[:d], length, *x.shape[d + 1:])
        notes = {i: why for i, why in x.notes.items() if i != d}
        return LayerResult(TensorType(shape, x.dtype, notes),
                           {"dim": d, "start": p.start, "stop": p.stop, "step": p.step}, 0, 0,
                           requires=_slice_requires(x.shape[d], p))



class RollParams(LayerParams):
    shifts: int | tuple[int, ...]
    dims: int | tuple[int, ...]


@register
class Roll(LayerKind):
    """``torch.roll(x, shifts, dims)``: each dim's elements move ``shift`` places along it, those
    pushed past the end coming back at the front (a negative shift moves them towards the front).
    Swin's shifted windows roll the map by -window/2 along H and W before attention and by
    +window/2 after. A symbolic dim must be at least as long as its shift (PyTorch wraps a longer
    shift around, which the exported slices would not), a fixed one takes any shift."""

    type_name, Params = "Roll", RollParams
    accepts = "any"
    form = "inline"
    summary = "shift elements along dims (shifts, dims: one each, or lists), wrapping around: a roll (Swin)"

    def infer(self, p: RollParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        shifts = (p.shifts,) if isinstance(p.shifts, int) else tuple(p.shifts)
        dims = (p.dims,) if isinstance(p.dims, int) else tuple(p.dims)
        if len(shifts) != len(dims):
            raise SpecError("V003", f"shifts has {len(shifts)} values and dims {len(dims)}, but a roll pairs them",
                            "give one shift per dim, e.g. shifts: [-2, -2] with dims: [1, 2]", field="shifts")
        out_dims: list[int] = []
        out_shifts: list[int] = []
        requires: list[Requirement] = []
        for shift, dim in zip(shifts, dims):
            d = axis(dim, x.rank, "dims")
            if d in out_dims:
                raise SpecError("V003", f"dims names dim {d} twice", "give each dim once, with the sum of its shifts",
                                field="dims")
            size = x.shape[d]
            if isinstance(size, int):
                shift = shift % size  # as PyTorch: a shift of the dim's size is none
            else:
                requires += require(size, abs(shift), f"the roll by {shift} along dim {dim}", "shifts")
            out_dims.append(d)
            out_shifts.append(shift)
        args = {"shifts": out_shifts, "dims": out_dims}
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), args, 0, 0, requires=requires)


# -- one tensor into several ---------------------------------------------------------------------

class SplitParams(LayerParams):
    sizes: list[PositiveInt] | None = Field(None, description="the size of each part, in order")
    size: PositiveInt | None = Field(None, description="every part this size (it must divide the dim)")
    dim: int = 1
    names: list[str] | None = Field(None, description="names to read the parts by: split.left")

    @model_validator(mode="after")
    def _one_way(self) -> "SplitParams":
        if (self.sizes is None) == (self.size is None):
            raise ValueError("give either sizes: [a, b, ...] (one size per part) or size: n (parts of n each)")
        return self


class ChunkParams(LayerParams):
    chunks: PositiveInt
    dim: int = 1
    names: list[str] | None = Field(None, description="names to read the parts by: chunk.left")


class _Split(LayerKind):
    """Several outputs, read by later layers and ``outputs:`` as ``<layer>.0``, ``<layer>.1``, …
    or by the names in ``names:``.  The split dim must be fixed: how many parts there are, and
    their sizes, are part of the graph."""

    may_alias = True  # the parts are views of the input
    form = "inline"
    accepts = "any"

    def parts(self, p: Any, n: int, where: str) -> list[int]:
        raise NotImplementedError

    def infer(self, p: Any, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        d = axis(p.dim, x.rank)
        n = static(x.shape[d], f"the size of dim {p.dim} that {self.type_name} splits", "dim")
        parts = self.parts(p, n, f"dim {p.dim} of {x}")
        if p.names is not None:
            _check_part_names(p.names, len(parts))
        outs = tuple(TensorType((*x.shape[:d], k, *x.shape[d + 1:]), x.dtype,
                                {i: why for i, why in x.notes.items() if i != d}) for k in parts)
        return LayerResult(outs[0], self.args(p, d), 0, 0, outs=outs, out_names=tuple(p.names or ()))

    def args(self, p: Any, d: int) -> dict[str, Any]:
        raise NotImplementedError


def _check_part_names(names: list[str], count: int) -> None:
    """Names are read only in ``from:`` (``split.left``), never written into generated code: they
    must be plain names, unlike the indices, and each its own."""
    if len(names) != count:
        raise SpecError("V003", f"names: lists {len(names)} names but the layer has {count} outputs",
                        f"give one name per output ({count})", field="names")
    for i, name in enumerate(names):
        if not name.isidentifier():
            raise SpecError("V006", f"output name {name!r} is not a plain name (letters, digits and _, not "
                            "starting with a digit)", f"e.g. part{i}", field="names")
        if name in names[:i]:
            raise SpecError("V007", f"names: lists '{name}' twice", "give every output its own name",
                            field="names")


@register
class Split(_Split):
    type_name, Params = "Split", SplitParams
    summary = "split dim into parts of sizes: [a, b, ...] (or of size: n each); read them as split.0, split.1"

    def parts(self, p: SplitParams, n: int, where: str) -> list[int]:
        if p.sizes is not None:
            if sum(p.sizes) != n:
                rest = n - sum(p.sizes[:-1])
                fix = (f"sizes: {_written((*p.sizes[:-1], rest))}" if rest > 0 else
                       f"sizes that add up to {n}")
                raise SpecError("S016", f"sizes {_written(tuple(p.sizes))} add up to {sum(p.sizes)}, but {where} "
                                f"has {n}", f"use {fix}", field="sizes")
            return list(p.sizes)
        if n % p.size:
            fit = _near_divisors(n, p.size, 6)
            raise SpecError("S016", f"size {p.size} does not divide {where} (size {n}) into equal parts",
                            f"use a size that divides {n} ({fit}), or sizes: "
                            f"{_written((*(p.size,) * (n // p.size), n % p.size))} to keep the remainder",
                            field="size")
        return [p.size] * (n // p.size)

    def args(self, p: SplitParams, d: int) -> dict[str, Any]:
        return {"split_size_or_sections": list(p.sizes) if p.sizes is not None else p.size, "dim": d}


@register
class Chunk(_Split):
    type_name, Params = "Chunk", ChunkParams
    summary = "split dim into chunks: n equal parts; read them as chunk.0, chunk.1"

    def parts(self, p: ChunkParams, n: int, where: str) -> list[int]:
        if n % p.chunks:
            # a framework's chunk returns parts of ceil(n / chunks), and fewer of them than asked
            fit = _near_divisors(n, p.chunks, 6)
            size = -(-n // p.chunks)
            uneven = [size] * (n // size) + ([n % size] if n % size else [])
            raise SpecError("S016", f"chunks: {p.chunks} does not divide {where} (size {n}) into equal parts",
                            f"use a number of chunks that divides {n} ({fit}), or, for the uneven parts a chunk "
                            f"of PyTorch's gives, a Split in its place: {{type: Split, sizes: {uneven}, dim: {p.dim}}}",
                            field="chunks")
        return [n // p.chunks] * p.chunks

    def args(self, p: ChunkParams, d: int) -> dict[str, Any]:
        return {"chunks": p.chunks, "dim": d}


class CastParams(LayerParams):
    dtype: Literal[DTYPES]  # type: ignore[valid-type]


@register
class Cast(LayerKind):
    may_alias = True  # a cast to the dtype it already has returns the input itself
    form = "inline"
    type_name, Params = "Cast", CastParams
    accepts = "any"
    summary = "convert to dtype (float32, float16, bfloat16, int64, int32, bool, ...); the shape is kept"

    def infer(self, p: CastParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        return LayerResult(TensorType(x.shape, p.dtype, x.notes), {"dtype": p.dtype}, 0, 0)


# -- repeating ------------------------------------------------------------------------------------------------

class RepeatParams(LayerParams):
    repeats: list[PositiveInt] = Field(min_length=1, description="how many copies along each dim, batch dim "
                                       "first; more entries than dims add leading dims, as in PyTorch")


class RepeatVectorParams(LayerParams):
    n: PositiveInt = Field(description="how many steps of the sequence")


@register
class Repeat(LayerKind):
    """Tile the tensor: dim i is repeated repeats[i] times (PyTorch's x.repeat, NumPy's tile,
    ONNX Tile)."""

    form = "inline"
    type_name, Params = "Repeat", RepeatParams
    aliases = ("Tile",)
    accepts = "any"
    summary = "tile: dim i repeated repeats[i] times (x.repeat(...), numpy tile); [1, T, 1] copies a sequence T times"

    def infer(self, p: RepeatParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if len(p.repeats) < x.rank:
            raise SpecError("V003", f"repeats {p.repeats} has {len(p.repeats)} entries for the {x.rank} dims of {x}",
                            f"give one per dim, batch dim first: {[1] * (x.rank - len(p.repeats)) + p.repeats}",
                            field="repeats")
        extra = len(p.repeats) - x.rank
        shape = (*p.repeats[:extra], *(mul(d, r) for d, r in zip(x.shape, p.repeats[extra:])))
        notes = {i + extra: n for i, n in x.notes.items()}
        return LayerResult(TensorType(shape, x.dtype, notes), {"repeats": list(p.repeats)}, 0, 0)


@register
class RepeatVector(LayerKind):
    """Keras' RepeatVector: (B, F) -> (B, n, F), the same vector at each of n steps (the
    decoder's input of an LSTM autoencoder)."""

    form = "inline"
    type_name, Params = "RepeatVector", RepeatVectorParams
    ranks, layout = (2,), "(B, features)"
    accepts = "any"
    summary = "(B, F) -> (B, n, F): the vector repeated at n steps (Keras RepeatVector, LSTM autoencoders)"

    def infer(self, p: RepeatVectorParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        return LayerResult(TensorType((x.shape[0], p.n, x.shape[1]), x.dtype), {"n": p.n}, 0, 0)


# -- moving channels into space and back ---------------------------------------------------------------

class PixelShuffleParams(LayerParams):
    upscale_factor: PositiveInt = Field(validation_alias=AliasChoices("upscale_factor", "block_size"))


class PixelUnshuffleParams(LayerParams):
    downscale_factor: PositiveInt = Field(validation_alias=AliasChoices("downscale_factor", "block_size"))


def _multiple(size: DimLike, r: int, what: str, by: str, fix: str, field: str, fixes_symbols: bool) -> DimLike:
    """``size / r``, which must be a whole number at every size the symbols take (``by`` names
    ``r`` in the message; ``fix`` is how to get a multiple of ``r``, also for a symbolic size
    when ``fixes_symbols``)."""
    q = exact_div(size, r)
    if q is not None:
        return q
    if isinstance(size, int):
        lower = size // r * r
        near = " or ".join(str(s) for s in (lower, lower + r) if s > 0)
        raise SpecError("S004", f"the {what} {size} is not divisible by {by}",
                        f"{fix} to a multiple of {r} ({near})", field=field)
    syms = ", ".join(sorted(size.symbols()))
    raise SpecError("S005", f"the {what} {size} must be a multiple of {by} at every size, which a symbolic size "
                    f"cannot promise (it depends on {syms})",
                    f"give {syms} a fixed size in inputs: that {r} divides" +
                    (f", or {fix} to a multiple of {r}" if fixes_symbols else ""), field=field)


@register
class PixelShuffle(LayerKind):
    """(N, C·r², H, W) -> (N, C, H·r, W·r): each group of r² channels becomes an r x r block of
    pixels (sub-pixel convolution, ESPCN; TensorFlow's depth_to_space)."""

    type_name, Params = "PixelShuffle", PixelShuffleParams
    aliases = ("DepthToSpace",)
    ranks, layout = (4,), "(N, C, H, W)"
    accepts = "any"
    summary = "(N, C·r², H, W) -> (N, C, H·r, W·r): channels into r x r blocks of pixels (sub-pixel upsampling)"

    def infer(self, p: PixelShuffleParams, ins: list[TensorType]) -> LayerResult:
        x, r = ins[0], p.upscale_factor
        c = _multiple(x.shape[1], r * r, "channel count", f"upscale_factor² = {r * r}",
                      "set out_channels of the layer before it", "upscale_factor", True)
        shape = (x.shape[0], c, mul(x.shape[2], r), mul(x.shape[3], r))
        return LayerResult(TensorType(shape, x.dtype), {"upscale_factor": r}, 0, 0)


@register
class PixelUnshuffle(LayerKind):
    """(N, C, H·r, W·r) -> (N, C·r², H, W): each r x r block of pixels becomes r² channels
    (TensorFlow's space_to_depth)."""

    type_name, Params = "PixelUnshuffle", PixelUnshuffleParams
    aliases = ("SpaceToDepth",)
    ranks, layout = (4,), "(N, C, H, W)"
    accepts = "any"
    summary = "(N, C, H·r, W·r) -> (N, C·r², H, W): r x r blocks of pixels into channels"

    def infer(self, p: PixelUnshuffleParams, ins: list[TensorType]) -> LayerResult:
        x, r = ins[0], p.downscale_factor
        by = f"downscale_factor {r}"
        h = _multiple(x.shape[2], r, "height", by, "crop or pad the height (a Slice, or padding on a conv)",
                      "downscale_factor", False)
        w = _multiple(x.shape[3], r, "width", by, "crop or pad the width (a Slice, or padding on a conv)",
                      "downscale_factor", False)
        shape = (x.shape[0], mul(x.shape[1], r * r), h, w)
        return LayerResult(TensorType(shape, x.dtype), {"downscale_factor": r}, 0, 0)


class TriangleParams(LayerParams):
    offset: int = Field(-1, examples=[-1])


@register
class Triangle(LayerKind):
    """The entries of the lower triangle of the last two dims, row by row, in one dim: x[..., i, j] for
    j <= i + offset, in the order of torch.tril_indices(rows, cols, offset). DLRM's dot interaction
    (Naumov et al. 2019) keeps the strictly lower triangle (offset: -1) of the (F, F) products of its
    feature vectors, each pair once and no feature with itself; offset: 0 keeps the diagonal too
    (DLRM's arch-interaction-itself). The rows and columns are fixed sizes: the triangle's length is."""

    type_name, Params = "Triangle", TriangleParams
    accepts = "any"
    summary = ("x[..., i, j] for j <= i + offset, row by row: (..., n, n) -> (..., pairs), the lower triangle "
               "(DLRM's dot interaction: offset -1, each pair once)")

    def infer(self, p: TriangleParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.rank < 3:
            raise SpecError("S003", f"Triangle reads a matrix per sample (B, n, n), but its input is {x}",
                            "give it the (B, F, F) products of F vectors: - {type: MatMul, from: [v, v_t]}")
        rows = static(x.shape[-2], "the rows of the matrix Triangle reads", "offset")
        cols = static(x.shape[-1], "the columns of the matrix Triangle reads", "offset")
        count = sum(max(0, min(cols, i + p.offset + 1)) for i in range(rows))
        if count == 0:
            raise SpecError("V003", f"offset: {p.offset} keeps no entry of a ({rows}, {cols}) matrix",
                            "set offset: -1 (below the diagonal) or offset: 0 (with it)", field="offset")
        return LayerResult(TensorType((*x.shape[:-2], count), x.dtype),
                           {"rows": rows, "cols": cols, "offset": p.offset}, 0, 0)
