"""The layer to blame when a merge's inputs differ by a fixed number of positions.

An Add or Concat whose branches differ by the same count at every size (an ASPP branch with
dilation 6 and padding 1 is 10 smaller; an SPPF pool of 5 with padding 1 is 2 smaller) is
reported at the merge by the layer's own rule, which sees only the two shapes.  The mistake is
a window layer on one branch, at stride 1, whose padding does not keep the size: when exactly
one layer on the branches explains the whole difference, the error belongs on that layer's
padding, with the value that keeps the size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..layers.base import ntuple
from ..shapes.dims import DimLike, add, mul
from ..shapes.tensor import TensorType
from .ir import Graph, Node, producer

MERGES = frozenset({"Add", "Mul", "Sub", "Div", "Max", "Min", "Concat"})
PAD = re.compile(r"(Zero|Constant|Reflection|Replication)Pad[123]d")
WINDOWS = ("Conv1d", "Conv2d", "Conv3d", "DepthwiseConv1d", "DepthwiseConv2d", "MaxPool1d", "MaxPool2d",
           "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d")


@dataclass(frozen=True)
class Culprit:
    node: Node
    message: str
    hint: str
    field: str = "padding"  # the key the error is located at, where the spec writes it


def _offsets(a: TensorType, b: TensorType, skip: int | None = None) -> list[int] | None:
    """a - b dim by dim (0 at ``skip``) when every difference is a fixed number, else None."""
    if a.rank != b.rank:
        return None
    out = []
    for i, (x, y) in enumerate(zip(a.shape, b.shape)):
        gap: DimLike = 0 if i == skip else add(x, mul(y, -1))
        if not isinstance(gap, int):
            return None
        out.append(gap)
    return out


def _ancestors(g: Graph, ref: str) -> set[str]:
    seen: set[str] = set()
    todo = [producer(ref)]
    while todo:
        name = todo.pop()
        n = g.node(name)
        if name in seen or n is None:
            continue
        seen.add(name)
        todo.extend(producer(r) for r in n.inputs)
    return seen


def _change(g: Graph, n: Node) -> list[int] | None:
    """out - in per spatial dim of a window layer at stride 1, or None for any other layer."""
    if n.type not in WINDOWS or n.sub is not None or n.out is None or len(n.inputs) != 1:
        return None
    x = g.value(n.inputs[0])
    if x is None or x.rank != n.out.rank or x.rank < 3:
        return None
    gaps = _offsets(n.out, x)
    if gaps is None:
        return None
    r = x.rank - 2
    stride = getattr(n.params, "stride", 1)
    if ntuple(n.params.kernel_size if stride is None else stride, r, "stride") != (1,) * r:
        return None
    return gaps[2:]


def _keeping_padding(n: Node, r: int) -> str | None:
    """The padding that keeps the size at stride 1, as the spec writes it; None when symmetric
    padding cannot (an even window), except a conv's padding: same."""
    p = n.params
    k = ntuple(p.kernel_size, r, "kernel_size")
    d = ntuple(getattr(p, "dilation", 1), r, "dilation")
    spans = [di * (ki - 1) for ki, di in zip(k, d)]
    if any(s % 2 for s in spans):
        return "same" if n.type.startswith(("Conv", "DepthwiseConv")) else None
    pads = [s // 2 for s in spans]
    if n.type.startswith(("MaxPool", "AvgPool")) and any(pi > ki // 2 for pi, ki in zip(pads, k)):
        return None  # PyTorch pads a pool by half its (undilated) kernel at most
    return str(pads[0]) if len(set(pads)) == 1 else "[" + ", ".join(map(str, pads)) + "]"


def _pad_culprit(g: Graph, merge: Node, ins: list[TensorType], j: int, gaps: list[int],
                 first: set[str], other: set[str]) -> Culprit | None:
    """The one pad layer on one branch that pads the only dim where ``merge``'s inputs 0 and ``j``
    differ, by too little or too much (ENet's channel pad of a pooled shortcut, 16 -> 63 for 64):
    its padding, with that dim's after-side changed by the difference, makes them meet."""
    if sum(1 for v in gaps if v) != 1:
        return None
    dim = next(i for i, v in enumerate(gaps) if v)
    found = []
    for side, own, rest in ((0, first - other, j), (j, other - first, 0)):
        for name in own:
            n = g.node(name)
            if n is None or n.sub is not None or not PAD.fullmatch(n.type) or n.out is None or len(n.inputs) != 1:
                continue
            x = g.value(n.inputs[0])
            padded = int(n.type[-2])  # the last 1, 2 or 3 dims
            if (x is None or x.rank != n.out.rank or n.out.rank != ins[0].rank or dim < n.out.rank - padded
                    or n.out.shape[dim] != ins[side].shape[dim]):  # its dim is the merge's (no Permute between)
                continue
            found.append((n, x, padded, side, rest))
    if len(found) != 1:
        return None
    n, x, padded, side, rest = found[0]
    pads = list(ntuple(n.params.padding, 2 * padded, "padding"))
    short = -gaps[dim] if side == 0 else gaps[dim]  # how much this branch lacks (negative: has too much)
    after = 2 * (n.out.rank - 1 - dim) + 1  # PyTorch's order: the last dim first, (before, after)
    if pads[after] + short < 0:
        return None
    pads[after] += short
    message = (f"{n.type} '{n.path}' pads {x} to {n.out}, so {merge.type} '{merge.path}' cannot join it with "
               f"'{merge.inputs[rest]}' {ins[rest]}: dim {dim} is {abs(short)} {'short' if short > 0 else 'over'}")
    return Culprit(n, message, f"set padding: [{', '.join(map(str, pads))}]")


def merge_culprit(g: Graph, merge: Node, ins: list[TensorType]) -> Culprit | None:
    """The one stride-1 window layer whose padding makes ``merge``'s inputs differ, if there is one;
    else the one pad layer that pads the dim where they differ."""
    if merge.type not in MERGES or len(ins) != len(merge.inputs):
        return None
    window = _window_culprit(g, merge, ins) or _transposed_culprit(g, merge, ins)
    if window is not None:
        return window
    for j in range(1, len(ins)):
        skip = getattr(merge.params, "dim", 1) % ins[0].rank if merge.type == "Concat" else None
        gaps = _offsets(ins[0], ins[j], skip)
        if gaps is not None and any(gaps):
            return _pad_culprit(g, merge, ins, j, gaps, _ancestors(g, merge.inputs[0]),
                                _ancestors(g, merge.inputs[j]))
    return None


def _window_culprit(g: Graph, merge: Node, ins: list[TensorType]) -> Culprit | None:
    for j in range(1, len(ins)):
        skip = getattr(merge.params, "dim", 1) % ins[0].rank if merge.type == "Concat" else None
        gaps = _offsets(ins[0], ins[j], skip)
        if gaps is None or not any(gaps):
            continue
        first, other = _ancestors(g, merge.inputs[0]), _ancestors(g, merge.inputs[j])
        found = []
        for side, own, rest in ((0, first - other, j), (j, other - first, 0)):
            for name in own:
                n = g.node(name)
                change = _change(g, n) if n is not None else None
                if n is not None and change is not None and any(change):
                    found.append((n, change, side, rest))
        if len(found) != 1:
            return None
        n, change, side, rest = found[0]
        # without the layer's change its branch would meet the other: the same numbers, signed
        # (the layer's spatial dims may sit elsewhere in the merge, after a Permute)
        if sorted(v for v in change if v) != sorted(v if side == 0 else -v for v in gaps if v):
            return None
        padding = _keeping_padding(n, len(change))
        if padding is None:
            return None
        x = g.value(n.inputs[0])
        grows = "grows" if change[0] > 0 or (not change[0] and max(change) > 0) else "shrinks"
        message = (f"{n.type} '{n.path}' {grows} its input {x} to {n.out} at stride 1, so {merge.type} "
                   f"'{merge.path}' cannot join it with '{merge.inputs[rest]}' {ins[rest]}")
        hint = (f"set padding: {padding} (dilation·(kernel_size - 1)/2 on each side keeps the size at stride 1)"
                if padding != "same" else
                "set padding: same (an even window cannot pad both sides alike; PyTorch pads the extra one after)")
        return Culprit(n, message, hint)
    return None


TRANSPOSED = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")


def _transposed_culprit(g: Graph, merge: Node, ins: list[TensorType]) -> Culprit | None:
    """The one transposed convolution on one branch whose output is short of the other branch's
    size by less than its stride: ConvTranspose2d(kernel 3, stride 2, padding 1) gives 2H - 1, and
    the U-Net skip it meets is 2H. PyTorch's output_padding adds those rows and columns on one side
    (the documented fix); a zero pad after it would shift the map against the skip."""
    for j in range(1, len(ins)):
        skip = getattr(merge.params, "dim", 1) % ins[0].rank if merge.type == "Concat" else None
        gaps = _offsets(ins[0], ins[j], skip)
        if gaps is None or not any(gaps) or any(gaps[:2]):
            continue
        first, other = _ancestors(g, merge.inputs[0]), _ancestors(g, merge.inputs[j])
        found = []
        for side, own, rest in ((0, first - other, j), (j, other - first, 0)):
            short = [-v if side == 0 else v for v in gaps[2:]]  # what this branch lacks, per spatial dim
            for name in own:
                n = g.node(name)
                if n is None or n.sub is not None or n.type not in TRANSPOSED or n.out is None or \
                        n.out.rank != ins[side].rank or n.out.shape[2:] != ins[side].shape[2:]:
                    continue
                found.append((n, short, side, rest))
        if len(found) != 1:
            return None
        n, short, side, rest = found[0]
        r = len(short)
        stride = ntuple(n.params.stride, r, "stride")
        dilation = ntuple(n.params.dilation, r, "dilation")
        have = ntuple(n.params.output_padding, r, "output_padding")
        want = [h + s for h, s in zip(have, short)]
        # PyTorch: output_padding must be smaller than the stride or the dilation
        if any(w < 0 for w in want) or any(w >= max(st, d) for w, st, d in zip(want, stride, dilation)):
            return None
        x = g.value(n.inputs[0])
        # the layer itself falls short of stride x its input (kernel 3, padding 1 gives 2H - 1); one that
        # doubles exactly met an odd size floored by a pool, where padding the map is the U-Net way
        if x is None or any(v > 0 and not (isinstance(o, int) and isinstance(i, int) and o < st * i)
                            for v, o, i, st in zip(short, n.out.shape[2:], x.shape[2:], stride)):
            return None
        value = str(want[0]) if len(set(want)) == 1 else "[" + ", ".join(map(str, want)) + "]"
        message = (f"{n.type} '{n.path}' gives {n.out} from {x}, {'short of' if max(short) > 0 else 'past'} "
                   f"the size it meets, so {merge.type} '{merge.path}' cannot join it with '{merge.inputs[rest]}' "
                   f"{ins[rest]}")
        return Culprit(n, message, f"set output_padding: {value} (the rows and columns a stride of "
                       f"{max(stride)} leaves undetermined, added on one side, as PyTorch documents)",
                       "output_padding")
    return None
