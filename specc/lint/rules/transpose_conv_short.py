"""L026 transposed-conv-one-short: a decoder returns a map smaller than its input because a
ConvTranspose falls short of multiplying its size by the stride.

What it does
    An output has the rank of an input of fixed size and is smaller than it along a spatial dim,
    and a ConvTranspose on the way there makes fewer than stride × its input (13 from 7 at
    stride 2) where an output_padding below the stride would make exactly that: kernel 3,
    stride 2, padding 1 gives 2n - 1, the usual mirror of a stride-2 conv that halved the size.

Why is this bad
    The model checks and runs, but a 28x28 autoencoder gives back 25x25: a reconstruction loss
    against the input (or a mask of its size) fails at run time, and a generator makes images of
    the wrong size for its discriminator.

Example
    inputs:
      image: [B, 1, 28, 28]
    layers:
      - {type: Conv2d, out_channels: 16, kernel_size: 3, stride: 2, padding: 1}
      - {type: ReLU}
      - {type: ConvTranspose2d, out_channels: 1, kernel_size: 3, stride: 2, padding: 1}

Use instead
    Set output_padding on each ConvTranspose that falls short (output_padding: 1 for kernel 3,
    stride 2, padding 1), or use kernel_size: 4 with padding: 1, which doubles exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg
from .output_size_drift import AXES  # the spatial dims of an image-to-image output, by rank

CODE = "L026"


def _ancestors(step: Leaf) -> list[Leaf]:
    """Every leaf the output depends on, nearest first."""
    seen: dict[int, Leaf] = {}
    todo = [step]
    while todo:
        leaf = todo.pop(0)
        if id(leaf) in seen:
            continue
        seen[id(leaf)] = leaf
        todo += [i for i in leaf.inputs if isinstance(i, Leaf)]
    return list(seen.values())


def _per_axis(value: object, n: int) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def _short(leaf: Leaf, axis: int) -> tuple[int, int] | None:
    """(made, wanted) for a ConvTranspose that makes fewer than stride × its input along
    ``axis`` (a dim of its output), where a larger output_padding below the stride makes
    exactly that; None otherwise."""
    if not leaf.type.startswith("ConvTranspose") or leaf.out is None or not isinstance(leaf.source, Leaf):
        return None
    src = leaf.source.out
    if src is None or src.rank != leaf.out.rank:
        return None
    n = leaf.out.rank - 2
    k = axis - 2
    stride, dilation = _per_axis(arg(leaf, "stride", 1), n)[k], _per_axis(arg(leaf, "dilation", 1), n)[k]
    pad_out = _per_axis(arg(leaf, "output_padding", 0), n)[k]
    made, given = leaf.out.shape[axis], src.shape[axis]
    if not all(isinstance(v, int) for v in (stride, dilation, pad_out, made, given)):
        return None
    wanted = stride * given  # type: ignore[operator]
    more = wanted - made  # type: ignore[operator]
    if stride < 2 or more < 1 or pad_out + more >= max(stride, dilation):  # type: ignore[operator]
        return None
    return made, wanted  # type: ignore[return-value]


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    inputs = list(ctx.graph.inputs.items())
    for name, step in ctx.view.outputs:
        if isinstance(step, str) or step.node.out is None:
            continue
        out = step.node.out
        before = _ancestors(step)
        read = {i for leaf in before for i in leaf.inputs if isinstance(i, str)}  # the inputs it is made from
        source = next(((n, t) for n, t in inputs if n in read and t.rank == out.rank and out.rank in AXES), None)
        if source is None:
            continue
        for axis, what in enumerate(AXES[out.rank], start=2):
            size, given = out.shape[axis], source[1].shape[axis]
            if not isinstance(size, int) or not isinstance(given, int) or size >= given:
                continue
            short = [(leaf, found) for leaf in reversed(before) if (found := _short(leaf, axis))]
            if not short:
                continue
            first = short[0][0]
            made = " and ".join(f"'{leaf.node.path}' makes {a} from {b // _stride(leaf, axis)}"
                                for leaf, (a, b) in short)
            fix = " and ".join(f"output_padding: {_pad(leaf, axis) + b - a} on '{leaf.node.path}'"
                               for leaf, (a, b) in short)
            doubling = all(_stride(leaf, axis) == 2 for leaf, _ in short)
            yield ctx.warning(
                CODE, first,
                f"output '{name}' has {what} {size}, smaller than the {given} of input '{source[0]}': {made}, "
                f"{'each ' if len(short) > 1 else ''}short of its stride times its input",
                f"set {fix}, so that {'each' if len(short) > 1 else 'it'} multiplies its size by its stride"
                + (" (or use kernel_size: 4, padding: 1, which doubles exactly)" if doubling else ""),
                field="output_padding" if "output_padding" in first.node.field_locs else None)
            break  # one warning per output: the other axes follow the same layers


def _stride(leaf: Leaf, axis: int) -> int:
    n = leaf.out.rank - 2 if leaf.out is not None else 1
    return int(_per_axis(arg(leaf, "stride", 1), n)[axis - 2])  # type: ignore[call-overload]


def _pad(leaf: Leaf, axis: int) -> int:
    n = leaf.out.rank - 2 if leaf.out is not None else 1
    return int(_per_axis(arg(leaf, "output_padding", 0), n)[axis - 2])  # type: ignore[call-overload]
